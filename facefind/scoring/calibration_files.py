"""Calibration files: the JSON a calibration is written as, the operator's file in the data
folder and the one shipped in the package, and which of them a model pack loads."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from facefind.scoring.calibration import Calibration, Curves, Tail, ascending

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_NUMBER_LIST = re.compile(r"\[((?:\s*-?[0-9][0-9.e+-]*,?)+)\s*\]")


def calibration_to_dict(cal: Calibration) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "model": cal.model,
        "recognizer_sha256": cal.recognizer_sha256,
        "detector_sha256": cal.detector_sha256,
        "recipe": cal.recipe,
        "fusion": cal.fusion,
        "source": cal.source,
        "created": cal.created,
        "floor": round(cal.floor, 4),
        "relatives": float(f"{cal.relatives:.4g}"),
        "notes": list(cal.notes),
        "references": {
            str(k): {
                "impostor": {
                    "comparisons": c.comparisons,
                    "similarity": [round(s, 4) for s in c.fmr_similarity],
                    "fmr": [float(f"{f:.4g}") for f in c.fmr],
                    "tail": {
                        "start": round(c.tail.start, 4),
                        "strangers_rate": float(f"{c.tail.strangers_rate:.4g}"),
                        "strangers_scale": float(f"{c.tail.strangers_scale:.4g}"),
                        "exceedances": c.tail.exceedances,
                    },
                },
                "genuine": {
                    "probes": c.probes,
                    "people": c.people,
                    "similarity": [round(s, 4) for s in c.found_similarity],
                    "found": [round(f, 5) for f in c.found],
                },
            }
            for k, c in sorted(cal.curves.items())
        },
    }


def calibration_from_dict(data: Mapping[str, Any]) -> Calibration:
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported calibration format {data.get('format')!r}")
    curves: dict[int, Curves] = {}
    for key, entry in data["references"].items():
        imp, gen, tail = entry["impostor"], entry["genuine"], entry["impostor"]["tail"]
        curves[int(key)] = Curves(
            references=int(key),
            comparisons=int(imp["comparisons"]),
            fmr_similarity=ascending(imp["similarity"]),
            fmr=tuple(float(v) for v in imp["fmr"]),
            tail=Tail(
                start=float(tail["start"]),
                strangers_rate=float(tail["strangers_rate"]),
                strangers_scale=float(tail["strangers_scale"]),
                exceedances=int(tail["exceedances"]),
            ),
            probes=int(gen["probes"]),
            people=int(gen["people"]),
            found_similarity=ascending(gen["similarity"]) if gen["found"] else (),
            found=tuple(float(v) for v in gen["found"]),
        )
    if 1 not in curves:
        raise ValueError("a calibration needs the curves for one reference")
    return Calibration(
        model=str(data["model"]),
        recognizer_sha256=str(data["recognizer_sha256"]),
        detector_sha256=str(data.get("detector_sha256", "")),
        recipe=str(data["recipe"]),
        fusion=str(data["fusion"]),
        source=str(data["source"]),
        created=str(data["created"]),
        floor=float(data["floor"]),
        relatives=float(data["relatives"]),
        notes=tuple(str(n) for n in data.get("notes", ())),
        curves=curves,
    )


def save_calibration(cal: Calibration, path: Path) -> None:
    """Write the calibration as JSON (curves and metadata only: no embeddings, no names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(calibration_to_dict(cal), indent=1, ensure_ascii=False)
    # One line per curve, not per number: the file stays readable and its diffs small.
    text = _NUMBER_LIST.sub(lambda m: "[" + ", ".join(m[1].split()).replace(",,", ",") + "]", text)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def read_calibration(path: Path) -> Calibration:
    return calibration_from_dict(json.loads(path.read_text(encoding="utf-8")))


def operator_calibration_path(data_dir: Path, model: str) -> Path:
    """Where `facefind eval --calibrate` writes, and where an operator's file wins."""
    return data_dir / "calibrations" / f"{model}.json"


def packaged_calibration_path(model: str) -> Any:
    """The calibration shipped in the package for a model pack (a Traversable)."""
    return resources.files("facefind") / "calibrations" / f"{model}.json"


def load_calibration(
    model: str,
    recognizer_sha256: str,
    data_dir: Path | None,
    *,
    recipe: str | None = None,
) -> Calibration | None:
    """The operator's calibration for this model (<data_dir>/calibrations/<model>.json), else
    the one shipped in the package; None when neither matches the model name and recognizer
    hash (and the embedding recipe, when given)."""
    candidates: list[tuple[str, Any]] = []
    if data_dir is not None:
        candidates.append(("operator", operator_calibration_path(data_dir, model)))
    if "/" not in model and "\\" not in model and not model.startswith("."):
        candidates.append(("package", packaged_calibration_path(model)))
    for origin, path in candidates:
        if not path.is_file():
            continue
        try:
            cal = calibration_from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring the %s calibration %s: %s", origin, path, exc)
            continue
        problems = []
        if cal.model != model:
            problems.append(f"it is for model {cal.model}")
        if cal.recognizer_sha256.lower() != recognizer_sha256.lower():
            problems.append("its recognizer hash differs")
        if recipe is not None and cal.recipe != recipe:
            problems.append(f"its embedding recipe is {cal.recipe}, not {recipe}")
        if problems:
            logger.warning("ignoring the %s calibration %s: %s", origin, path, "; ".join(problems))
            continue
        return cal
    return None
