"""A model's calibration: how often an identity of someone else scores at least s, and the
thresholds that keep false candidates at a target rate for a gallery of a given size."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


@dataclass(frozen=True)
class GallerySize:
    """Identities by their number of references (3 means 3 or more)."""

    by_references: Mapping[int, int]

    @property
    def identities(self) -> int:
        return int(sum(self.by_references.values()))


@dataclass(frozen=True)
class Calibration:
    """Per-comparison false match rates (fmr[k][i] at similarity >= grid[i], for identities
    with k references) and measured found rates of enrolled people, for one model pack."""

    model: str
    recognizer_sha256: str
    recipe: str
    fusion: str
    source: str
    grid: tuple[float, ...]
    fmr: Mapping[int, tuple[float, ...]]
    found: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    floor: float = 0.30

    def fmr_at(self, similarity: float, references: int = 1) -> float:
        """Interpolated on a log scale; beyond the grid the last slope continues."""
        table = self.fmr.get(min(max(references, 1), 3)) or self.fmr[1]
        grid = np.asarray(self.grid)
        logs = np.log10(np.maximum(np.asarray(table), 1e-300))
        if similarity <= grid[0]:
            return float(table[0])
        if similarity >= grid[-1]:
            slope = (logs[-1] - logs[-2]) / (grid[-1] - grid[-2])
            return float(10 ** (logs[-1] + slope * (similarity - grid[-1])))
        return float(10 ** np.interp(similarity, grid, logs))

    def false_candidate_rate(self, similarity: float, size: GallerySize) -> float:
        miss = 0.0  # log of the chance that no identity scores this high
        for refs, n in size.by_references.items():
            if n:
                miss += n * math.log1p(-min(self.fmr_at(similarity, refs), 1 - 1e-15))
        return -math.expm1(miss)

    def threshold_for(self, target: float, size: GallerySize) -> float:
        lo, hi = -1.0, 1.0
        if self.false_candidate_rate(lo, size) <= target:
            return lo
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.false_candidate_rate(mid, size) <= target:
                hi = mid
            else:
                lo = mid
        return hi

    def found_rate(self, threshold: float, references: int = 1) -> float:
        table = self.found.get(min(max(references, 1), 3)) or self.found.get(1)
        if not table:
            return float("nan")
        return float(np.interp(threshold, np.asarray(self.grid), np.asarray(table)))


def bands_for(
    cal: Calibration,
    size: GallerySize,
    possible_target: float = 0.005,
    strong_target: float = 0.0005,
) -> tuple[float, float]:
    """(strong, possible) for this gallery, never below the calibration's floor."""
    possible = max(cal.threshold_for(possible_target, size), cal.floor)
    strong = max(cal.threshold_for(strong_target, size), possible)
    return strong, possible


def capacity(
    cal: Calibration, possible_target: float, strong_target: float, min_found: float = 0.90
) -> int | None:
    """The most 1-reference identities at which `possible` still finds `min_found` of the
    enrolled people (None when the calibration holds no found rates)."""
    if not cal.found:
        return None
    n = 1
    while n < 10**9:
        nxt = n * 2
        _, possible = bands_for(cal, GallerySize({1: nxt}), possible_target, strong_target)
        if cal.found_rate(possible) < min_found:
            break
        n = nxt
    return n


def _from_dict(d: Mapping[str, Any]) -> Calibration:
    return Calibration(
        model=d["model"],
        recognizer_sha256=d["recognizer_sha256"],
        recipe=d["recipe"],
        fusion=d["fusion"],
        source=d.get("source", ""),
        grid=tuple(d["grid"]),
        fmr={int(k): tuple(v) for k, v in d["fmr"].items()},
        found={int(k): tuple(v) for k, v in d.get("found", {}).items()},
        floor=float(d.get("floor", 0.30)),
    )


def save_calibration(cal: Calibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT_VERSION,
        "model": cal.model,
        "recognizer_sha256": cal.recognizer_sha256,
        "recipe": cal.recipe,
        "fusion": cal.fusion,
        "source": cal.source,
        "floor": cal.floor,
        "grid": list(cal.grid),
        "fmr": {str(k): list(v) for k, v in cal.fmr.items()},
        "found": {str(k): list(v) for k, v in cal.found.items()},
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def load_calibration(
    model: str, recognizer_sha256: str, data_dir: Path | None
) -> Calibration | None:
    """The operator's calibration (data dir) or the packaged one, when it fits this model."""
    candidates: list[str] = []
    if data_dir is not None:
        own = data_dir / "calibrations" / f"{model}.json"
        if own.is_file():
            candidates.append(own.read_text(encoding="utf-8"))
    packaged = resources.files("facefind") / "calibrations" / f"{model}.json"
    if packaged.is_file():
        candidates.append(packaged.read_text(encoding="utf-8"))
    for text in candidates:
        cal = _from_dict(json.loads(text))
        if cal.model == model and cal.recognizer_sha256 == recognizer_sha256:
            return cal
    return None
