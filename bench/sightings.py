"""Unknown faces that come back, measured on LFW: every photo a sighting, streamed in a random
order through the incremental grouping and then the nightly pass.

Embeds every photo with the production FaceAnalyzer (labelled face nearest the centre; the cache
of bench/link_threshold.py, in /tmp), removes the label noise of bench/lfw_noise.py, then for
each seed streams all photos, in a random order, through facefind.scoring.unknown_persons with
the in-memory store (exact shortlists of the same length as the database's), at the thresholds
the calibration gives for the stated rate, recomputed for the unknown persons kept at each step.
Prints (Markdown, on stdout; docs/accuracy.md "Unknown faces that come back"):

1. strangers wrongly joined: sightings of a person with no earlier sighting that were joined to
   a group (it can only be someone else's), over all such sightings: the rate the target states;
2. any sighting joined to a group of another person (the group's main person is not theirs);
3. returning faces: sightings of a person seen before that joined a group of theirs ("seen
   before" told), were deferred, or stayed alone;
4. after the nightly pass: same-person pairs of sightings in one group, people whose sightings
   all form one group, groups holding two people.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.lfw_embed import cache_identity, checked_cache_path, embed_all, list_people
from bench.lfw_noise import KEPT, clean
from facefind.evaluation.report import Rate
from facefind.scoring.calibration import Calibration
from facefind.scoring.calibration_files import load_calibration
from facefind.scoring.sighting_memory import MemorySightings
from facefind.scoring.sightings import JOIN_TARGET, thresholds_for
from facefind.scoring.unknown_persons import nightly_pass, place_sighting
from gallery.sighting_records import NewSighting
from recognition.models import resolve_model_pack

MODEL = "lfw"


@dataclass(frozen=True)
class Photos:
    """LFW's photos with a face, the label noise removed."""

    vectors: np.ndarray  # (n, 512) float32
    labels: np.ndarray  # (n,) person index
    names: list[str]  # person index -> name
    paths: list[str]
    model: str
    summary: str


def load_photos(root: Path, cache: Path | None, model_dir: Path | None, workers: int) -> Photos:
    """Every photo's embedding (cached as bench/link_threshold.py caches them), cleaned."""
    identity = cache_identity(model_dir)
    cache = checked_cache_path(
        cache or Path(tempfile.gettempdir()) / f"facefind-link-{identity['model']}.npz"
    )
    people = list_people(root)
    if not people:
        sys.exit(f"no <Person>/*.jpg photos under {root}")
    emb = embed_all(
        root, [p for ps in people.values() for p in ps], cache, identity, model_dir, workers
    )
    has_face = emb.faces > 0
    paths = [str(p) for p in emb.paths[has_face]]
    cleaned = clean(paths, emb.vectors[has_face])
    vectors = emb.vectors[has_face][cleaned.keep].astype(np.float32)
    names, labels = np.unique(np.array(cleaned.names), return_inverse=True)
    summary = (
        f"model pack {identity['model']} (recognizer {identity['recognizer_sha256'][:12]}, "
        f"recipe {identity['recipe']}); {len(people):,} people, {len(emb.paths):,} photos, "
        f"{int((~has_face).sum())} without a face; label noise removed "
        f"({len(cleaned.dropped)} photos left out, {len(cleaned.near_duplicates)} "
        f"near-duplicates, names merged): {len(vectors):,} photos of {len(names):,} people"
    )
    kept_paths = [p for p, k in zip(paths, cleaned.keep, strict=True) if k]
    return Photos(vectors, labels, [str(n) for n in names], kept_paths, identity["model"], summary)


def calibration(model_dir: Path | None, relatives: str) -> Calibration:
    """The shipped calibration of the pack, with look-alike relatives as the bands count them
    ('0': the default; 'calibrated': the file's own)."""
    pack = resolve_model_pack(model_dir)
    cal = load_calibration(pack.name, pack.recognizer_sha256, None)
    if cal is None:
        sys.exit(f"no calibration for model pack {pack.name}")
    if relatives != "calibrated":
        cal = dataclasses.replace(cal, relatives=float(relatives))
    return cal


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- one run ------------------------------------------------------------------------------------
@dataclass
class Run:
    strangers: int = 0
    strangers_joined: int = 0
    strangers_joined_relatives: int = 0  # of which to LFW's known relatives and look-alikes
    sightings: int = 0
    wrong_joins: int = 0
    returning: int = 0
    returning_joined: int = 0  # joined a group whose main person is theirs
    returning_deferred: int = 0
    returning_alone: int = 0
    pairs: int = 0  # same-person pairs of sightings
    pairs_together: int = 0
    people: int = 0  # people with two sightings or more
    people_whole: int = 0
    groups: int = 0
    mixed_groups: int = 0
    merges: int = 0
    nightly_placed: int = 0
    deferred_reasons: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    final_thresholds: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0


def main_person(labels: list[int]) -> int:
    """The person most of a group's sightings show (ties: the lowest index)."""
    counts = Counter(labels)
    best = max(counts.values())
    return min(p for p, c in counts.items() if c == best)


async def run(photos: Photos, cal: Calibration, seed: int, target: float) -> Run:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photos.vectors))
    store = MemorySightings()
    label_of: dict[int, int] = {}  # sighting id -> person
    seen: set[int] = set()
    r = Run()
    started = time.perf_counter()
    for step, photo in enumerate(order.tolist()):
        who = int(photos.labels[photo])
        new = NewSighting(
            model=MODEL,
            embedding=photos.vectors[photo],
            recipe="lfw",
            det_score=1.0,
            quality={},
            quality_score=1.0,
            low_quality=False,
            bbox=(0.0, 0.0, 1.0, 1.0),
            crop_jpeg=None,
            lookup_id=step + 1,
            actor="bench",
        )
        placed = await place_sighting(store, new, cal, target=target)
        p = placed.placement
        before = who in seen
        if placed.group_id is not None:
            members = [label_of[s] for s in store.groups[placed.group_id].members if s in label_of]
            main = main_person(members)
            if main != who:
                r.wrong_joins += 1
                names = tuple(sorted((photos.names[who], photos.names[main])))
                r.strangers_joined_relatives += not before and names in KEPT
                r.wrong.append(
                    f"{photos.paths[photo]} joined {photos.names[main]} "
                    f"({len(members)} sightings, score {p.score:.3f}, join {p.thresholds.join:.3f})"
                )
            elif before:
                r.returning_joined += 1
        elif p.outcome == "deferred":
            r.deferred_reasons[p.reason or ""] += 1
            if before:
                r.returning_deferred += 1
        elif before:
            r.returning_alone += 1
        r.sightings += 1
        if before:
            r.returning += 1
        else:
            r.strangers += 1
            r.strangers_joined += placed.group_id is not None
        label_of[placed.sighting_id] = who
        seen.add(who)

    report = await nightly_pass(store, MODEL, cal, actor="bench", target=target)
    r.merges, r.nightly_placed = report.merges, report.placed
    r.seconds = time.perf_counter() - started
    final = thresholds_for(cal, await store.kept(MODEL), target=target)
    r.final_thresholds = final.as_dict()

    group_of = {s: v.group_id for s, v in store.sightings.items()}
    by_person: dict[int, list[int]] = {}
    for s, who in label_of.items():
        by_person.setdefault(who, []).append(s)
    for sightings in by_person.values():
        n = len(sightings)
        if n < 2:
            continue
        r.people += 1
        groups = Counter(group_of[s] for s in sightings)
        together = sum(c * (c - 1) // 2 for g, c in groups.items() if g is not None)
        r.pairs += n * (n - 1) // 2
        r.pairs_together += together
        r.people_whole += len(groups) == 1 and None not in groups
    for grp in store.groups.values():
        if grp.state != "open":
            continue
        r.groups += 1
        r.mixed_groups += len({label_of[s] for s in grp.members}) > 1
    return r


def rate(count: int, of: int) -> str:
    return str(Rate(count, of))


def report(
    photos: Photos, cal: Calibration, runs: list[Run], target: float, relatives: str
) -> None:
    total = Run()
    for r in runs:
        for f in dataclasses.fields(Run):
            value = getattr(r, f.name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(total, f.name, getattr(total, f.name) + value)
        total.deferred_reasons.update(r.deferred_reasons)
        total.wrong += r.wrong
    print(f"# Unknown faces that come back: {photos.model}, stated rate {target:.0e}\n")
    print(photos.summary + ".\n")
    print(
        f"Calibration {cal.source}; look-alike relatives {relatives} "
        f"({cal.relatives:.2g} per pair of people). {len(runs)} random orders (seeds "
        f"0..{len(runs) - 1}), every photo a sighting; counts summed over the orders.\n"
    )
    rows = [
        [
            "strangers wrongly joined (no earlier sighting of them, joined to a group)",
            rate(total.strangers_joined, total.strangers),
        ],
        [
            "the same, LFW's known twins, siblings and look-alikes left out (lfw_noise.KEPT)",
            rate(total.strangers_joined - total.strangers_joined_relatives, total.strangers),
        ],
        ["any sighting joined to another person's group", rate(total.wrong_joins, total.sightings)],
        [
            "returning faces joined to their own group (told 'seen before')",
            rate(total.returning_joined, total.returning),
        ],
        ["returning faces deferred", rate(total.returning_deferred, total.returning)],
        ["returning faces left alone", rate(total.returning_alone, total.returning)],
        [
            "after the nightly pass: same-person pairs in one group",
            rate(total.pairs_together, total.pairs),
        ],
        [
            "after the nightly pass: people (2+ photos) whose sightings form one group",
            rate(total.people_whole, total.people),
        ],
        [
            "after the nightly pass: groups holding two people",
            rate(total.mixed_groups, total.groups),
        ],
    ]
    print(table(["", "rate"], rows))
    print()
    per_seed = [
        [
            seed,
            f"{r.strangers_joined} / {r.strangers}",
            f"{r.wrong_joins}",
            f"{r.returning_joined / r.returning:.1%}",
            f"{r.pairs_together / r.pairs:.1%}",
            f"{r.merges}",
            f"{r.nightly_placed}",
            f"{r.final_thresholds.get('join')} / {r.final_thresholds.get('kept')}",
            f"{r.seconds:.0f} s",
        ]
        for seed, r in enumerate(runs)
    ]
    print(
        table(
            [
                "seed",
                "strangers joined",
                "wrong joins",
                "returning joined",
                "pairs together",
                "nightly merges",
                "nightly placed",
                "join threshold at the end / persons kept",
                "time",
            ],
            per_seed,
        )
    )
    print()
    reasons = ", ".join(f"{k} {v:,}" for k, v in total.deferred_reasons.most_common())
    print(f"Deferred at arrival, by reason (all orders): {reasons or 'none'}.\n")
    if total.wrong:
        print("Wrong joins:\n")
        for line in sorted(set(total.wrong)):
            print(f"- {line}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: .venv/bin/python -m bench.sightings /work/shared/faces/lfw-devtrain",
    )
    parser.add_argument("photos", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache outside the repo")
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model pack (default buffalo_s)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, default=3, help="random orders to stream")
    parser.add_argument("--target", type=float, default=JOIN_TARGET, help="the stated rate")
    parser.add_argument(
        "--relatives",
        default="0",
        help="look-alike relatives per pair of people, as FACEFIND_RELATIVES_PREVALENCE "
        "(default 0, as the bands; 'calibrated': the calibration's own)",
    )
    args = parser.parse_args()
    photos = load_photos(args.photos.resolve(), args.cache, args.model_dir, args.workers)
    cal = calibration(args.model_dir, args.relatives)
    runs = [asyncio.run(run(photos, cal, seed, args.target)) for seed in range(args.seeds)]
    report(photos, cal, runs, args.target, args.relatives)


if __name__ == "__main__":
    main()
