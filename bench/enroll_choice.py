"""Which face does enrollment pick in a photo with several faces? Measured on labelled photos
where the labelled person is the face nearest the centre (LFW), against the old rule (the
clearly largest face, else skip).

    .venv/bin/python bench/enroll_choice.py /work/shared/faces/lfw-devtrain --workers 2

Prints, for photos with two or more faces: how often each rule picks the labelled face, picks
another one, or gives up (a tie), and the same after the person's other photos (their mean
embedding) are used to break the tie, as a folder enrollment does.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from facefind.enroll.choice import choose_face
from facefind.errors import AmbiguousFaces
from recognition import Analysis, Limits
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer

# the rule before issue 7: the largest face when its area is at least twice the next one's
OLD_DOMINANT_RATIO = 2.0

_analyzer: FaceAnalyzer | None = None


def _init() -> None:
    global _analyzer
    _analyzer = FaceAnalyzer(resolve_model_pack(None), Limits(), threads=1)


def _analyse(path: str) -> tuple[str, Analysis | None]:
    assert _analyzer is not None
    try:
        return path, _analyzer.analyze(Path(path).read_bytes())
    except Exception:
        return path, None


def labelled(analysis: Analysis) -> int:
    """Index (1-based) of the face nearest the image centre: LFW's labelled person."""
    cx, cy = analysis.width / 2, analysis.height / 2
    return min(
        analysis.faces,
        key=lambda f: math.hypot(
            (f.bbox[0] + f.bbox[2]) / 2 - cx, (f.bbox[1] + f.bbox[3]) / 2 - cy
        ),
    ).index


def old_rule(analysis: Analysis) -> int | None:
    ordered = sorted(analysis.faces, key=lambda f: f.area, reverse=True)
    if ordered[0].area >= OLD_DOMINANT_RATIO * ordered[1].area:
        return ordered[0].index
    return None


def new_rule(analysis: Analysis, reference: np.ndarray | None = None) -> int | None:
    try:
        return choose_face(analysis.faces, analysis.width, analysis.height, None, reference)[
            0
        ].index
    except AmbiguousFaces:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="labelled photos: ROOT/<Person>/<photo>.jpg")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(str(p) for p in args.root.glob("*/*.jpg"))
    if not paths:
        sys.exit(f"no photos under {args.root}")
    multi: dict[str, Analysis] = {}
    singles: dict[str, list[np.ndarray]] = {}
    with ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        for path, analysis in pool.map(_analyse, paths, chunksize=16):
            if analysis is None or not analysis.faces:
                continue
            person = Path(path).parent.name
            if len(analysis.faces) == 1:
                singles.setdefault(person, []).append(analysis.faces[0].embedding)
            else:
                # keep only what the rules need: the image itself is dropped
                multi[path] = Analysis(
                    np.zeros((analysis.height, analysis.width, 3), np.uint8),
                    analysis.sha256,
                    analysis.faces,
                    analysis.padded,
                )
    outcomes: dict[str, Counter[str]] = {
        "old": Counter(),
        "new": Counter(),
        "new+others": Counter(),
    }
    for path, analysis in multi.items():
        truth = labelled(analysis)
        person = Path(path).parent.name
        refs = singles.get(person)
        reference = np.mean(np.stack(refs), axis=0) if refs else None
        for name, pick in (
            ("old", old_rule(analysis)),
            ("new", new_rule(analysis)),
            ("new+others", new_rule(analysis, reference)),
        ):
            outcomes[name]["tie" if pick is None else "labelled" if pick == truth else "other"] += 1
    print(f"photos: {len(paths)}; with two or more faces: {len(multi)}\n")
    print("| rule | labelled face | another face | tie (skipped) |")
    print("|---|---|---|---|")
    for name, counts in outcomes.items():
        n = sum(counts.values()) or 1
        cells = [f"{counts[k]} ({counts[k] / n:.1%})" for k in ("labelled", "other", "tie")]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
