"""Unknown faces that come back: the rules that group sightings into unknown persons, their
thresholds from the calibration, and the nightly pass (in memory; the database's store is held
to the same behaviour in test_sightings_gallery.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from facefind.scoring.calibration import Calibration, GallerySize
from facefind.scoring.calibration_files import read_calibration
from facefind.scoring.sighting_memory import MemorySightings
from facefind.scoring.sightings import (
    AMBIGUOUS,
    APART,
    CROWDED,
    JOIN_TARGET,
    WEAK_SUPPORT,
    Candidate,
    Member,
    apart_keys,
    choose_references,
    decide,
    group_key,
    kept_size,
    sighting_key,
    support_needed,
    thresholds_for,
)
from facefind.scoring.unknown_persons import nightly_pass, place_sighting
from gallery.sightings import NewSighting

DIM = 512
MODEL = "test-model"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cal() -> Calibration:
    """The shipped calibration, with the bands' default of no look-alike relatives."""
    shipped = read_calibration(ROOT / "facefind" / "calibrations" / "buffalo_s.json")
    return dataclasses.replace(shipped, relatives=0.0)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def person(rng: np.random.Generator, photos: int, spread: float = 0.8) -> np.ndarray:
    """Photos of one person: two of them score about 0.6, photos of two people about 0."""
    centre = unit(rng.normal(size=DIM))
    return unit(centre + spread * rng.normal(size=(photos, DIM)) / np.sqrt(DIM))


def with_cos(a: np.ndarray, rng: np.random.Generator, cos: float) -> np.ndarray:
    """A unit vector with cosine `cos` to unit `a`."""
    b = rng.normal(size=DIM)
    ortho = unit(b - float(a @ b) * a)
    return unit(cos * a + np.sqrt(1 - cos * cos) * ortho)


def sighting(embedding: np.ndarray, lookup: int, photo: int = 0) -> NewSighting:
    return NewSighting(
        model=MODEL,
        embedding=embedding,
        recipe="test",
        det_score=0.9,
        quality={},
        quality_score=1.5,
        low_quality=False,
        bbox=(0.0, 0.0, 10.0, 10.0),
        crop_jpeg=None,
        lookup_id=lookup,
        actor="tg:1",
        photo_index=photo,
    )


def candidate(key: tuple[str, int], vectors: np.ndarray, lookup0: int = 100) -> Candidate:
    return Candidate(
        key,
        tuple(
            Member(i, v, apart_keys(lookup0 + i, 0)) for i, v in enumerate(np.atleast_2d(vectors))
        ),
    )


# --- thresholds -------------------------------------------------------------------------------
def test_the_join_threshold_keeps_the_stated_rate_and_rises_with_the_unknown_persons_kept(
    cal: Calibration,
) -> None:
    few = thresholds_for(cal, {1: 50, 2: 10})
    many = thresholds_for(cal, {1: 50_000, 2: 5_000, 5: 1_000})
    assert few.target == many.target == JOIN_TARGET
    assert few.support <= few.join < many.join <= many.merge
    for thr in (few, many):
        assert thr.false_join_rate(thr.join) <= JOIN_TARGET
        # any lower threshold would break the stated rate (unless the floor holds it up)
        if thr.join > thr.support:
            assert thr.false_join_rate(thr.join - 0.002) > JOIN_TARGET
        assert thr.false_join_rate(thr.merge) <= JOIN_TARGET / 2
    assert many.kept == 56_000


def test_a_large_group_counts_as_several_identities_of_three_references() -> None:
    assert kept_size({7: 2, 3: 1, 1: 4}) == GallerySize({3: 2 * 3 + 1, 1: 4})
    assert kept_size({}).identities == 0


def test_support_is_every_sighting_of_a_small_group_and_half_of_a_large_one() -> None:
    assert [support_needed(n) for n in (1, 2, 3, 4, 5, 10)] == [1, 2, 2, 2, 3, 5]


# --- one new sighting -------------------------------------------------------------------------
def test_a_sighting_joins_the_one_group_it_matches_with_support(cal: Calibration) -> None:
    rng = np.random.default_rng(1)
    a = person(rng, 4)
    thr = thresholds_for(cal, {3: 1, 1: 20})
    strangers = [candidate(sighting_key(50 + k), unit(rng.normal(size=DIM))) for k in range(5)]
    placed = decide(
        a[3],
        apart_keys(1, 0),
        [candidate(group_key(7), a[:3]), *strangers],
        thr,
    )
    assert placed.outcome == "joined" and placed.target == group_key(7)
    assert placed.score is not None and placed.score >= thr.join
    alone = decide(unit(rng.normal(size=DIM)), apart_keys(2, 0), strangers, thr)
    assert alone.outcome == "alone" and alone.target is None and not alone.evidence


def test_one_close_sighting_in_a_group_that_disagrees_is_a_weak_link_never_a_join(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(2)
    a = person(rng, 4)
    thr = thresholds_for(cal, {4: 1})
    # as close as can be to one sighting, and unlike the three others
    query = with_cos(a[0], rng, 0.75)
    for other in a[1:]:
        query = unit(query - 0.9 * float(query @ other) * other)
    group = candidate(group_key(3), a)
    placed = decide(query, apart_keys(9, 0), [group], thr)
    [ev] = placed.evidence
    assert ev.best >= thr.join and ev.support < ev.needed
    assert placed.outcome == "deferred" and placed.reason == WEAK_SUPPORT


def test_a_look_alike_between_two_people_is_deferred_not_joined_to_either(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(3)
    a, b = person(rng, 2, spread=0.3), person(rng, 2, spread=0.3)
    between = unit(a.mean(axis=0) + b.mean(axis=0))
    thr = thresholds_for(cal, {2: 2})
    groups = [candidate(group_key(1), a), candidate(group_key(2), b, lookup0=200)]
    placed = decide(between, apart_keys(9, 0), groups, thr)
    assert placed.outcome == "deferred" and placed.reason == AMBIGUOUS
    assert {e.key for e in placed.evidence} == {group_key(1), group_key(2)}


def test_a_face_of_one_person_split_in_two_groups_joins_the_larger(cal: Calibration) -> None:
    rng = np.random.default_rng(13)
    a = person(rng, 6)
    thr = thresholds_for(cal, {3: 1, 2: 1})
    groups = [candidate(group_key(1), a[:2]), candidate(group_key(2), a[2:5], lookup0=200)]
    placed = decide(a[5], apart_keys(9, 0), groups, thr)
    assert placed.outcome == "joined" and placed.target == group_key(2)
    assert {e.key for e in placed.evidence} == {group_key(1), group_key(2)}


def test_two_faces_of_one_photo_never_share_a_group(cal: Calibration) -> None:
    rng = np.random.default_rng(4)
    a = person(rng, 2)
    thr = thresholds_for(cal, {1: 1})
    same_photo = Candidate(sighting_key(5), (Member(5, a[0], apart_keys(8, 0)),))
    assert decide(a[1], apart_keys(8, 0), [same_photo], thr).reason == APART
    # the same photo's second face in another album photo is a face of another photo
    assert decide(a[1], apart_keys(8, 1), [same_photo], thr).outcome == "joined"


def test_a_full_shortlist_of_close_sightings_defers_rather_than_decide_on_part(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(5)
    a = person(rng, 3)
    thr = thresholds_for(cal, {2: 1})
    placed = decide(a[2], apart_keys(9, 0), [candidate(group_key(1), a[:2])], thr, crowded=True)
    assert placed.outcome == "deferred" and placed.reason == CROWDED


def test_an_admins_references_are_the_best_good_sightings() -> None:
    picked = choose_references([(1, False, 1.9), (2, True, 1.2), (3, True, 1.7), (4, True, 1.7)])
    assert picked == [3, 4, 2]
    assert choose_references([(1, False, 0.2)], at_most=3) == [1]


# --- the incremental grouping and the nightly pass --------------------------------------------
async def test_the_same_unknown_face_sent_again_is_seen_before_and_strangers_stay_alone(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(6)
    store = MemorySightings()
    a = person(rng, 3)
    first = await place_sighting(store, sighting(a[0], lookup=1), cal)
    assert first.placement.outcome == "alone" and not first.seen_before
    for k in range(10):
        stranger = await place_sighting(store, sighting(unit(rng.normal(size=DIM)), 10 + k), cal)
        assert stranger.placement.outcome == "alone"
    second = await place_sighting(store, sighting(a[1], lookup=2), cal)
    assert second.seen_before and second.placement.target == sighting_key(first.sighting_id)
    third = await place_sighting(store, sighting(a[2], lookup=3), cal)
    assert third.group_id is not None and third.group_id == second.group_id
    assert sorted(store.groups[third.group_id].members) == sorted(
        [first.sighting_id, second.sighting_id, third.sighting_id]
    )
    assert await store.kept(MODEL) == {3: 1, 1: 10}


async def test_the_nightly_pass_merges_one_person_split_in_two(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(7)
    store = MemorySightings()
    a = person(rng, 5)
    # one person in two groups, as two officers' photos paired before anyone linked them
    groups = []
    for k in (0, 2):
        first = (await store.add(sighting(a[k], lookup=k), state="alone")).sighting_id
        added = await store.add(sighting(a[k + 1], lookup=k + 1), state="grouped", pair_with=first)
        groups.append(added.group_id)
    assert len(set(groups)) == 2
    waiting = await place_sighting(store, sighting(a[4], lookup=99), cal)
    assert waiting.placement.outcome == "joined" and waiting.group_id == groups[0]

    report = await nightly_pass(store, MODEL, cal, actor="system")
    assert report.merges == 1 and report.bridges == 0
    open_groups = await store.open_groups(MODEL)
    assert len(open_groups) == 1
    [group] = open_groups
    assert sorted(store.groups[group].members) == [1, 2, 3, 4, waiting.sighting_id]
    assert report.placed == 0 and report.deferred == 0
    merges = [d for action, d in store.log if action == "unknown_person.merge"]
    assert merges and merges[0]["thresholds"]["merge"] >= merges[0]["thresholds"]["join"]


async def test_the_nightly_pass_never_merges_two_people_through_a_look_alike(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(8)
    store = MemorySightings()
    a, b = person(rng, 2, spread=0.3), person(rng, 2, spread=0.3)
    between = unit(a.mean(axis=0) + b.mean(axis=0))
    c = unit(between + 0.3 * rng.normal(size=(2, DIM)) / np.sqrt(DIM))
    groups = []
    for k, pair in enumerate((a, b, c)):
        first = (await store.add(sighting(pair[0], 10 * k), state="alone")).sighting_id
        added = await store.add(sighting(pair[1], 10 * k + 1), state="grouped", pair_with=first)
        groups.append(added.group_id)

    report = await nightly_pass(store, MODEL, cal, actor="system")
    assert report.merges == 0 and report.bridges >= 1
    assert await store.open_groups(MODEL) == sorted(g for g in groups if g is not None)


async def test_a_face_seen_more_often_than_a_shortlist_holds_still_joins_its_group(
    cal: Calibration,
) -> None:
    rng = np.random.default_rng(9)
    a = person(rng, 8, spread=0.5)
    store = MemorySightings(shortlist_length=3)
    placed = [await place_sighting(store, sighting(v, lookup=k), cal) for k, v in enumerate(a)]
    assert [p.placement.outcome for p in placed] == ["alone"] + ["joined"] * 7
    assert len({p.group_id for p in placed[1:]}) == 1
    # but a full shortlist of sightings in no group, all within reach, may hide one: deferred
    crowd = MemorySightings(shortlist_length=3)
    for k, v in enumerate(person(rng, 3, spread=0.5)):
        await crowd.add(sighting(v, lookup=k), state="alone")
    late = await place_sighting(crowd, sighting(a[0], lookup=9), cal)
    assert late.placement.outcome == "alone"  # nothing within reach: nothing hidden
    b = person(rng, 4, spread=0.5)
    for k, v in enumerate(b[:3]):
        await crowd.add(sighting(v, lookup=20 + k), state="alone")
    hidden = await place_sighting(crowd, sighting(b[3], lookup=30), cal)
    assert hidden.placement.reason == CROWDED
