"""Measure face-detection misses on LFW with and without the padding fallback, and its options.

Usage: python bench/lfw_detect.py /path/to/lfw-devtrain [--limit N] [--tight-limit N] [--workers N]

Part 1 runs every image through FaceAnalyzer.analyze and reports the share with no face
before the padded retry (the plain multi-size detection), after it, and with insightface's
single 640 px pass for comparison, plus timings. Part 2 makes tight crops around each central
face (the box shrunk by --margins of its size on every side) and compares padding options:
how many crops yield a face, and the cosine of that face's embedding to the full photo's.
LFW photos stay where they are; nothing is copied.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer, align_face
from recognition.types import Limits

PAD_OPTIONS: list[tuple[str, int, float]] = [
    ("replicate 15%", cv2.BORDER_REPLICATE, 0.15),
    ("replicate 25%", cv2.BORDER_REPLICATE, 0.25),
    ("replicate 35%", cv2.BORDER_REPLICATE, 0.35),
    ("black 25%", cv2.BORDER_CONSTANT, 0.25),
    ("black 50%", cv2.BORDER_CONSTANT, 0.50),
]

_analyzer: FaceAnalyzer | None = None


def _init_worker() -> None:
    global _analyzer
    # One ONNX thread per process: the processes already use every core.
    _analyzer = FaceAnalyzer(resolve_model_pack(None), Limits(), threads=1)


def _central(boxes: np.ndarray, width: int, height: int) -> int | None:
    """Index of the box holding the image centre (LFW's labelled person), if any."""
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if x1 <= width / 2 <= x2 and y1 <= height / 2 <= y2:
            return i
    return None


def _full_image(path: str) -> dict[str, object]:
    assert _analyzer is not None
    data = Path(path).read_bytes()
    analysis = _analyzer.analyze(data)
    image = analysis.image
    height, width = image.shape[:2]
    direct = _analyzer._detect(image)  # the pass before any padding
    det640, _ = _analyzer._detector.detect(image, input_size=[(640, 640)], det_thresh=0.5)
    boxes = np.array([f.bbox for f in analysis.faces]).reshape(-1, 4)
    return {
        "direct": len(direct.scores),
        "after": len(analysis.faces),
        "padded": analysis.padded,
        "central": _central(boxes, width, height) is not None,
        "only640": len(det640),
        "decode": analysis.timings_ms["decode"],
        "detect": analysis.timings_ms["detect"],
        "embed": analysis.timings_ms["embed"],
        "faces": len(analysis.faces),
    }


def _tight_crops(args: tuple[str, list[float]]) -> dict[str, list[float]]:
    assert _analyzer is not None
    path, margins = args
    loaded = cv2.imread(path)
    if loaded is None:
        return {}
    image = np.asarray(loaded)
    height, width = image.shape[:2]
    found = _analyzer._detect(image)
    i = _central(found.boxes, width, height)
    out: dict[str, list[float]] = defaultdict(list)
    if i is None:
        return out
    reference = _analyzer._embed([align_face(image, found.landmarks[i])])[0]
    x1, y1, x2, y2 = (float(v) for v in found.boxes[i])
    bw, bh = x2 - x1, y2 - y1
    for margin in margins:
        left, top = max(0, round(x1 - margin * bw)), max(0, round(y1 - margin * bh))
        right, bottom = round(x2 + margin * bw), round(y2 + margin * bh)
        crop = np.ascontiguousarray(image[top:bottom, left:right])
        key = f"{margin:+.2f}"
        out[f"{key}|n"].append(1.0)
        direct = _analyzer._detect(crop)
        if len(direct.scores):
            j = int(np.argmax(direct.scores))
            emb = _analyzer._embed([align_face(crop, direct.landmarks[j])])
            out[f"{key}|no padding"].append(float(emb[0] @ reference))
            continue
        for name, border, fraction in PAD_OPTIONS:
            padded = _analyzer._detect_padded(crop, fraction=fraction, border=border)
            if len(padded.scores):
                j = int(np.argmax(padded.scores))
                emb = _analyzer._embed([align_face(crop, padded.landmarks[j])])
                out[f"{key}|{name}"].append(float(emb[0] @ reference))
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lfw", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument("--limit", type=int, default=0, help="images for part 1 (0: all)")
    parser.add_argument("--tight-limit", type=int, default=1000, help="images for part 2")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, -0.2, -0.3])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    files = sorted(str(p) for p in args.lfw.glob("*/*.jpg"))
    if not files:
        sys.exit(f"no images under {args.lfw}")
    random.Random(0).shuffle(files)
    part1 = files[: args.limit] if args.limit else files

    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init_worker) as pool:
        rows = list(pool.map(_full_image, part1, chunksize=32))
        elapsed = time.perf_counter() - started
        n = len(rows)
        print(f"Part 1: {n} LFW images, {args.workers} workers, {elapsed:.0f} s")
        no_direct = sum(r["direct"] == 0 for r in rows)
        no_after = sum(r["after"] == 0 for r in rows)
        no_640 = sum(r["only640"] == 0 for r in rows)
        no_central = sum(not r["central"] for r in rows)
        for label, count in (
            ("no face, single 640 px pass (insightface classic)", no_640),
            ("no face before padding (128 + 320/640 px passes)", no_direct),
            ("no face after the padded retry", no_after),
            ("no face covering the image centre", no_central),
        ):
            print(f"  {label:50s} {count:5d} ({count / n:.2%})")
        for key in ("decode", "detect", "embed"):
            values = [float(r[key]) for r in rows]  # type: ignore[arg-type]
            print(
                f"  {key:6s} ms: median {statistics.median(values):6.1f}  "
                f"p95 {_pct(values, 95):6.1f}"
            )
        print(f"  faces per image: mean {statistics.mean(float(r['faces']) for r in rows):.2f}")  # type: ignore[arg-type]

        tight = files[: args.tight_limit]
        merged: dict[str, list[float]] = defaultdict(list)
        for out in pool.map(_tight_crops, [(p, args.margins) for p in tight], chunksize=16):
            for key, values in out.items():
                merged[key].extend(values)
    print(f"\nPart 2: tight crops around the central face of {len(tight)} images")
    print("  (margin < 0 shrinks the detector box; cos = cosine to the full photo's embedding)")
    counts = Counter({key: len(values) for key, values in merged.items()})
    for margin in args.margins:
        key = f"{margin:+.2f}"
        total = counts[f"{key}|n"]
        if not total:
            continue
        direct = counts[f"{key}|no padding"]
        missed = total - direct
        cos = merged[f"{key}|no padding"]
        print(
            f"  margin {key}: {total} crops, found without padding {direct} "
            f"({direct / total:.1%}, cos median {_pct(cos, 50):.2f}); {missed} misses"
        )
        if not missed:
            continue
        for name, _border, _fraction in PAD_OPTIONS:
            values = merged[f"{key}|{name}"]
            share = len(values) / missed
            print(
                f"    {name:14s} finds {len(values):4d} ({share:.1%}), "
                f"cos median {_pct(values, 50):.2f}, p10 {_pct(values, 10):.2f}"
            )


if __name__ == "__main__":
    main()
