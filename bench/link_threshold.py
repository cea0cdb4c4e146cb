"""The threshold for grouping faces of one person (albums, video frames), measured on LFW.

Embeds every photo with the production FaceAnalyzer (labelled face nearest the centre; cached
in /tmp like bench/calibrate.py), removes the label noise of bench/lfw_noise.py, then prints:

1. the similarity of two photos of different people (every cross-person pair, each pair of
   people weighing 1 in all) and of two photos of one person (every same-person pair); the
   link threshold at several false-link rates, and the share of same-person pairs it links;
2. what `recognition.grouping.group_faces` does with it on simulated albums drawn from LFW:
   one person in every photo of the album, plus bystanders (other people, one photo each);
   how often two people end up in one group (a wrong join), and how often the person's photos
   all end up in one group.

The report (Markdown, on stdout) is docs/accuracy.md's "Grouping faces" section.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bench.lfw_embed import cache_identity, checked_cache_path, embed_all, list_people
from bench.lfw_noise import clean
from facefind.scoring.fitting import BIN, ImpostorCounts, all_pair_impostors
from recognition.grouping import LINK_THRESHOLD, FaceItem, group_faces

RATES = (1e-3, 1e-4, 1e-5, 1e-6)
# (photos in the album, bystanders in each photo)
ALBUMS = ((2, 0), (3, 0), (5, 0), (2, 2), (3, 2), (5, 3), (10, 3))


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def genuine_pairs(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every same-person pair's similarity, and its weight (each person's pairs weigh 1)."""
    scores, weights = [], []
    for person in np.unique(labels):
        photos = np.flatnonzero(labels == person)
        if len(photos) > 1:
            sims = vectors[photos] @ vectors[photos].T
            pairs = sims[np.triu_indices(len(photos), 1)]
            scores.append(pairs)
            weights.append(np.full(len(pairs), 1.0 / len(pairs)))
    return np.concatenate(scores), np.concatenate(weights)


def linked(genuine: tuple[np.ndarray, np.ndarray], threshold: float) -> str:
    scores, weights = genuine
    by_person = float(weights[scores >= threshold].sum() / weights.sum())
    return f"{(scores >= threshold).mean():.2%} / {by_person:.2%}"


def report_pairs(vectors: np.ndarray, labels: np.ndarray) -> None:
    impostors = all_pair_impostors(vectors, labels)
    genuine = genuine_pairs(vectors, labels)
    people = len(np.unique(labels))
    print("## Pairs of photos\n")
    print(
        f"{len(vectors):,} photos of {people:,} people: {impostors.comparisons:,} pairs of photos "
        f"of two different people ({impostors.total:,.0f} pairs of people, each weighing 1), "
        f"{len(genuine[0]):,} pairs of photos of one person. Same person linked: the share of "
        "those pairs at or above the threshold / the same with each person's pairs weighing 1.\n"
    )
    rows = []
    for rate in RATES:
        threshold = lowest_threshold(impostors, rate)
        rows.append(
            [
                f"{rate:.0e}",
                f"{threshold:.3f}",
                f"{impostors.events_at_or_above(threshold):,}",
                linked(genuine, threshold),
            ]
        )
    header = [
        "false-link rate",
        "threshold",
        "different-person pairs at or above",
        "same person linked",
    ]
    print(table(header, rows))
    print()
    t = LINK_THRESHOLD
    print(
        f"At LINK_THRESHOLD = {t:.2f}: {impostors.rate_at_or_above(t):.1e} of different-person "
        f"pairs ({impostors.events_at_or_above(t):,} pairs), "
        f"{linked(genuine, t)} of same-person pairs.\n"
    )


def lowest_threshold(impostors: ImpostorCounts, rate: float) -> float:
    """The lowest similarity (bin edge) whose false-link rate is at most `rate`."""
    tail = np.cumsum(impostors.weight[::-1])[::-1] / impostors.total  # rate at or above each bin
    first = int(np.argmax(tail <= rate))
    return -1.0 + first * BIN


def simulate_albums(
    vectors: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    rng: np.random.Generator,
    trials: int,
    threshold: float,
) -> None:
    print(f"## Simulated albums ({trials:,} each, threshold {threshold:.2f})\n")
    mixed: list[str] = []
    photos_of = {int(p): np.flatnonzero(labels == p) for p in np.unique(labels)}
    people = np.array(sorted(photos_of))
    rows = []
    for photos, bystanders in ALBUMS:
        can_be_main = np.array([p for p in people if len(photos_of[int(p)]) >= photos])
        wrong = whole = split_parts = 0
        for _ in range(trials):
            main = int(rng.choice(can_be_main))
            others = rng.choice(people[people != main], photos * bystanders, replace=False)
            items, who = [], []
            for photo, face in enumerate(rng.choice(photos_of[main], photos, replace=False)):
                items.append(FaceItem(source=photo, embedding=vectors[face], score=1.0))
                who.append(main)
            for k, person in enumerate(others):
                face = int(rng.choice(photos_of[int(person)]))
                items.append(FaceItem(source=k // bystanders, embedding=vectors[face], score=1.0))
                who.append(int(person))
            groups = group_faces(items, threshold=threshold)
            joined = [g for g in groups if len({who[m] for m in g.members}) > 1]
            if joined:
                wrong += 1
                for g in joined:
                    who_in = sorted({names[who[m]] for m in g.members})
                    sims = [
                        float(items[a].embedding @ items[b].embedding)
                        for a in g.members
                        for b in g.members
                        if a < b
                    ]
                    mixed.append(f"{' + '.join(who_in)} (mean {np.mean(sims):.2f})")
            parts = sum(1 for g in groups if any(who[m] == main for m in g.members))
            whole += parts == 1
            split_parts += parts
        rows.append(
            [
                photos,
                bystanders,
                f"{wrong / trials:.2%} ({wrong})",
                f"{whole / trials:.1%}",
                f"{split_parts / trials:.2f}",
            ]
        )
    header = [
        "photos",
        "bystanders a photo",
        "albums with a wrong join",
        "person in one group",
        "groups for the person",
    ]
    print(table(header, rows))
    print()
    if mixed:
        print("Groups holding two people: " + "; ".join(sorted(set(mixed))) + ".\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: .venv/bin/python -m bench.link_threshold /work/shared/faces/lfw-devtrain",
    )
    parser.add_argument("photos", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache outside the repo")
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model pack (default buffalo_s)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--trials", type=int, default=5000, help="simulated albums per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threshold",
        type=float,
        action="append",
        help="simulate albums at this threshold (repeatable; default LINK_THRESHOLD)",
    )
    args = parser.parse_args()

    root: Path = args.photos.resolve()
    identity = cache_identity(args.model_dir)
    cache = checked_cache_path(
        args.cache or Path(tempfile.gettempdir()) / f"facefind-link-{identity['model']}.npz"
    )
    people = list_people(root)
    if not people:
        sys.exit(f"no <Person>/*.jpg photos under {root}")
    emb = embed_all(
        root,
        [p for ps in people.values() for p in ps],
        cache,
        identity,
        args.model_dir,
        args.workers,
    )
    has_face = emb.faces > 0
    paths = [str(p) for p in emb.paths[has_face]]
    cleaned = clean(paths, emb.vectors[has_face])
    vectors = emb.vectors[has_face][cleaned.keep].astype(np.float32)
    _, labels = np.unique(np.array(cleaned.names), return_inverse=True)

    print(f"# Grouping faces: model pack {identity['model']}\n")
    print(
        f"recognizer {identity['recognizer_sha256'][:12]}, recipe {identity['recipe']}; "
        f"{len(people):,} people, {len(emb.paths):,} photos, {int((~has_face).sum())} without "
        f"a face; label noise removed ({len(cleaned.dropped)} photos left out, "
        f"{len(cleaned.near_duplicates)} near-duplicates)\n"
    )
    report_pairs(vectors, labels)
    names = sorted(set(cleaned.names))
    for threshold in args.threshold or [LINK_THRESHOLD]:
        simulate_albums(
            vectors, labels, names, np.random.default_rng(args.seed), args.trials, threshold
        )


if __name__ == "__main__":
    main()
