"""Identification and enrollment through the service, on the real models and database."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec
from facefind.errors import AmbiguousFaces, EnrollRefused
from facefind.runtime.settings import Settings, Thresholds
from facefind.service import FaceFind
from recognition import EmptyImage, ImageError, UnsupportedImage
from tests import images

ACTOR = Requester(actor="test")


def open_settings(dsn: str, data_dir: Path) -> Settings:
    return Settings(database_url=dsn, data_dir=data_dir, inference_workers=2)


@pytest.fixture(scope="module")
async def enrolled(
    module_dsn: str, tmp_path_factory: pytest.TempPathFactory, t1: np.ndarray, t1_boxes: list
) -> AsyncIterator[tuple[FaceFind, list[int]]]:
    """A service whose gallery holds the six people of t1.jpg, one identity each."""
    service = await FaceFind.open(open_settings(module_dsn, tmp_path_factory.mktemp("svc")))
    ids = []
    for k, box in enumerate(t1_boxes):
        photo = images.to_jpeg(images.crop_around(t1, box, margin=0.6))
        result = await service.enroller.enroll(
            photo, IdentitySpec(f"Person {k + 1}", f"REF-{k + 1}"), ACTOR
        )
        assert result.face_id is not None and result.identity_created
        ids.append(result.identity.id)
    yield service, ids
    await service.close()


DERIVATIONS = {
    "tight crop": lambda img, box: images.to_jpeg(images.crop_around(img, box, margin=0.25)),
    "flipped": lambda img, box: images.to_jpeg(images.flip(images.crop_around(img, box, 0.5))),
    "half size": lambda img, box: images.to_jpeg(
        images.resize(images.crop_around(img, box, 0.8), 0.5)
    ),
    "jpeg q=30": lambda img, box: images.recompress_jpeg(images.crop_around(img, box, 0.5), 30),
    "png": lambda img, box: images.to_png(images.crop_around(img, box, 0.5)),
    "exif rotated": lambda img, box: images.with_exif_orientation(
        images.crop_around(img, box, 0.5), 6
    ),
}


@pytest.mark.parametrize("derivation", sorted(DERIVATIONS))
async def test_derived_photos_find_the_right_person_as_strong(
    enrolled: tuple[FaceFind, list[int]], t1: np.ndarray, t1_boxes: list, derivation: str
) -> None:
    service, ids = enrolled
    for k, box in enumerate(t1_boxes):
        result = await service.identifier.identify(DERIVATIONS[derivation](t1, box), ACTOR)
        assert len(result.faces) >= 1
        top = result.faces[0].candidates[0]
        assert (top.identity_id, top.band) == (ids[k], "strong"), f"person {k + 1}"
        assert top.display_name == f"Person {k + 1}" and top.external_ref == f"REF-{k + 1}"


async def test_the_group_photo_names_each_face_once(enrolled: tuple[FaceFind, list[int]]) -> None:
    service, ids = enrolled
    result = await service.identifier.identify(images.read_bytes("t1.jpg"), ACTOR)
    tops = [fr.candidates[0].identity_id for fr in result.faces]
    assert sorted(tops) == sorted(ids)
    assert all(fr.candidates[0].band == "strong" for fr in result.faces)
    # the lookup is recorded with its faces and candidates
    stored = await service.gallery.lookups.get(result.lookup_id)
    assert stored is not None and stored.status == "done" and stored.face_count == 6
    assert [f.candidates[0].identity_id for f in stored.faces] == tops
    assert all(f.crop_jpeg for f in stored.faces)


async def test_a_person_not_enrolled_gets_no_confident_match(
    enrolled: tuple[FaceFind, list[int]],
) -> None:
    service, _ = enrolled
    result = await service.identifier.identify(images.read_bytes("Tom_Hanks_54745.png"), ACTOR)
    assert len(result.faces) == 1
    assert result.faces[0].candidates == []


async def test_one_identity_is_not_given_to_two_faces_of_one_photo(
    enrolled: tuple[FaceFind, list[int]], t1: np.ndarray, t1_boxes: list
) -> None:
    service, ids = enrolled
    crop = images.crop_around(t1, t1_boxes[0], margin=0.6)
    # the same person twice, one copy degraded so its similarity is lower
    worse = images.resize(images.resize(crop, 0.35), 1 / 0.35)
    both = np.hstack([crop, cv2.resize(worse, (crop.shape[1], crop.shape[0]))])
    result = await service.identifier.identify(images.to_jpeg(both), ACTOR)
    assert len(result.faces) == 2
    owners = [
        fr
        for fr in result.faces
        if any(c.identity_id == ids[0] and c.held_by_face is None for c in fr.candidates)
    ]
    assert len(owners) == 1
    assert owners[0].candidates[0].identity_id == ids[0]


async def test_a_face_whose_match_another_face_holds_shows_it_as_a_lead(
    enrolled: tuple[FaceFind, list[int]],
    t1: np.ndarray,
    t1_boxes: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.delivery.outbox import CandidateSlot, compose
    from facefind.cli.identify import _print_text

    service, ids = enrolled
    # one person twice: as photographed, and mirrored and softened (a twin, as the gallery
    # sees it: both faces match the identity, one better)
    crop = images.crop_around(t1, t1_boxes[0], margin=0.6)
    softer = images.flip(images.resize(images.resize(crop, 0.3), 1 / 0.3))
    both = np.hstack([crop, cv2.resize(softer, (crop.shape[1], crop.shape[0]))])
    result = await service.identifier.identify(images.to_jpeg(both), ACTOR)
    assert len(result.faces) == 2
    [holder] = [
        fr
        for fr in result.faces
        if fr.candidates[0].identity_id == ids[0] and fr.candidates[0].held_by_face is None
    ]
    [other] = [fr for fr in result.faces if fr is not holder]
    [lead] = [c for c in other.candidates if c.identity_id == ids[0]]
    assert lead.held_by_face == holder.face.index
    assert holder.candidates[0].held_by_face is None
    assert holder.candidates[0].similarity >= lead.similarity >= result.bands.thresholds.possible
    # the lead comes after the face's own candidates, and does not take one of their places
    own = [c for c in other.candidates if c.held_by_face is None]
    assert other.candidates.index(lead) == len(own) and lead.rank == len(own) + 1

    # stored with the lookup
    stored = await service.gallery.lookups.get(result.lookup_id)
    assert stored is not None
    [stored_other] = [f for f in stored.faces if f.face_index == other.face.index]
    [stored_lead] = [c for c in stored_other.candidates if c.identity_id == ids[0]]
    assert stored_lead.held_by_face == holder.face.index
    assert stored_lead.similarity == pytest.approx(lead.similarity, abs=1e-6)
    # /history's summary names each face's own first candidate, never a lead
    [summary] = [s for s in await service.gallery.lookups.recent(limit=50) if s.id == stored.id]
    assert summary.top_candidates is not None
    assert summary.top_candidates.count("Person 1") == 1

    # the bot's reply words it as a lead, with both scores, and never as a second match
    messages = [
        s.render(frozenset()) if isinstance(s, CandidateSlot) else s for s in compose(stored)
    ]
    captions = [m.text for m in messages if m is not None]
    [shown] = [c for c in captions if "a lead, not a candidate" in c]
    there = round(holder.candidates[0].similarity * 100)
    assert f"Face #{other.face.index} · a lead, not a candidate for this face" in shown
    assert f"Person 1 [REF-1]\nSimilarity {round(lead.similarity * 100)}% — " in shown
    assert f"also matches face #{holder.face.index}, better there ({there}%)" in shown
    assert "strong match" not in shown and "candidate 1 of" not in shown
    assert sum("Person 1" in c for c in captions) == 2  # the holder's candidate and the lead
    # and so does the CLI
    _print_text("both.jpg", result, None)
    printed = capsys.readouterr().out
    assert (
        f"lead (not a candidate for this face): Person 1 [REF-1] (identity #{ids[0]}) "
        f"similarity {lead.similarity * 100:.0f}%" in printed
    )
    assert f"also matches face {holder.face.index}, better there ({there}%)" in printed


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyImage),
        (b"hello, this is not an image", UnsupportedImage),
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", UnsupportedImage),
    ],
)
async def test_bad_input_is_refused_clearly_and_recorded(
    enrolled: tuple[FaceFind, list[int]], data: bytes, error: type[ImageError]
) -> None:
    service, _ = enrolled
    lookup_id = await service.identifier.begin_lookup(ACTOR, source="cli")
    assert lookup_id is not None
    with pytest.raises(error):
        await service.identifier.identify(data, ACTOR, lookup_id=lookup_id)
    stored = await service.gallery.lookups.get(lookup_id)
    assert stored is not None and stored.status == "error" and stored.error == error.code


async def test_enrollment_is_idempotent_and_warns_of_duplicates(
    enrolled: tuple[FaceFind, list[int]], t1: np.ndarray, t1_boxes: list
) -> None:
    service, ids = enrolled
    photo = images.to_jpeg(images.crop_around(t1, t1_boxes[1], margin=0.4))
    first = await service.enroller.enroll(photo, IdentitySpec("Person 2", "REF-2"), ACTOR)
    again = await service.enroller.enroll(photo, IdentitySpec("Person 2", "REF-2"), ACTOR)
    assert first.identity.id == ids[1] and not first.identity_created
    assert first.face_id is not None and again.face_id is None
    # the same face under another name: enrolled, with a warning naming the other identity
    other = await service.enroller.enroll(
        images.to_jpeg(images.crop_around(t1, t1_boxes[1], margin=0.7)),
        IdentitySpec("Somebody Else"),
        ACTOR,
    )
    assert [d.identity_id for d in other.duplicates] == [ids[1]]
    await service.gallery.identities.forget(other.identity.id, "test", erase=True)


async def test_enrollment_refuses_tiny_faces_and_tied_group_photos(
    enrolled: tuple[FaceFind, list[int]], t1: np.ndarray, t1_boxes: list
) -> None:
    service, _ = enrolled
    # a 17 px face: too small to embed meaningfully (a 34 px one would be enrolled, flagged)
    tiny = images.to_jpeg(images.resize(images.crop_around(t1, t1_boxes[0], margin=1.0), 0.15))
    with pytest.raises(EnrollRefused) as refused:
        await service.enroller.enroll(tiny, IdentitySpec("Tiny"), ACTOR)
    assert "small" in refused.value.reasons
    with pytest.raises(AmbiguousFaces):
        await service.enroller.enroll(images.read_bytes("t1.jpg"), IdentitySpec("Group"), ACTOR)
    assert await service.gallery.identities.named("Tiny") == []
    assert await service.gallery.identities.named("Group") == []


async def test_a_forgotten_identity_is_no_longer_found(
    fresh_dsn: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    service = await FaceFind.open(open_settings(fresh_dsn, tmp_path))
    try:
        box = t1_boxes[2]
        enrolled = await service.enroller.enroll(
            images.to_jpeg(images.crop_around(t1, box, 0.6)), IdentitySpec("Person 3"), ACTOR
        )
        query = images.to_jpeg(images.crop_around(t1, box, 0.4))
        assert (await service.identifier.identify(query, ACTOR)).faces[0].candidates
        await service.gallery.identities.forget(enrolled.identity.id, "test", erase=True)
        assert (await service.identifier.identify(query, ACTOR)).faces[0].candidates == []
    finally:
        await service.close()


async def test_a_fixed_strong_threshold_below_the_derived_band_never_fails_a_lookup(
    fresh_dsn: str,
    tmp_path: Path,
    t1: np.ndarray,
    t1_boxes: list,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="facefind.scoring.bands")
    # the shipped calibration's possible band is never below 0.32: a fixed strong 0.30 is
    # crossed at every gallery size
    settings = dataclasses.replace(open_settings(fresh_dsn, tmp_path), strong_threshold=0.30)
    service = await FaceFind.open(settings)
    try:
        for k in (2, 3):  # the gallery grows between lookups, so the bands are derived again
            box = t1_boxes[k]
            photo = images.to_jpeg(images.crop_around(t1, box, 0.6))
            await service.enroller.enroll(photo, IdentitySpec(f"Person {k + 1}"), ACTOR)
            result = await service.identifier.identify(
                images.to_jpeg(images.crop_around(t1, box, 0.4)), ACTOR
            )
            assert result.bands.thresholds == Thresholds(strong=0.30, possible=0.30)
            top = result.faces[0].candidates[0]
            assert (top.display_name, top.band) == (f"Person {k + 1}", "strong")
    finally:
        await service.close()
    held = [m for m in caplog.messages if "identities: possible is held at 0.300" in m]
    assert len(held) == 1


async def test_a_reply_owed_lookup_stores_its_numbered_photo_and_keeps_no_pixels(
    enrolled: tuple[FaceFind, list[int]], t1: np.ndarray
) -> None:
    service, _ = enrolled
    analysis, crops, overview = await service.analysis.analyze_for_reply(images.to_jpeg(t1))
    assert len(analysis.faces) == len(crops) == 6
    assert overview is not None
    shown = cv2.imdecode(np.frombuffer(overview, np.uint8), cv2.IMREAD_COLOR)
    assert shown is not None
    assert shown.shape[1] * t1.shape[0] == pytest.approx(shown.shape[0] * t1.shape[1], rel=0.01)
    # the decoded photo is gone: what is left is a view of its shape that holds no memory
    assert (analysis.width, analysis.height) == (t1.shape[1], t1.shape[0])
    assert analysis.image.strides == (0, 0, 0)
    _, _, single = await service.analysis.analyze_for_reply(images.to_jpeg(images.crop_around(
        t1, analysis.faces[0].bbox, margin=0.6)))  # fmt: skip
    assert single is None  # one face: no numbered picture
