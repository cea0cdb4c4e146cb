"""Enrollment that leaves nobody out silently, templates from every reference, bands that follow
the gallery's size: on photos derived from t1.jpg, with the real models and database."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.cli.gallery import workers_arg
from facefind.enroll.folder import AUTO_WORKERS_FROM, FolderReport, auto_workers
from facefind.enroll.folder_scan import scan_folder
from facefind.enroll.photo import IdentitySpec
from facefind.errors import PoorReference
from facefind.runtime.settings import Settings
from facefind.scoring.calibration import Calibration
from facefind.scoring.calibration_files import save_calibration
from facefind.service import FaceFind
from gallery.server_settings import Machine
from recognition.models import resolve_model_pack
from tests import images

ACTOR = Requester(actor="test")


def head(t1: np.ndarray, box: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """A person's head and shoulders cut from t1.jpg, resized."""
    return images.resize(images.crop_around(t1, box, 0.6), scale)


def compose(width: int, height: int, *placed: tuple[np.ndarray, int, int]) -> bytes:
    """A JPEG of a grey canvas with each picture pasted with its centre at (x, y), cut off
    where it passes the canvas's edge."""
    canvas = np.full((height, width, 3), 128, np.uint8)
    for picture, x, y in placed:
        h, w = picture.shape[:2]
        top, left = y - h // 2, x - w // 2
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(height, top + h), min(width, left + w)
        canvas[y0:y1, x0:x1] = picture[y0 - top : y1 - top, x0 - left : x1 - left]
    return images.to_jpeg(canvas)


@pytest.fixture
async def service(fresh_dsn: str, tmp_path: Path) -> AsyncIterator[FaceFind]:
    svc = await FaceFind.open(Settings(database_url=fresh_dsn, data_dir=tmp_path))
    yield svc
    await svc.close()


async def enroll_folder(service: FaceFind, root: Path) -> FolderReport:
    return await service.enroll_plan(scan_folder(root), ACTOR)


async def top_candidate_name(service: FaceFind, photo: bytes) -> str | None:
    result = await service.identifier.identify(photo, ACTOR)
    cands = result.faces[0].candidates
    return cands[0].display_name if cands else None


async def test_a_portrait_with_a_bystander_enrolls_the_subject(
    service: FaceFind, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    subject, bystander = t1_boxes[0], t1_boxes[4]
    folder = tmp_path / "people" / "Subject"
    folder.mkdir(parents=True)
    # the subject large in the middle, a bystander almost as large at the edge
    portrait = compose(
        900, 700, (head(t1, subject, 2.0), 450, 360), (head(t1, bystander, 1.6), 790, 150)
    )
    (folder / "portrait.jpg").write_bytes(portrait)
    report = await enroll_folder(service, tmp_path / "people")
    assert report.people_enrolled == 1 and report.enrolled == 1 and not report.ties
    assert report.not_enrolled == []
    # the enrolled face is the subject's, not the bystander's
    assert await top_candidate_name(service, images.to_jpeg(head(t1, subject, 1.0))) == "Subject"
    assert await top_candidate_name(service, images.to_jpeg(head(t1, bystander, 1.0))) is None


async def test_a_real_tie_is_skipped_with_a_numbered_picture_and_enrolled_by_number(
    service: FaceFind, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    folder = tmp_path / "people" / "Pair"
    folder.mkdir(parents=True)
    pair = compose(
        900, 500, (head(t1, t1_boxes[1], 1.5), 270, 250), (head(t1, t1_boxes[3], 1.5), 630, 250)
    )
    (folder / "pair.jpg").write_bytes(pair)
    report = await enroll_folder(service, tmp_path / "people")
    assert report.enrolled == 0 and report.not_enrolled == ["Pair"]
    [(photo, count, picture)] = report.ties
    assert photo.endswith("pair.jpg") and count == 2
    decoded = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[1] == 900
    # the admin looks at the numbers and enrolls face 2 explicitly
    result = await service.enroller.enroll(pair, IdentitySpec("Pair"), ACTOR, face_index=2)
    assert result.face_id is not None and result.chosen_by == "index"
    assert result.face.bbox[0] > 450  # the right-hand face


async def test_a_tie_is_broken_by_the_persons_other_photos(
    service: FaceFind, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    folder = tmp_path / "people" / "Person 4"
    folder.mkdir(parents=True)
    (folder / "alone.jpg").write_bytes(images.to_jpeg(head(t1, t1_boxes[3], 1.0)))
    pair = compose(
        900, 500, (head(t1, t1_boxes[1], 1.5), 270, 250), (head(t1, t1_boxes[3], 1.5), 630, 250)
    )
    (folder / "with_friend.jpg").write_bytes(pair)
    report = await enroll_folder(service, tmp_path / "people")
    assert report.enrolled == 2 and not report.ties
    # the friend (person 2) was not enrolled as person 4
    assert await top_candidate_name(service, images.to_jpeg(head(t1, t1_boxes[1], 1.0))) is None


async def test_a_blurry_only_photo_is_enrolled_flagged_and_matches_say_so(
    service: FaceFind, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    folder = tmp_path / "people" / "Blurry"
    folder.mkdir(parents=True)
    blurred = cv2.GaussianBlur(head(t1, t1_boxes[5], 1.0), (0, 0), 2.5)
    (folder / "only.jpg").write_bytes(images.to_jpeg(blurred))
    report = await enroll_folder(service, tmp_path / "people")
    assert report.enrolled == 1 and report.not_enrolled == []
    [(photo, flags)] = report.flagged
    assert photo.endswith("only.jpg") and "blurry" in flags
    assert report.as_dict()["flagged"] == 1
    result = await service.identifier.identify(images.to_jpeg(head(t1, t1_boxes[5], 1.0)), ACTOR)
    [candidate] = result.faces[0].candidates
    assert candidate.display_name == "Blurry" and candidate.low_quality_ref
    stored = await service.gallery.lookups.get(result.lookup_id)
    assert stored is not None and stored.faces[0].candidates[0].low_quality_ref
    # a sharp photo joins; another poor one is then refused: a better reference exists
    identity = result.faces[0].candidates[0].identity_id
    sharp = await service.enroller.enroll(
        images.to_jpeg(head(t1, t1_boxes[5], 1.2)), IdentitySpec("Blurry"), ACTOR
    )
    assert sharp.identity.id == identity and sharp.flags == ()
    with pytest.raises(PoorReference):
        await service.enroller.enroll(
            images.to_jpeg(cv2.GaussianBlur(head(t1, t1_boxes[5], 1.1), (0, 0), 2.5)),
            IdentitySpec("Blurry"),
            ACTOR,
        )


async def test_the_template_is_kept_through_enroll_and_forget(
    service: FaceFind, t1: np.ndarray, t1_boxes: list
) -> None:
    first = await service.enroller.enroll(
        images.to_jpeg(head(t1, t1_boxes[0], 1.0)), IdentitySpec("Ada"), ACTOR
    )
    ident = first.identity.id
    template, refs = await service.gallery.templates.of(ident, service.model) or (None, 0)
    assert refs == 1 and template is not None
    np.testing.assert_allclose(template, first.face.embedding, atol=1e-5)
    second = await service.enroller.enroll(
        images.recompress_jpeg(head(t1, t1_boxes[0], 1.4), 60), IdentitySpec("Ada"), ACTOR
    )
    template, refs = await service.gallery.templates.of(ident, service.model) or (None, 0)
    mean = first.face.embedding + second.face.embedding
    assert refs == 2 and template is not None
    np.testing.assert_allclose(template, mean / np.linalg.norm(mean), atol=1e-5)
    assert await service.gallery.templates.gallery_size(service.model) == {2: 1}
    await service.gallery.identities.forget(ident, "test", erase=False)
    assert await service.gallery.templates.of(ident, service.model) is None
    assert await service.gallery.templates.gallery_size(service.model) == {}


def steep_calibration() -> Calibration:
    """A calibration for the real buffalo_s files with an impostor tail that falls tenfold every
    0.05: the bands it gives move visibly with a handful of identities."""
    pack = resolve_model_pack(None)
    grid = tuple(round(0.1 + 0.05 * i, 2) for i in range(15))
    fmr = tuple(10 ** (-1 - i) for i in range(15))
    return Calibration.from_tables(
        model=pack.name, recognizer_sha256=pack.recognizer_sha256, recipe="flip-mean",
        fusion="max", source="test", grid=grid, fmr={1: fmr}, found={}, floor=0.1,
    )  # fmt: skip


async def test_the_bands_move_with_the_number_of_identities(
    fresh_dsn: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    save_calibration(steep_calibration(), tmp_path / "calibrations" / "buffalo_s.json")
    service = await FaceFind.open(Settings(database_url=fresh_dsn, data_dir=tmp_path))
    try:
        empty = await service.bands.current()
        assert empty.source == "calibrated" and empty.identities == 0
        possibles = []
        for k, box in enumerate(t1_boxes):
            await service.enroller.enroll(
                images.to_jpeg(head(t1, box, 1.0)), IdentitySpec(f"P{k}"), ACTOR
            )
            bands = await service.bands.current()
            assert bands.identities == k + 1
            possibles.append(bands.thresholds.possible)
        assert possibles == sorted(possibles) and possibles[-1] > possibles[0]
        result = await service.identifier.identify(
            images.to_jpeg(head(t1, t1_boxes[0], 1.3)), ACTOR
        )
        top = result.faces[0].candidates[0]
        expected = 1 - (1 - steep_calibration().fmr(top.similarity)) ** 6
        assert top.false_candidate_rate == pytest.approx(expected)
        stored = await service.gallery.lookups.get(result.lookup_id)
        assert stored is not None and stored.bands["identities"] == 6
    finally:
        await service.close()


async def test_reembed_brings_an_old_gallery_to_the_current_recipe_and_pack(
    fresh_dsn: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    from facefind.enroll.reembed import reembed
    from facefind.errors import StaleEmbeddings

    settings = Settings(database_url=fresh_dsn, data_dir=tmp_path)
    service = await FaceFind.open(settings)
    try:
        photos = [images.to_jpeg(head(t1, box, 1.0)) for box in t1_boxes[:3]]
        for k, photo in enumerate(photos):
            await service.enroller.enroll(photo, IdentitySpec(f"P{k}"), ACTOR)
        current = {
            r["id"]: np.asarray(r["embedding"].to_numpy())
            for r in await service.gallery.pool.fetch("SELECT id, embedding FROM faces")
        }
        # what an older version left behind: another recipe, other vectors
        await service.gallery.pool.execute(
            "UPDATE faces SET recipe = 'plain',"
            " embedding = embedding * array_fill(-1.0::real, ARRAY[512])::vector"
        )
    finally:
        await service.close()
    with pytest.raises(StaleEmbeddings, match="facefind reembed"):
        await FaceFind.open(settings)
    service = await FaceFind.open(settings, check_embeddings=False)
    try:
        report = await reembed(service.gallery, service.analysis, service.bands, ACTOR, batch=2)
        assert report.reembedded == 3 and report.without_crop == 0
        rows = await service.gallery.pool.fetch("SELECT id, embedding, recipe FROM faces")
        for r in rows:
            assert r["recipe"] == "flip-mean"
            # from the stored JPEG crop: close to, not bit-equal with, the photo's embedding
            assert float(np.dot(r["embedding"].to_numpy(), current[r["id"]])) > 0.97
        found = await service.identifier.identify(photos[1], ACTOR)
        assert found.faces[0].candidates[0].display_name == "P1"
    finally:
        await service.close()
    await (await FaceFind.open(settings)).close()  # the start-up check passes again


async def test_reembed_from_another_model_pack_copies_faces_with_their_crops(
    service: FaceFind, t1: np.ndarray, t1_boxes: list
) -> None:
    from facefind.enroll.reembed import reembed

    g = service.gallery
    await g.models.register("old-pack", "d" * 64, "o" * 64)
    person = await g.identities.create("Old Pack Person", "test")
    crop_photo = images.to_jpeg(head(t1, t1_boxes[2], 1.0))
    analysis, crops = await service.analysis.analyze(crop_photo)
    face = analysis.faces[0]
    await g.faces.add(
        identity_id=person.id, model="old-pack", embedding=np.roll(face.embedding, 7),
        det_score=face.det_score, quality=face.quality.as_dict(), bbox=face.bbox,
        crop_jpeg=crops[0], source_sha256=analysis.sha256, actor="test", recipe="old",
    )  # fmt: skip
    report = await reembed(
        service.gallery, service.analysis, service.bands, ACTOR, from_model="old-pack"
    )
    assert report.copied == 1
    again = await reembed(
        service.gallery, service.analysis, service.bands, ACTOR, from_model="old-pack"
    )
    assert again.copied == 0  # idempotent
    result = await service.identifier.identify(images.to_jpeg(head(t1, t1_boxes[2], 1.3)), ACTOR)
    assert result.faces[0].candidates[0].display_name == "Old Pack Person"


async def test_a_large_load_indexes_after_its_rows_and_finishes_an_interrupted_one(
    service: FaceFind,
    tmp_path: Path,
    t1: np.ndarray,
    t1_boxes: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import facefind.enroll.folder

    async def vector_indexes() -> set[str]:
        rows = await service.gallery.pool.fetch(
            "SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%' "
            "AND tablename IN ('faces', 'identity_templates')"
        )
        return {r[0] for r in rows}

    before = await vector_indexes()
    assert {"faces_embedding_hnsw", "identity_templates_hnsw"} <= before
    # an interrupted load: the indexes were dropped, the load never finished
    dropped = await service.gallery.indexes.defer("test")
    assert set(dropped) == before and await vector_indexes() == set()
    # a "large" load (the threshold lowered for the test) finishes the old one and defers again
    monkeypatch.setattr(facefind.enroll.folder, "DEFER_INDEXES_AT", 2)
    root = tmp_path / "people"
    for k, box in enumerate(t1_boxes[:3]):
        (root / f"P{k}").mkdir(parents=True)
        (root / f"P{k}" / "a.jpg").write_bytes(images.to_jpeg(head(t1, box, 1.0)))
    report = await enroll_folder(service, root)
    assert report.enrolled == 3 and report.indexes_deferred
    assert await vector_indexes() == before
    assert await service.gallery.indexes.deferred() == []
    actions = [
        r["action"]
        for r in await service.gallery.pool.fetch("SELECT action FROM audit_log ORDER BY id")
    ]
    assert actions.count("index.defer") == 2 and actions.count("index.build") == 4
    assert "face.bulk_add" in actions and "identity.bulk_create" in actions


def test_a_large_load_gets_a_process_per_core_within_memory_and_a_small_one_none() -> None:
    gib = 2**30
    big = Machine(memory_bytes=64 * gib, cores=8)
    assert auto_workers(AUTO_WORKERS_FROM - 1, big) == 1
    assert auto_workers(AUTO_WORKERS_FROM, big) == 8
    assert auto_workers(1_000_000, Machine(memory_bytes=2 * gib, cores=8)) == 2  # half of 2 GiB
    assert auto_workers(1_000_000, Machine(memory_bytes=gib // 4, cores=8)) == 1
    assert workers_arg("auto") == "auto" and workers_arg("3") == 3
    for bad in ("0", "-1", "2.5", "257", "all"):
        with pytest.raises(argparse.ArgumentTypeError):
            workers_arg(bad)


async def test_batches_are_written_beside_the_analysis_in_order_and_a_failed_write_fails_the_load(
    service: FaceFind,
    tmp_path: Path,
    t1: np.ndarray,
    t1_boxes: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import facefind.enroll.folder

    # one face a batch: every person is written while the next ones are analysed
    monkeypatch.setattr(facefind.enroll.folder, "FACES_PER_BATCH", 1)
    people = [(f"P{k}", box) for k, box in enumerate(t1_boxes[:5])]
    # the same person filed twice under one name, in two batches: one identity, not two
    people.append(("p0", t1_boxes[0]))
    plan = []
    for k, (name, box) in enumerate(people):
        photo = tmp_path / f"{k}.jpg"
        photo.write_bytes(images.to_jpeg(head(t1, box, 0.95 if k == 5 else 1.0)))
        plan.append((name, None, None, [photo]))

    # the third write fails (the disk fills up): the load fails with it, the two before stay
    copy_faces = service.gallery.bulk.copy_faces
    calls = 0

    async def failing_copy(*args: Any, **kwargs: Any) -> list[int | None]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("No space left on device")
        return await copy_faces(*args, **kwargs)

    monkeypatch.setattr(service.gallery.bulk, "copy_faces", failing_copy)
    with pytest.raises(OSError, match="No space left"):
        await service.enroll_plan(plan, ACTOR)
    assert await service.gallery.pool.fetchval("SELECT count(*) FROM faces") == 2

    # run again: it continues where the load stopped
    monkeypatch.setattr(service.gallery.bulk, "copy_faces", copy_faces)
    report = await service.enroll_plan(plan, ACTOR)
    assert report.enrolled == 4
    assert [why for _, why in report.skipped] == ["already enrolled"] * 2
    rows = await service.gallery.pool.fetch(
        "SELECT lower(i.display_name) AS name, count(f.id) AS faces FROM identities i"
        " JOIN faces f ON f.identity_id = i.id GROUP BY 1 ORDER BY 1"
    )
    assert [(r["name"], r["faces"]) for r in rows] == [
        ("p0", 2), ("p1", 1), ("p2", 1), ("p3", 1), ("p4", 1)
    ]  # fmt: skip
    for name, box in people[1:5]:
        assert await top_candidate_name(service, images.to_jpeg(head(t1, box, 0.9))) == name
