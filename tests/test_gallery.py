"""The PostgreSQL gallery on a real server: migrations, search, audit chain, users, lookups."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
import procrastinate
import pytest

from gallery import (
    AuditKey,
    Gallery,
    MigrationError,
    ModelMismatch,
    NewCandidate,
    NewLookupFace,
    migrate,
)
from gallery.checks import (
    PGVECTOR_MINIMUM,
    DatabaseCheckError,
    check_vector,
    parse_version,
    vector_problem,
)
from gallery.db import create_database, default_migrations_dir, load_migrations
from gallery.queries import search as sq

MODEL = "test-model"


def unit(rng: np.random.Generator, n: int, dim: int = 512) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


async def make_identities(g: Gallery, n: int, prefix: str = "Person") -> list[int]:
    return [(await g.identities.create(f"{prefix} {i}", "test")).id for i in range(n)]


# --- migrations -----------------------------------------------------------------------------
async def test_migrations_apply_once_and_twice_without_harm(
    fresh_dsn: str, audit_key: AuditKey
) -> None:
    every = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    every.append(f"procrastinate {procrastinate.__version__}")
    first = await migrate(fresh_dsn, audit_key=audit_key)
    second = await migrate(fresh_dsn, audit_key=audit_key)
    assert first == every and "0004_sealed_audit_and_erasure" in every
    assert second == []
    con = await asyncpg.connect(fresh_dsn)
    try:
        versions = await con.fetch("SELECT version FROM schema_migrations")
        assert [r["version"] for r in versions] == [m.version for m in load_migrations()]
        # the task queue's schema came with them, owned by the role that ran the migrations
        owner = await con.fetchval(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'procrastinate_jobs'"
        )
        assert owner == await con.fetchval("SELECT current_user")
    finally:
        await con.close()


async def test_concurrent_migrations_apply_each_file_once(
    fresh_dsn: str, audit_key: AuditKey
) -> None:
    results = await asyncio.gather(*(migrate(fresh_dsn, audit_key=audit_key) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(load_migrations()) + 1]


async def test_an_applied_migration_that_changed_is_refused(
    fresh_dsn: str, tmp_path: Path, audit_key: AuditKey
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key)
    copy = tmp_path / "migrations"
    shutil.copytree(default_migrations_dir(), copy)
    path = copy / "0001_init.sql"
    path.write_text(path.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(fresh_dsn, copy, audit_key=audit_key)


async def test_a_model_name_cannot_change_its_files(gallery: Gallery) -> None:
    await gallery.models.register(MODEL, "d" * 64, "r" * 64)  # same files: fine
    with pytest.raises(ModelMismatch):
        await gallery.models.register(MODEL, "d" * 64, "x" * 64)


# --- search ---------------------------------------------------------------------------------
async def test_search_returns_best_face_per_identity_and_matches_exact_search(
    gallery: Gallery,
) -> None:
    rng = np.random.default_rng(1)
    ids = await make_identities(gallery, 300)
    embeddings = unit(rng, 900)
    await gallery.faces.import_embeddings(
        MODEL, [ids[i % 300] for i in range(900)], embeddings, actor="test", recipe="test"
    )
    for n in range(20):
        # a noisy copy of a known face: its identity must come first
        query = embeddings[n * 7] + 0.5 * unit(rng, 1)[0]
        approx = await gallery.search.identities(query, MODEL, limit=3)
        exact = await gallery.search.identities(query, MODEL, limit=3, exact=True)
        assert approx == exact
        assert approx[0].identity_id == ids[(n * 7) % 300]
        assert len({m.identity_id for m in approx}) == 3
        assert approx[0].similarity >= approx[1].similarity >= approx[2].similarity


async def test_filtered_search_is_not_silently_short(gallery: Gallery) -> None:
    """Faces of another model crowd the query's neighbourhood; the model filter must not shrink
    the shortlist (pgvector's HNSW returns only its candidate list unless scans iterate)."""
    rng = np.random.default_rng(2)
    await gallery.models.register("other-model", "d" * 64, "o" * 64)
    ids = await make_identities(gallery, 100)
    query = unit(rng, 1)[0]
    crowd = query + 0.35 * unit(rng, 600)
    crowd /= np.linalg.norm(crowd, axis=1, keepdims=True)
    await gallery.indexes.defer("test")  # built once after the load: faster
    await gallery.faces.import_embeddings(
        "other-model", [ids[i % 100] for i in range(600)], crowd, actor="t", recipe="test"
    )
    # large enough that the planner prefers the index to a sequential scan (which is exact)
    await gallery.faces.import_embeddings(
        MODEL, [ids[i % 100] for i in range(8000)], unit(rng, 8000), actor="t", recipe="test"
    )
    await gallery.indexes.restore("test")
    await gallery.pool.execute("ANALYZE faces")

    # control: the naive query walks the HNSW index and loses (here: all) rows to the filter
    naive_sql = (
        "SELECT id FROM faces WHERE active AND model = $2 "
        "ORDER BY embedding::halfvec(512) <=> $1::halfvec(512) LIMIT 50"
    )
    plan = "\n".join(r[0] for r in await gallery.pool.fetch("EXPLAIN " + naive_sql, query, MODEL))
    assert "faces_embedding_hnsw" in plan
    assert len(await gallery.pool.fetch(naive_sql, query, MODEL)) < 50

    small = Gallery(gallery.pool, audit_key=gallery.db.audit_key, shortlist=50)
    async with small.db.transaction() as con:
        await con.execute(sq.search_settings(small.search.ef_search, 20000))
        plan = "\n".join(
            r[0] for r in await con.fetch("EXPLAIN " + sq.SEARCH_SHORTLIST, query, MODEL, 50)
        )
        assert "faces_embedding_hnsw" in plan  # the index path is the one under test
        shortlist = await con.fetch(sq.SEARCH_SHORTLIST, query, MODEL, 50)
    assert len(shortlist) == 50
    found = await small.search.identities(query, MODEL, limit=10)
    assert len(found) == 10
    assert found == await small.search.identities(query, MODEL, limit=10, exact=True)


async def test_forgotten_identity_leaves_every_search(gallery: Gallery) -> None:
    rng = np.random.default_rng(3)
    ids = await make_identities(gallery, 5)
    emb = unit(rng, 5)
    await gallery.faces.import_embeddings(MODEL, ids, emb, actor="test", recipe="test")
    assert (await gallery.search.identities(emb[2], MODEL, limit=1))[0].identity_id == ids[2]
    assert await gallery.identities.forget(ids[2], "test", erase=False)
    assert not await gallery.identities.forget(ids[2], "test", erase=False)
    results = await gallery.search.identities(emb[2], MODEL, limit=5)
    assert ids[2] not in [m.identity_id for m in results]
    assert len(results) == 4
    actions = [r["action"] for r in await gallery.audit.recent(5)]
    assert "identity.forget" in actions


async def test_faces_of_another_model_are_never_compared(gallery: Gallery) -> None:
    rng = np.random.default_rng(4)
    await gallery.models.register("other-model", "d" * 64, "o" * 64)
    ids = await make_identities(gallery, 2)
    emb = unit(rng, 2)
    await gallery.faces.import_embeddings("other-model", ids, emb, actor="test", recipe="test")
    assert await gallery.search.identities(emb[0], MODEL, limit=3) == []


# --- audit ----------------------------------------------------------------------------------
async def test_audit_log_refuses_update_delete_and_truncate(gallery: Gallery) -> None:
    await gallery.audit.append("tg:1", "test.action", "x", {"a": 1})
    before = await gallery.audit.verify_chain()
    async with gallery.pool.acquire() as con:
        for sql in (
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await con.execute(sql)
    check = await gallery.audit.verify_chain()
    assert check.ok and check.rows == before.rows >= 2


async def test_audit_chain_detects_a_row_edited_behind_the_triggers(gallery: Gallery) -> None:
    for i in range(5):
        await gallery.audit.append("tg:1", "test.action", f"row {i}", {"i": i})
    assert (await gallery.audit.verify_chain()).ok
    async with gallery.pool.acquire() as con:
        # what a superuser could do: switch the guard off and rewrite history
        await con.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        target = await con.fetchval("SELECT id FROM audit_log WHERE target = 'row 2'")
        await con.execute("UPDATE audit_log SET details = '{\"i\": 99}' WHERE id = $1", target)
        await con.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    check = await gallery.audit.verify_chain()
    assert not check.ok
    assert check.first_bad_id == target


async def test_audit_chain_holds_under_concurrent_writers(gallery: Gallery) -> None:
    await asyncio.gather(
        *(gallery.audit.append("tg:1", "test.parallel", str(i)) for i in range(40))
    )
    check = await gallery.audit.verify_chain()
    assert check.ok


# --- users, lookups, retention --------------------------------------------------------------
async def test_user_lifecycle_is_recorded(gallery: Gallery) -> None:
    user, new = await gallery.users.seen(42, "Ann", None, "ann", "uk")
    assert new and user.status == "pending" and user.role == "officer"
    again, new_again = await gallery.users.seen(42, "Ann", "Lee", "ann", "uk")
    assert not new_again and again.last_name == "Lee"
    approved = await gallery.users.set_status(42, "approved", "tg:1")
    assert approved is not None and approved.is_approved and approved.decided_by == "tg:1"
    admin = await gallery.users.set_role(42, "admin", "tg:1")
    assert admin is not None and admin.is_admin
    assert [u.id for u in await gallery.users.admins()] == [42]
    actions = [r["action"] for r in await gallery.audit.recent(10)]
    assert {"user.request_access", "user.approved", "user.role.admin"} <= set(actions)
    assert await gallery.users.set_status(999, "approved", "tg:1") is None


async def test_one_message_gives_one_lookup(gallery: Gallery) -> None:
    first = await gallery.lookups.create(
        user_id=None, actor="tg:5", source="telegram", chat_id=5, message_id=10
    )
    again = await gallery.lookups.create(
        user_id=None, actor="tg:5", source="telegram", chat_id=5, message_id=10
    )
    other = await gallery.lookups.create(
        user_id=None, actor="tg:5", source="telegram", chat_id=5, message_id=11
    )
    assert first is not None and again is None and other not in (None, first)


async def test_lookup_round_trip_and_retention(gallery: Gallery) -> None:
    rng = np.random.default_rng(5)
    ids = await make_identities(gallery, 2)
    await gallery.faces.import_embeddings(MODEL, ids, unit(rng, 2), actor="test", recipe="test")
    face_id = (await gallery.search.identities(unit(rng, 1)[0], MODEL, limit=1))[0].face_id
    lookup_id = await gallery.lookups.create(user_id=None, actor="cli:t", source="cli")
    assert lookup_id is not None
    cand_ids = await gallery.lookups.finish(
        lookup_id,
        actor="cli:t",
        status="done",
        photo_sha256="ab" * 32,
        model=MODEL,
        faces=[
            NewLookupFace(
                1,
                (1, 2, 3, 4),
                0.9,
                {"ok": True, "reasons": []},
                b"jpeg",
                [NewCandidate(1, ids[0], face_id, 0.61, "strong")],
            ),
            NewLookupFace(2, (5, 6, 7, 8), 0.8, {"ok": False, "reasons": ["small"]}, b"jpeg2"),
        ],
    )
    await gallery.feedback.add(cand_ids[(1, 1)], None, "cli:t", "confirmed")
    stored = await gallery.lookups.get(lookup_id)
    assert stored is not None and stored.status == "done" and stored.face_count == 2
    assert [f.face_index for f in stored.faces] == [1, 2]
    assert stored.faces[0].candidates[0].verdict == "confirmed"
    assert stored.faces[1].candidates == []
    summary = (await gallery.lookups.recent())[0]
    assert summary.top_candidates is not None and "Person 0" in summary.top_candidates

    crops, _ = await gallery.lookups.purge_before(datetime.now(UTC) + timedelta(seconds=1), "test")
    assert crops == 2
    purged = await gallery.lookups.get(lookup_id)
    assert purged is not None and all(f.crop_jpeg is None for f in purged.faces)
    # the record itself stays: only the face images go
    assert purged.faces[0].candidates[0].identity_id == ids[0]


# --- start-up checks ------------------------------------------------------------------------
def test_an_old_or_missing_pgvector_is_refused_with_the_fix_named() -> None:
    assert vector_problem("0.8.0", "0.8.0", need_installed=True) is None
    assert vector_problem("0.8.6", None, need_installed=False) is None  # migrations create it
    older_here = vector_problem("0.8.1", "0.7.4", need_installed=True)
    assert older_here is not None
    assert "pgvector 0.7.4" in older_here and "ALTER EXTENSION vector UPDATE" in older_here
    old_server = vector_problem("0.7.4", "0.7.4", need_installed=True)
    assert old_server is not None and "upgrade the pgvector package" in old_server
    old_package = vector_problem("0.6.2", None, need_installed=False)
    assert old_package is not None and "0.8.0 or later" in old_package
    none = vector_problem(None, None, need_installed=False)
    assert none is not None and "no pgvector extension" in none and "pgvector/pgvector" in none
    assert parse_version("0.10.0") > parse_version("0.8.0") > parse_version("0.7.4-dev")


async def test_the_real_server_passes_and_an_unmigrated_database_is_named(
    gallery: Gallery, pg_server: str
) -> None:
    async with gallery.pool.acquire() as con:
        version = await check_vector(con, need_installed=True)
    assert parse_version(version) >= PGVECTOR_MINIMUM
    empty = await create_database(pg_server, f"t_{uuid.uuid4().hex[:12]}")
    con = await asyncpg.connect(empty)
    try:
        with pytest.raises(DatabaseCheckError, match="run `facefind migrate`"):
            await check_vector(con, need_installed=True)
    finally:
        await con.close()


async def test_a_telegram_lookup_is_done_only_once_its_reply_was_delivered(
    gallery: Gallery,
) -> None:
    lookup_id = await gallery.lookups.create(
        user_id=None, actor="tg:7", source="telegram", chat_id=7, message_id=70, language="uk"
    )
    assert lookup_id is not None
    await gallery.lookups.finish(
        lookup_id,
        actor="tg:7",
        status="done",
        model=MODEL,
        faces=[NewLookupFace(1, (1, 2, 3, 4), 0.9, {"ok": True, "reasons": []}, b"jpeg")],
        reply_owed=True,
        overview_jpeg=b"boxes",
    )
    waiting = await gallery.lookups.get(lookup_id)
    assert waiting is not None and (waiting.status, waiting.outcome) == ("replying", "done")
    assert await gallery.lookups.overview(lookup_id) == b"boxes"
    await gallery.replies.progress(lookup_id, 1)
    await gallery.replies.progress(lookup_id, 0)  # progress never goes back
    assert (await gallery.lookups.get(lookup_id)).reply_sent == 1  # type: ignore[union-attr]
    assert await gallery.replies.delivered(lookup_id) == "done"
    assert await gallery.replies.delivered(lookup_id) is None  # once
    assert not await gallery.replies.undelivered(lookup_id, "system", "late")  # done stays done
    actions = [r["action"] for r in await gallery.audit.recent(5)]
    assert "lookup.receive" in actions and "lookup.finish" in actions

    # the overview is the user's photo with boxes: the retention purge takes it with the crops
    crops, _ = await gallery.lookups.purge_before(datetime.now(UTC) + timedelta(seconds=1), "test")
    assert crops == 2
    assert await gallery.lookups.overview(lookup_id) is None


async def test_the_inbox_stores_an_update_once_and_leases_each_unhandled_one_to_one_process(
    gallery: Gallery,
) -> None:
    a, b = "facefind@a:1/aa", "facefind@b:2/bb"  # two processes
    one, two = (1, {"update_id": 1}), (2, {"update_id": 2})
    assert await gallery.inbox.store(11, [one, two], a, 60) == [1, 2]
    await gallery.inbox.mark_handled(11, 1)
    # delivered again (its confirmation was lost): stored once; the unhandled one stays with
    # the process that holds it, and comes back to that one (it met an outage: held)
    assert await gallery.inbox.store(11, [one, two], b, 60) == []
    assert await gallery.inbox.store(11, [one, two], a, 60) == [2]
    assert await gallery.inbox.store(12, [one], b, 60) == [1]  # another bot
    assert await gallery.inbox.claim(11, b, 60, exclude=[]) == []
    assert await gallery.inbox.claim(11, a, 60, exclude=[2]) == []  # being handled by a
    # a's lease runs out unless a renews it; once out, b takes the update, and a no longer can
    assert await gallery.inbox.claim(11, a, -1, exclude=[]) == [two]
    await gallery.inbox.renew(11, a, 60, [2])
    assert await gallery.inbox.claim(11, b, 60, exclude=[]) == []
    await gallery.inbox.renew(11, a, -1, [2])
    assert await gallery.inbox.claim(11, b, 60, exclude=[]) == [two]
    await gallery.inbox.renew(11, a, 60, [2])  # too late: not a's any more
    assert await gallery.inbox.claim(11, a, 60, exclude=[]) == []
    # the next `facefind run` of bot 11 drops every lease: whoever held them is gone
    assert await gallery.inbox.release(11) == 1
    assert await gallery.inbox.claim(11, a, 60, exclude=[]) == [two]
    assert await gallery.inbox.count_unhandled() == 2
    assert await gallery.inbox.purge_handled(datetime.now(UTC) + timedelta(seconds=1)) == 1
