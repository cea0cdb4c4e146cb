"""Grouping faces of one person across photos (albums) and frames: linkage rules and fusion."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pytest

from gallery import Gallery
from recognition import Limits, Quality
from recognition.grouping import (
    LINK_THRESHOLD,
    FaceItem,
    fuse,
    group_album,
    group_faces,
)
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.quality import quality_score
from tests.images import T1, T1_FACES, TOM_HANKS, flip, read_bytes, read_image, resize, to_jpeg

DIM = 512


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _people(rng: np.random.Generator, people: int, photos: int, spread: float = 1.0) -> np.ndarray:
    """(people, photos, 512) unit embeddings: each person's photos around their own direction.
    With spread 1 two photos of one person score about 0.5, of two people about 0 +- 0.05."""
    centres = _unit(rng.normal(size=(people, 1, DIM)))
    noise = rng.normal(size=(people, photos, DIM)) / np.sqrt(DIM)
    return _unit(centres + spread * noise)


def _item(
    source: Hashable, embedding: np.ndarray, score: float = 1.0, good: bool = True
) -> FaceItem:
    return FaceItem(source=source, embedding=embedding, score=score, good=good)


def _partition(groups: Sequence[Sequence[int]]) -> set[frozenset[int]]:
    return {frozenset(g) for g in groups}


def _with(a: np.ndarray, b: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector with cosine `cos` to unit `a`, in the plane of a and b."""
    ortho = _unit(b - float(a @ b) * a)
    return _unit(cos * a + np.sqrt(1 - cos * cos) * ortho)


# --- the linkage rules -------------------------------------------------------------------------
def test_faces_of_each_person_across_photos_form_one_group_each() -> None:
    rng = np.random.default_rng(1)
    faces = _people(rng, people=4, photos=5)
    # photo p shows every person once, in a shuffled order
    items, truth = [], []
    for photo in range(5):
        for person in rng.permutation(4):
            truth.append(int(person))
            items.append(_item(photo, faces[person, photo]))
    groups = group_faces(items)
    assert len(groups) == 4
    for g in groups:
        assert len(g.members) == 5
        assert len({truth[m] for m in g.members}) == 1
        assert len({items[m].source for m in g.members}) == 5


def test_two_faces_of_one_photo_are_never_one_person() -> None:
    rng = np.random.default_rng(2)
    a = _unit(rng.normal(size=DIM))
    twin = _with(a, rng.normal(size=DIM), 0.95)
    other_photo = _with(a, rng.normal(size=DIM), 0.9)
    groups = group_faces([_item(0, a), _item(0, twin), _item(1, other_photo)])
    assert len(groups) == 2
    for g in groups:
        assert len({[0, 0, 1][m] for m in g.members}) == len(g.members)
    # the face of the other photo joins the closer of the two
    assert _partition([g.members for g in groups]) == {frozenset({0, 2}), frozenset({1})}


def _with_cosines(
    rows: np.ndarray, cosines: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """A unit vector with the given cosines to each of the unit `rows`."""
    least = np.linalg.pinv(rows) @ np.asarray(cosines)
    free = rng.normal(size=DIM)
    free -= np.linalg.pinv(rows) @ (rows @ free)  # orthogonal to every row
    out = least + np.sqrt(1.0 - float(least @ least)) * free / np.linalg.norm(free)
    return out.astype(np.float32)


def test_a_face_close_to_one_member_only_does_not_join_the_group() -> None:
    rng = np.random.default_rng(3)
    x = _people(rng, people=1, photos=3, spread=0.6)[0]  # three photos of X, mutually ~0.74
    stranger = _with_cosines(x, [0.55, 0.15, 0.15], rng)  # close to one photo of X only
    np.testing.assert_allclose(x @ stranger, [0.55, 0.15, 0.15], atol=1e-5)
    groups = group_faces([_item(i, x[i]) for i in range(3)] + [_item(3, stranger)])
    assert _partition([g.members for g in groups]) == {frozenset({0, 1, 2}), frozenset({3})}


def test_a_chain_of_links_does_not_join_its_ends() -> None:
    rng = np.random.default_rng(4)
    a = _unit(rng.normal(size=DIM))
    c = _with(a, rng.normal(size=DIM), 0.0)
    b = _unit(a + c)  # 0.71 to both ends, which are unrelated
    groups = group_faces([_item(0, a), _item(1, b), _item(2, c)], threshold=0.6)
    assert len(groups) == 2
    assert frozenset({0, 2}) not in {frozenset(g.members) for g in groups}


def test_a_face_like_nobody_stays_alone_and_nothing_gives_nothing() -> None:
    rng = np.random.default_rng(5)
    faces = _unit(rng.normal(size=(6, DIM)))
    groups = group_faces([_item(i, f) for i, f in enumerate(faces)])
    assert sorted(len(g.members) for g in groups) == [1] * 6
    assert group_faces([]) == []
    with pytest.raises(ValueError):
        group_faces([_item(0, faces[0])], fuse_at_most=0)


def _exhaustive(
    vectors: np.ndarray, sources: Sequence[int], threshold: float
) -> set[frozenset[int]]:
    """Greedy average linkage recomputed from scratch at every step (the slow definition)."""
    sims = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    groups = [[i] for i in range(len(vectors))]
    while True:
        best: tuple[float, int, int] | None = None
        for a, b in itertools.combinations(range(len(groups)), 2):
            if not groups[a] or not groups[b]:
                continue
            if {sources[i] for i in groups[a]} & {sources[i] for i in groups[b]}:
                continue
            mean = float(sims[np.ix_(groups[a], groups[b])].mean())
            if mean >= threshold and (best is None or mean > best[0]):
                best = (mean, a, b)
        if best is None:
            return _partition([g for g in groups if g])
        _, a, b = best
        groups[a] += groups[b]
        groups[b] = []


@pytest.mark.parametrize("seed", range(6))
def test_grouping_is_greedy_average_linkage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    faces = _people(rng, people=5, photos=6, spread=1.1).reshape(-1, DIM)
    sources = [int(s) for s in rng.integers(0, 8, size=len(faces))]
    keep = rng.random(len(faces)) < 0.8  # some people missing from some photos
    vectors, sources = faces[keep], [s for s, k in zip(sources, keep, strict=True) if k]
    groups = group_faces([_item(s, v) for s, v in zip(sources, vectors, strict=True)])
    assert _partition([g.members for g in groups]) == _exhaustive(vectors, sources, LINK_THRESHOLD)


def test_grouping_does_not_depend_on_the_order_of_the_faces() -> None:
    rng = np.random.default_rng(7)
    faces = _people(rng, people=6, photos=4, spread=1.2).reshape(-1, DIM)
    sources = [i % 4 for i in range(len(faces))]
    first = group_faces([_item(s, v) for s, v in zip(sources, faces, strict=True)])
    order = rng.permutation(len(faces))
    second = group_faces([_item(sources[i], faces[i]) for i in order])
    assert _partition([g.members for g in first]) == _partition(
        [[int(order[m]) for m in g.members] for g in second]
    )


# --- best face and fused embedding -------------------------------------------------------------
def _quality(**changes: object) -> Quality:
    fields: dict[str, Any] = {
        "ok": True,
        "reasons": (),
        "face_px": 112,
        "det_score": 0.9,
        "blur": 200.0,
        "yaw": 0.0,
        "pitch": 0.0,
    }
    fields.update(changes)
    return Quality(**fields)


def test_quality_score_ranks_unflagged_faces_first_then_size_sharpness_and_pose() -> None:
    good = quality_score(_quality())
    # a flagged face ranks below any unflagged one, however large and sharp
    assert quality_score(_quality(ok=False, reasons=("pose",), face_px=400)) < quality_score(
        _quality(face_px=40, blur=30.0, yaw=40.0, det_score=0.6)
    )
    assert quality_score(_quality(face_px=60)) < good
    assert quality_score(_quality(blur=50.0)) < good
    assert quality_score(_quality(yaw=30.0)) < good
    assert quality_score(_quality(pitch=-25.0)) < good
    assert quality_score(_quality(det_score=0.7)) < good
    # beyond what the 112 px recognizer can use, bigger and sharper gain nothing
    assert quality_score(_quality(face_px=500, blur=900.0)) == good


def test_best_face_comes_first_and_the_best_good_faces_are_fused() -> None:
    rng = np.random.default_rng(8)
    x = _people(rng, people=1, photos=5, spread=0.5)[0]
    scores = [1.3, 1.9, 0.95, 1.5, 1.1]
    good = [True, True, False, True, True]
    groups = group_faces(
        [_item(i, x[i], s, g) for i, (s, g) in enumerate(zip(scores, good, strict=True))],
        fuse_at_most=3,
    )
    assert len(groups) == 1
    g = groups[0]
    # good faces by score, then the flagged one, however high its score
    assert g.members == (1, 3, 0, 4, 2) and g.best == 1
    assert g.fused == 3
    np.testing.assert_allclose(g.embedding, _unit(x[[1, 3, 0]].mean(axis=0)), atol=1e-6)
    # with no limit every good face is fused, and the flagged one only for want of a good one
    everything = group_faces(
        [_item(i, x[i], s, g) for i, (s, g) in enumerate(zip(scores, good, strict=True))]
    )
    np.testing.assert_allclose(everything[0].embedding, fuse(x, good), atol=1e-6)
    flagged = group_faces([_item(i, x[i], s, False) for i, s in enumerate(scores)])
    np.testing.assert_allclose(flagged[0].embedding, _unit(x.mean(axis=0)), atol=1e-6)


async def test_fused_embedding_is_the_gallery_template_of_the_same_faces(gallery: Gallery) -> None:
    rng = np.random.default_rng(9)
    x = _people(rng, people=1, photos=4, spread=0.6)[0]
    good = [True, False, True, True]
    identity = await gallery.identities.create("Fused", "test")
    for i, (embedding, ok) in enumerate(zip(x, good, strict=True)):
        await gallery.faces.add(
            identity_id=identity.id,
            model="test-model",
            embedding=embedding,
            det_score=0.9,
            quality={},
            bbox=[0, 0, 10, 10],
            crop_jpeg=b"",
            source_sha256=hashlib.sha256(bytes([i])).hexdigest(),
            actor="test",
            recipe="flip-mean",
            low_quality=not ok,
        )
    template = await gallery.templates.of(identity.id, "test-model")
    assert template is not None
    np.testing.assert_allclose(fuse(x, good), template[0], atol=1e-5)
    group = group_faces(
        [_item(i, v, 1.0, ok) for i, (v, ok) in enumerate(zip(x, good, strict=True))]
    )
    np.testing.assert_allclose(group[0].embedding, template[0], atol=1e-5)


# --- an album of real photos ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), Limits(), threads=1)


def test_album_groups_each_person_across_its_photos(analyzer: FaceAnalyzer) -> None:
    t1 = read_image(T1)
    left, right = np.ascontiguousarray(t1[:, :640]), np.ascontiguousarray(t1[:, 640:])
    album = [
        analyzer.analyze(read_bytes(T1)).faces,  # everyone
        analyzer.analyze(to_jpeg(flip(resize(t1, 0.8)), quality=80)).faces,  # everyone again
        analyzer.analyze(to_jpeg(left)).faces,  # those on the left
        analyzer.analyze(to_jpeg(right)).faces,  # those on the right
        analyzer.analyze(read_bytes(TOM_HANKS)).faces,  # someone else
    ]
    assert len(album[0]) == T1_FACES and len(album[1]) == T1_FACES
    assert len(album[2]) + len(album[3]) == T1_FACES
    people = group_album(album)
    assert len(people) == T1_FACES + 1
    for person in people[:T1_FACES]:
        # every person of t1 is in both full photos and in one of its halves
        assert len(person.faces) == 3
        assert person.photos[:2] == (0, 1) and person.photos[2] in (2, 3)
        assert person.best.face.quality.ok
        scores = [quality_score(f.face.quality) for f in person.faces]
        assert scores[0] == max(scores)
        cos = [float(person.embedding @ f.face.embedding) for f in person.faces]
        assert min(cos) > 0.8
    hanks = people[-1]
    assert hanks.photos == (4,) and hanks.fused == 1
    np.testing.assert_allclose(hanks.embedding, hanks.best.face.embedding, atol=1e-6)
