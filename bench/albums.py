"""What an album of two photos (or --size N) gains over one photo, measured on LFW.

The gallery: the first photo of each person with N + 1 photos or more (one reference each, as
`facefind eval --refs 1`). Their other photos, in name order, make albums of N (at most
--albums-per-person each, so a few people photographed hundreds of times do not decide the
figures). Each album is searched three ways, each face scored against every identity as the
gallery scores one reference (the cosine; with one reference the template is that face):

- one photo: each photo of the album on its own (N probes an album);
- fused: the N faces fused as the gallery fuses references (recognition.grouping.fuse);
- as the service would: the album's faces grouped (recognition.grouping.group_faces at
  LINK_THRESHOLD), each group searched with its fused face (a group of one: that face), and
  the album counts as found when any group is, and as given a false candidate when any is.

Found: the person's own identity first and at or above the band (possible, strong) derived from
the calibration for this gallery (relatives 0, the default targets). False candidates: the same
albums searched with their own identity left out of the gallery (people not enrolled), plus the
albums of the people with exactly N photos, given any identity at or above the band. Every
rate with its 95% Wilson interval (facefind.eval_report). Markdown on stdout.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.sightings import calibration, load_photos, table
from facefind.evaluation.report import Rate
from facefind.scoring.calibration import GallerySize, bands_for
from recognition.grouping import LINK_THRESHOLD, FaceItem, fuse, group_faces


@dataclass(frozen=True)
class Album:
    person: int  # label
    enrolled: bool  # the person has an identity in the gallery
    faces: tuple[int, ...]  # photo indices


def albums(
    labels: np.ndarray, per_person: int, size: int = 2
) -> tuple[dict[int, int], list[Album]]:
    """The gallery (person -> photo enrolled) and the albums of `size` photos."""
    gallery: dict[int, int] = {}
    out: list[Album] = []
    for person in np.unique(labels):
        photos = np.flatnonzero(labels == person)  # in name order
        if len(photos) >= size + 1:
            gallery[int(person)] = int(photos[0])
            rest = photos[1:]
            for k in range(min(per_person, len(rest) // size)):
                chunk = tuple(int(i) for i in rest[size * k : size * (k + 1)])
                out.append(Album(int(person), True, chunk))
        elif len(photos) == size:
            out.append(Album(int(person), False, tuple(int(i) for i in photos)))
    return gallery, out


@dataclass
class Scores:
    """For one way of searching: per mated probe, the best score its own identity reaches as
    the first (-inf when it is not first); per non-mated probe, its best score."""

    mated: list[float] = field(default_factory=list)
    non_mated: list[float] = field(default_factory=list)

    def found(self, threshold: float) -> Rate:
        return Rate(sum(s >= threshold for s in self.mated), len(self.mated))

    def false(self, threshold: float) -> Rate:
        return Rate(sum(s >= threshold for s in self.non_mated), len(self.non_mated))


SWEEP = tuple(round(0.30 + 0.025 * i, 3) for i in range(13))  # 0.30 .. 0.60


def top(scores: np.ndarray, exclude: int | None) -> tuple[int, float]:
    """The best identity (column) and its score, with one column left out."""
    if exclude is not None:
        scores = scores.copy()
        scores[exclude] = -np.inf
    best = int(np.argmax(scores))
    return best, float(scores[best])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: .venv/bin/python -m bench.albums /work/shared/faces/lfw-devtrain",
    )
    parser.add_argument("photos", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache outside the repo")
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model pack (default buffalo_s)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--albums-per-person", type=int, default=5)
    parser.add_argument("--size", type=int, default=2, help="photos an album (default 2)")
    args = parser.parse_args()
    if args.size < 2:
        parser.error("--size: an album has two photos or more")

    photos = load_photos(args.photos.resolve(), args.cache, args.model_dir, args.workers)
    cal = calibration(args.model_dir, "0")
    gallery, made = albums(photos.labels, args.albums_per_person, args.size)
    people = sorted(gallery)
    column = {p: i for i, p in enumerate(people)}
    refs = photos.vectors[[gallery[p] for p in people]].astype(np.float64)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    strong, possible = bands_for(cal, GallerySize.single(len(people)))
    expected = cal.false_candidate_rate(possible, GallerySize.single(len(people)))

    ways = {"one photo": Scores(), "fused": Scores(), "as the service would": Scores()}
    # as the service would: per album, each probe's score and whether it was a fused probe
    service_mated: list[list[tuple[float, bool]]] = []
    service_non_mated: list[list[tuple[float, bool]]] = []
    linked = 0
    for album in made:
        faces = [photos.vectors[i].astype(np.float64) for i in album.faces]
        fused = fuse(np.stack(faces)).astype(np.float64)
        groups = group_faces(
            [FaceItem(source=k, embedding=v, score=1.0) for k, v in enumerate(faces)],
            threshold=LINK_THRESHOLD,
        )
        linked += len(groups) == 1
        service = [g.embedding.astype(np.float64) for g in groups]
        service_fused = [g.fused > 1 for g in groups]
        own = column.get(album.person)
        # mated: the person enrolled, their identity in the gallery; non-mated: the person not
        # enrolled, or their identity left out
        searches = [(own, False)] if album.enrolled else []
        searches.append((None, True))
        for truth, stranger in searches:
            leave_out = own if stranger else None
            for way, probes in (
                ("one photo", [[f] for f in faces]),
                ("fused", [[fused]]),
                ("as the service would", [service]),
            ):
                for probe_set in probes:
                    results = [top(refs @ (p / np.linalg.norm(p)), leave_out) for p in probe_set]
                    if stranger:
                        best = max(s for _, s in results)
                        ways[way].non_mated.append(best)
                        if way == "as the service would":
                            service_non_mated.append(
                                [(s, f) for (_, s), f in zip(results, service_fused, strict=True)]
                            )
                    else:
                        own_scores = [s for i, s in results if i == truth]
                        best = max(own_scores, default=-np.inf)
                        ways[way].mated.append(best)
                        if way == "as the service would":
                            service_mated.append(
                                [
                                    (s, f)
                                    for (i, s), f in zip(results, service_fused, strict=True)
                                    if i == truth
                                ]
                            )

    mated_albums = sum(a.enrolled for a in made)
    print(f"# Albums of {args.size} photos against one photo: {photos.model}\n")
    print(photos.summary + ".\n")
    print(
        f"Gallery: {len(people):,} identities, one reference each (the first photo of each person "
        f"with {args.size + 1} photos or more); bands for it: strong {strong:.3f}, "
        f"possible {possible:.3f} "
        f"(the calibration expects {expected:.2%} of single photos of people not enrolled to get "
        f"a candidate). {mated_albums:,} albums of enrolled people (at most "
        f"{args.albums_per_person} a person), {len(made) - mated_albums:,} of people with "
        f"{args.size} photos; the faces of {linked / len(made):.1%} of the albums link at "
        f"LINK_THRESHOLD {LINK_THRESHOLD:.2f}.\n"
    )
    header = [
        "searched with",
        "found at possible",
        "found at strong",
        "false candidates at possible",
        "false candidates at strong",
    ]
    rows = [
        [
            way,
            str(t.found(possible)),
            str(t.found(strong)),
            str(t.false(possible)),
            str(t.false(strong)),
        ]
        for way, t in ways.items()
    ]
    print(table(header, rows))
    print(
        f"\nOne photo counts each photo of an album as a probe ({args.size} an album); false "
        f"candidates count the albums of people with {args.size} photos and every album again "
        "with its own identity left out.\n"
    )
    one, both = ways["one photo"], ways["as the service would"]
    sweep = [
        [
            f"{t:.3f}",
            f"{one.found(t).rate:.2%} / {one.false(t).rate:.2%}",
            f"{both.found(t).rate:.2%} / {both.false(t).rate:.2%}",
        ]
        for t in SWEEP
    ]
    print("Over a sweep of `possible` (found / false candidates):\n")
    print(table(["threshold", "one photo", "album (as the service would)"], sweep))
    print()
    margin_table(one, service_mated, service_non_mated, possible, strong)


def margin_table(
    one: Scores,
    mated: list[list[tuple[float, bool]]],
    non_mated: list[list[tuple[float, bool]]],
    possible: float,
    strong: float,
) -> None:
    """Albums searched as the service would, a fused probe's bands raised by each margin, against
    one photo at the bands as they are; and the smallest margin that keeps one photo's rate of
    false candidates at `possible`."""

    def rate(albums: list[list[tuple[float, bool]]], threshold: float, margin: float) -> Rate:
        hits = sum(
            any(s - (margin if fused else 0.0) >= threshold for s, fused in probes)
            for probes in albums
        )
        return Rate(hits, len(albums))

    target = one.false(possible)
    rows, chosen = [], None
    for step in range(11):
        margin = round(0.005 * step, 3)
        false = rate(non_mated, possible, margin)
        if chosen is None and false.rate <= target.rate:
            chosen = margin
        rows.append(
            [
                f"{margin:.3f}",
                str(rate(mated, possible, margin)),
                str(rate(mated, strong, margin)),
                str(false),
                str(rate(non_mated, strong, margin)),
            ]
        )
    print("Fused probes' bands raised by a margin (albums as the service would search them):\n")
    header = [
        "margin",
        "found at possible",
        "found at strong",
        "false at possible",
        "false at strong",
    ]
    print(table(header, rows))
    print(
        f"\nOne photo at the bands as they are: found {one.found(possible)} at possible, false "
        f"candidates {target}. The smallest margin keeping that rate: "
        f"{chosen if chosen is not None else 'none up to 0.05'}.\n"
    )


if __name__ == "__main__":
    main()
