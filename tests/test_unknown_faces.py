"""Unknown faces in the service: a person without a candidate kept once however often the
lookup's job runs, told as seen before by the next lookup of that face, and, for a model pack
without a calibration, kept without grouping (with a note in the log) and no nightly pass."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.analysis import Person
from facefind.investigations.unknown import NO_CALIBRATION, UnknownFaces
from facefind.scoring.calibration_files import read_calibration
from gallery import Gallery
from recognition.types import DetectedFace, Quality

ROOT = Path(__file__).resolve().parent.parent
MODEL = "test-model"
OFFICER = Requester.telegram(41)


def person(embedding: np.ndarray, index: int = 1) -> Person:
    quality = Quality(True, (), 90, 0.9, 120.0, 5.0, 3.0)
    face = DetectedFace(
        index=index,
        bbox=(1.0, 2.0, 91.0, 112.0),
        landmarks=np.zeros((5, 2), np.float32),
        det_score=0.9,
        quality=quality,
        crop=np.zeros((112, 112, 3), np.uint8),
        embedding=embedding,
    )
    return Person(index=index, face=face, crop_jpeg=b"\xff\xd8crop", embedding=embedding)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


async def lookup(g: Gallery) -> int:
    made = await g.lookups.create(user_id=41, actor=OFFICER.actor, source="cli")
    assert made is not None
    return made


async def test_a_face_is_kept_once_per_lookup_and_told_as_seen_before_next_time(
    gallery: Gallery,
) -> None:
    await gallery.users.set_status(41, "approved", "test", create=True)
    shipped = read_calibration(ROOT / "facefind" / "calibrations" / "buffalo_s.json")
    unknown = UnknownFaces(gallery, MODEL, "test", dataclasses.replace(shipped, relatives=0.0))
    rng = np.random.default_rng(3)
    face = unit(rng.normal(size=512))
    again = unit(face + 0.3 * unit(rng.normal(size=512)))  # the same face, another photo

    first = await lookup(gallery)
    assert await unknown.keep(first, OFFICER, [person(face)]) == {1: None}
    assert await unknown.keep(first, OFFICER, [person(face)]) == {1: None}  # the job again
    second = await lookup(gallery)
    placed = await unknown.keep(second, OFFICER, [person(again)])
    assert placed[1] is not None  # joined the first, as a group of two
    assert await gallery.pool.fetchval("SELECT count(*) FROM sightings") == 2
    seen = await unknown.seen_before(second)
    assert [s.lookup_id for s in seen[1]] == [first]
    assert await unknown.seen_before(first) == {}  # nothing came before the first


async def test_without_a_calibration_faces_are_kept_but_never_grouped(
    gallery: Gallery, caplog: pytest.LogCaptureFixture
) -> None:
    await gallery.users.set_status(41, "approved", "test", create=True)
    unknown = UnknownFaces(gallery, MODEL, "test", None)
    face = unit(np.random.default_rng(4).normal(size=512))
    with caplog.at_level(logging.INFO, logger="facefind.investigations.unknown"):
        for _ in range(2):
            assert await unknown.keep(await lookup(gallery), OFFICER, [person(face)]) == {1: None}
        assert await unknown.nightly() is None
    rows = await gallery.pool.fetch("SELECT state, reason, group_id FROM sightings")
    assert [tuple(r) for r in rows] == [("alone", NO_CALIBRATION, None)] * 2
    notes = [r.message for r in caplog.records if "no calibration" in r.message]
    assert len(notes) == 2  # kept without grouping (once), and the nightly pass skipped
