"""Faces of one person across photos or video frames: conservative grouping and fused embeddings."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from recognition.quality import quality_score
from recognition.types import DetectedFace

# Two groups are joined when the mean similarity over all their face pairs reaches this. Chosen
# on LFW DevTrain with bench/link_threshold.py (docs/accuracy.md, "Grouping faces"): photos of
# two different people score this or more in about 1 pair in a million (buffalo_s); 99.2% of
# pairs of photos of one person do, taken years apart as often as not.
LINK_THRESHOLD = 0.40


@dataclass(frozen=True, eq=False)
class FaceItem:
    """One face to group: where it is, its embedding and how good a picture of the person it is."""

    source: Hashable  # the photo or frame it is in: faces of one source are never grouped
    embedding: np.ndarray  # (512,) float32, unit length
    score: float  # higher is better (recognition.quality.quality_score)
    good: bool = True  # no quality flag: fused in preference to flagged faces


@dataclass(frozen=True, eq=False)
class Group:
    """Faces taken for one person: item indices, best first (good before flagged, then score)."""

    members: tuple[int, ...]
    fused: int  # the embedding is the normalised mean of the first `fused` members
    embedding: np.ndarray  # (512,) float32, unit length

    @property
    def best(self) -> int:
        return self.members[0]


def fuse(embeddings: np.ndarray, good: Sequence[bool] | None = None) -> np.ndarray:
    """The normalised mean of unit embeddings, of the good ones when there are any: the rule
    the gallery builds an identity's template with (table identity_templates)."""
    vectors = np.asarray(embeddings, dtype=np.float64).reshape(-1, embeddings.shape[-1])
    if len(vectors) == 0:
        raise ValueError("nothing to fuse")
    if good is not None and any(good):
        vectors = vectors[np.asarray(good, dtype=bool)]
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-12:
        raise ValueError("the embeddings cancel out")
    return (mean / norm).astype(np.float32)


def group_faces(
    items: Sequence[FaceItem],
    *,
    threshold: float = LINK_THRESHOLD,
    fuse_at_most: int | None = None,
) -> list[Group]:
    """Group faces of the same person; most faces first, then the best face's score.

    Average linkage, greedy: the two groups whose face pairs are the most similar on average are
    joined first, as long as that mean reaches `threshold` and the two hold no faces of the
    same source (one photo or frame never shows a person twice). A face therefore joins a group
    only when it is like the group's faces on the whole, never through one close pair, and a
    face that matches nothing stays alone. Each group's embedding fuses its best
    `fuse_at_most` faces (all when None), good ones only when it has any (see `fuse`).
    """
    if fuse_at_most is not None and fuse_at_most < 1:
        raise ValueError("fuse_at_most must be at least 1")
    n = len(items)
    if n == 0:
        return []
    vectors = np.stack([np.asarray(i.embedding, dtype=np.float64) for i in items])
    members = [[i] for i in range(n)]
    for keep, gone in _average_linkage(vectors, [i.source for i in items], threshold):
        members[keep].extend(members[gone])
        members[gone] = []

    groups = []
    for faces in members:
        if not faces:
            continue
        ranked = sorted(faces, key=lambda i: (not items[i].good, -items[i].score, i))
        good = [i for i in ranked if items[i].good]
        chosen = (good or ranked)[:fuse_at_most]
        groups.append(
            Group(
                members=tuple(ranked),
                fused=len(chosen),
                embedding=fuse(vectors[chosen]),
            )
        )
    groups.sort(key=lambda g: (-len(g.members), not items[g.best].good, -items[g.best].score))
    return groups


def _average_linkage(
    vectors: np.ndarray, sources: Sequence[Hashable], threshold: float
) -> list[tuple[int, int]]:
    """The merges (kept, absorbed) of greedy average-linkage clustering with cannot-links."""
    n = len(vectors)
    ids = {s: k for k, s in enumerate(dict.fromkeys(sources))}
    source_of = np.array([ids[s] for s in sources])
    # sums[a, b]: the sum of similarities over the face pairs of groups a and b
    sums = vectors @ vectors.T
    sizes = np.ones(n)
    # conflict[a, b]: groups a and b hold faces of one source (a group conflicts with itself)
    conflict = source_of[:, None] == source_of[None, :]
    alive = np.ones(n, dtype=bool)

    def linkage(row: int) -> np.ndarray:
        mean = sums[row] / (sizes[row] * sizes)
        return np.where(conflict[row] | ~alive, -np.inf, mean)

    # Each row's best partner, kept up to date so a merge costs O(n), not O(n^2).
    best_value = np.full(n, -np.inf)
    best_partner = np.zeros(n, dtype=np.int64)
    for row in range(n):
        values = linkage(row)
        best_partner[row] = int(np.argmax(values))
        best_value[row] = values[best_partner[row]]

    merges: list[tuple[int, int]] = []
    while True:
        candidates = np.where(alive, best_value, -np.inf)
        a = int(np.argmax(candidates))
        if candidates[a] < threshold:
            return merges
        b = int(best_partner[a])
        keep, gone = min(a, b), max(a, b)
        sums[keep] += sums[gone]
        sums[:, keep] += sums[:, gone]
        sizes[keep] += sizes[gone]
        conflict[keep] |= conflict[gone]
        conflict[:, keep] |= conflict[:, gone]
        alive[gone] = False
        best_value[gone] = -np.inf
        merges.append((keep, gone))
        # Rows that pointed at either merged group look again. The others keep their partner:
        # their mean with the merged group lies between their means with its two halves.
        stale = alive & ((best_partner == keep) | (best_partner == gone))
        stale[keep] = True
        for again in np.flatnonzero(stale).tolist():
            values = linkage(again)
            best_partner[again] = int(np.argmax(values))
            best_value[again] = values[best_partner[again]]


@dataclass(frozen=True, eq=False)
class PhotoFace:
    """A face of an album: its photo's position in the album and the face as analysed."""

    photo: int
    face: DetectedFace


@dataclass(frozen=True, eq=False)
class AlbumPerson:
    """One person across an album's photos."""

    faces: tuple[PhotoFace, ...]  # at most one a photo, best first
    fused: int  # the embedding fuses the first `fused` faces
    embedding: np.ndarray  # (512,) float32, unit length

    @property
    def best(self) -> PhotoFace:
        return self.faces[0]

    @property
    def photos(self) -> tuple[int, ...]:
        return tuple(sorted(f.photo for f in self.faces))


def group_album(
    photos: Sequence[Sequence[DetectedFace]],
    *,
    threshold: float = LINK_THRESHOLD,
    fuse_at_most: int | None = None,
) -> list[AlbumPerson]:
    """The people of an album, from the faces of each photo (`Analysis.faces`, in album order):
    the most photographed first. Quality ranks by `quality_score`, flags by `Quality.ok`."""
    flat = [PhotoFace(p, face) for p, faces in enumerate(photos) for face in faces]
    items = [
        FaceItem(
            source=f.photo,
            embedding=f.face.embedding,
            score=quality_score(f.face.quality),
            good=f.face.quality.ok,
        )
        for f in flat
    ]
    return [
        AlbumPerson(
            faces=tuple(flat[i] for i in g.members),
            fused=g.fused,
            embedding=g.embedding,
        )
        for g in group_faces(items, threshold=threshold, fuse_at_most=fuse_at_most)
    ]
