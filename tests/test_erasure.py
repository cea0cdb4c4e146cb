"""Retention and erasure: purge --days 0, forgetting with and without a grace period."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

from facefind.access.erasure import forget_identity, purge, restore_identity
from gallery import Gallery, NewCandidate, NewLookupFace
from tests.conftest import app_dsn

MODEL = "test-model"
_messages = itertools.count(1)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


async def enrolled(gallery: Gallery, name: str, seed: int) -> tuple[int, int]:
    """An identity with one reference face (embedding, crop, source hash); (identity, face)."""
    ident = await gallery.identities.create(name, "test", external_ref="REF-9", notes="seen at X")
    face_id = await gallery.faces.add(
        identity_id=ident.id,
        model=MODEL,
        embedding=unit(seed),
        det_score=0.9,
        quality={"ok": True, "reasons": []},
        bbox=(1, 2, 3, 4),
        crop_jpeg=b"reference-jpeg",
        source_sha256="ab" * 32,
        actor="test",
        recipe="test",
    )
    assert face_id is not None
    return ident.id, face_id


async def lookup_naming(gallery: Gallery, identity_id: int, face_id: int) -> int:
    """A finished Telegram lookup whose face got this identity as its candidate."""
    lookup_id = await gallery.lookups.create(
        user_id=None, actor="tg:5", source="telegram", chat_id=5, message_id=next(_messages),
        file_id="telegram-file-id",
    )  # fmt: skip
    assert lookup_id is not None
    await gallery.lookups.finish(
        lookup_id,
        actor="tg:5",
        status="done",
        model=MODEL,
        faces=[
            NewLookupFace(
                1, (1, 2, 3, 4), 0.9, {"ok": True, "reasons": []}, b"query-jpeg",
                [NewCandidate(1, identity_id, face_id, 0.7, "strong")],
            )
        ],
    )  # fmt: skip
    return lookup_id


async def test_forgetting_without_grace_erases_faces_but_keeps_past_lookups_readable(
    gallery: Gallery,
) -> None:
    identity_id, face_id = await enrolled(gallery, "Ada Lovelace", 1)
    lookup_id = await lookup_naming(gallery, identity_id, face_id)
    done = await forget_identity(gallery, identity_id, "tg:1", grace_days=0)
    assert done is not None and done.erased and done.identity.display_name == "Ada Lovelace"

    face = await gallery.faces.get(face_id)
    assert face is not None and face.crop_jpeg is None and face.source_sha256 is None
    assert not face.active
    embedding = await gallery.pool.fetchval("SELECT embedding FROM faces WHERE id = $1", face_id)
    assert embedding is None
    ident = await gallery.identities.get(identity_id)
    assert ident is not None and ident.erased and ident.deleted
    assert "Ada" not in ident.display_name and ident.external_ref is None and ident.notes is None
    assert await gallery.search.identities(unit(1), MODEL, limit=5) == []

    # the record of who was shown whom stays, by id
    record = await gallery.lookups.get(lookup_id)
    assert record is not None
    candidate = record.faces[0].candidates[0]
    assert (candidate.identity_id, candidate.face_id) == (identity_id, face_id)
    assert candidate.identity_erased and candidate.similarity > 0.69
    actions = [r["action"] for r in await gallery.audit.recent(5)]
    assert actions[:2] == ["identity.erase", "identity.forget"]
    assert (await restore_identity(gallery, identity_id, "tg:1", grace_days=0)).status == "erased"


async def test_a_grace_period_allows_restoring_then_the_purge_erases(gallery: Gallery) -> None:
    identity_id, face_id = await enrolled(gallery, "Boris Brandt", 2)
    done = await forget_identity(gallery, identity_id, "tg:1", grace_days=7)
    assert done is not None and not done.erased and done.restorable_until is not None
    assert await gallery.search.identities(unit(2), MODEL, limit=5) == []
    face = await gallery.faces.get(face_id)
    assert face is not None and face.crop_jpeg == b"reference-jpeg"  # kept for a restore

    restored = await restore_identity(gallery, identity_id, "tg:1", grace_days=7)
    assert restored.status == "restored"
    assert restored.identity is not None and not restored.identity.deleted
    assert (await gallery.search.identities(unit(2), MODEL, limit=1))[0].identity_id == identity_id
    again = await restore_identity(gallery, identity_id, "tg:1", grace_days=7)
    assert again.status == "not_forgotten"

    await forget_identity(gallery, identity_id, "tg:1", grace_days=7)
    # a purge inside the grace period leaves it alone
    assert (await purge(gallery, retention_days=None, grace_days=7, actor="system")).erased == []
    # eight days later (moved back in time as the database's administrator)
    await gallery.pool.execute(
        "UPDATE identities SET deleted_at = deleted_at - $2::interval WHERE id = $1",
        identity_id,
        timedelta(days=8),
    )
    late = await restore_identity(gallery, identity_id, "tg:1", grace_days=7)
    assert late.status == "too_late"
    report = await purge(gallery, retention_days=None, grace_days=7, actor="system")
    assert report.erased == [identity_id]
    face = await gallery.faces.get(face_id)
    assert face is not None and face.crop_jpeg is None
    final = await restore_identity(gallery, identity_id, "tg:1", grace_days=7)
    assert final.status == "erased"


async def test_identities_forgotten_before_erasure_existed_are_erased_by_the_purge(
    gallery: Gallery,
) -> None:
    identity_id, face_id = await enrolled(gallery, "Carla Cruz", 3)
    assert await gallery.identities.forget(identity_id, "tg:1", erase=False)  # the old soft delete
    report = await purge(gallery, retention_days=None, grace_days=0, actor="system")
    assert identity_id in report.erased
    face = await gallery.faces.get(face_id)
    assert face is not None and face.crop_jpeg is None


async def test_purge_days_zero_removes_every_query_crop_and_file_id(gallery: Gallery) -> None:
    identity_id, face_id = await enrolled(gallery, "Dmytro Dub", 4)
    finished = [await lookup_naming(gallery, identity_id, face_id) for _ in range(2)]
    waiting = await gallery.lookups.create(
        user_id=None, actor="tg:5", source="telegram", chat_id=6, message_id=1, file_id="keep-me"
    )
    # FACEFIND_RETENTION_DAYS=0 keeps everything
    kept = await purge(gallery, retention_days=None, grace_days=0, actor="system")
    assert (kept.crops, kept.file_ids) == (0, 0)
    report = await purge(gallery, retention_days=0, grace_days=0, actor="cli:test")
    assert report.crops == 2 and report.file_ids == 2
    for lookup_id in finished:
        record = await gallery.lookups.get(lookup_id)
        assert record is not None and record.file_id is None
        assert all(f.crop_jpeg is None for f in record.faces)
        assert record.faces[0].candidates[0].identity_id == identity_id  # the record stays
    # a lookup still waiting for its photo needs its file id to be answered
    pending = await gallery.lookups.get(waiting or 0)
    assert pending is not None and pending.file_id == "keep-me"


def test_facefind_purge_days_zero_from_the_command_line(fresh_dsn: str, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=app_dsn(fresh_dsn),
        DATABASE_OWNER_URL=fresh_dsn,
        FACEFIND_DATA_DIR=str(tmp_path),
        FACEFIND_RETENTION_DAYS="0",
    )

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "facefind", *args],
            env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout

    assert "keeps query faces" in cli("purge")
    assert "purged 0 query face crop(s) and 0 Telegram file id(s)" in cli("purge", "--days", "0")


async def test_bulk_imported_faces_have_no_crop_and_no_empty_picture(gallery: Gallery) -> None:
    ident = await gallery.identities.create("Imported Person", "test")
    await gallery.faces.import_embeddings(
        MODEL, [ident.id], unit(5)[None, :], actor="test", recipe="test"
    )
    match = (await gallery.search.identities(unit(5), MODEL, limit=1))[0]
    face = await gallery.faces.get(match.face_id)
    assert face is not None and face.crop_jpeg is None
    # and a gallery export carries it as a face with an empty crop
    async with gallery.bulk.export_snapshot(MODEL) as snap:
        metas = [m async for m in snap.face_meta()]
        crops = [c async for c in snap.face_crops()]
    assert [m["crop_bytes"] for m in metas] == [0] and crops == [b""]
