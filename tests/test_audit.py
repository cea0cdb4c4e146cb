"""The audit trail against whoever administers the database: sealed rows, the witness, roles.

Each attack runs as the PostgreSQL superuser (the conftest gallery connects as one), the way
the outside drive did it; `facefind audit verify` must FAIL every time, saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from facefind.audit import Witness, load_audit_key, verify
from facefind.database import Database, open_pool
from facefind.settings import Settings
from gallery import (
    DEFAULT_RUNTIME_ROLE,
    AuditKey,
    AuditKeyMismatch,
    Gallery,
    RuntimeRole,
    create_pool,
    migrate,
)
from gallery import queries as q
from gallery.db import default_migrations_dir, load_migrations
from tests.conftest import app_dsn

# What an administrator with the database's own tools can do: the old trigger's hash function,
# recreated, then every row from `first` on rewritten and re-hashed in order.
OLD_AUDIT_PAYLOAD = """
CREATE OR REPLACE FUNCTION audit_payload(p_id bigint, p_at timestamptz, p_actor text,
    p_action text, p_target text, p_details jsonb, p_prev text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_prev || E'\\n' || p_id::text || E'\\n'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\\n'
        || p_actor || E'\\n' || p_action || E'\\n' || coalesce(p_target, '') || E'\\n'
        || p_details::text
$$"""
REHASH_FROM = """
DO $$
DECLARE
    r record;
    prev text := NULL;
BEGIN
    FOR r IN SELECT * FROM audit_log WHERE id >= {first} ORDER BY id LOOP
        prev := coalesce(prev, r.prev_hash);
        UPDATE audit_log SET prev_hash = prev, scheme = {scheme},
            hash = encode(sha256(convert_to(audit_payload(r.id, r.at, r.actor, r.action,
                                            r.target, r.details, prev), 'UTF8')), 'hex')
        WHERE id = r.id RETURNING hash INTO prev;
    END LOOP;
END
$$"""


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(tmp_path / "audit-witness.json")


async def write_rows(gallery: Gallery, n: int, prefix: str = "row") -> None:
    for i in range(n):
        await gallery.audit("tg:7", "test.action", f"{prefix} {i}", {"i": i, "name": "Олена"})


async def as_administrator(gallery: Gallery, *statements: str) -> None:
    """Switch the append-only guards off, run the statements, switch them on again."""
    async with gallery.pool.acquire() as con:
        await con.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        try:
            for statement in statements:
                await con.execute(statement)
        finally:
            await con.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def row_id(gallery: Gallery, target: str) -> int:
    value = await gallery.pool.fetchval("SELECT id FROM audit_log WHERE target = $1", target)
    assert value is not None
    return int(value)


# --- the chain and the witness ----------------------------------------------------------------
async def test_sealed_rows_verify_and_the_witness_follows_them(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    await write_rows(gallery, 3, "later")
    verdict = await verify(gallery, witness)
    assert verdict.ok, verdict.message
    assert verdict.message.startswith("audit chain OK")
    head = await gallery.audit_head()
    assert head is not None
    assert witness.head_for(head.genesis) == head  # verify moved the witness to the new head
    assert stat.S_IMODE(witness.path.stat().st_mode) == 0o600
    # the migrations before 0004 were recorded with plain hashes; the sealed rows bind them
    before_sealing = [m for m in load_migrations() if m.version < 4]
    assert verdict.check is not None and verdict.check.legacy_rows == len(before_sealing)


async def test_cutting_the_tail_fails_verify_and_stops_the_witness(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 6)
    assert (await witness.advance(gallery)).ok
    saved = witness.path.read_text()
    last = await row_id(gallery, "row 5")
    await as_administrator(gallery, f"DELETE FROM audit_log WHERE id > {last - 3}")
    # what remains is a perfect chain: only the witness can tell
    assert (await gallery.verify_audit_chain()).ok
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"the log ends at row {last - 3}" in verdict.message
    assert f"ending with row {last}" in verdict.message and "cut" in verdict.message
    refused = await witness.advance(gallery)
    assert not refused.ok and "cut" in refused.message
    assert witness.path.read_text() == saved  # the witness keeps what it saw


async def test_a_rewritten_row_fails_verify(gallery: Gallery, witness: Witness) -> None:
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    target = await row_id(gallery, "row 2")
    await as_administrator(gallery, f"UPDATE audit_log SET actor = 'tg:666' WHERE id = {target}")
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target}" in verdict.message
    assert "does not match its seal" in verdict.message


@pytest.mark.parametrize("scheme", ["'hmac-sha256'", "'sha256'"])
async def test_a_history_rehashed_with_the_databases_own_functions_fails_verify(
    gallery: Gallery, witness: Witness, scheme: str
) -> None:
    """The attack that passed before: rewrite a row, recompute every later hash with the
    database's audit_payload. Marked as sealed rows, the seals do not check; marked as old
    plain-hash rows, they cannot come after sealed ones."""
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    target = await row_id(gallery, "row 1")
    await as_administrator(
        gallery,
        OLD_AUDIT_PAYLOAD,
        f"UPDATE audit_log SET details = '{{\"i\": 99}}' WHERE id = {target}",
        REHASH_FROM.format(first=target, scheme=scheme),
    )
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target}" in verdict.message
    expected = "does not match its seal" if "hmac" in scheme else "plain SHA-256 hash after"
    assert expected in verdict.message


async def test_a_whole_log_rehashed_as_plain_rows_fails_verify(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 4)
    assert (await witness.advance(gallery)).ok
    await as_administrator(
        gallery,
        OLD_AUDIT_PAYLOAD,
        "UPDATE audit_log SET actor = 'tg:666' WHERE target = 'row 0'",
        REHASH_FROM.format(first=1, scheme="'sha256'"),
    )
    # every row now checks as a plain hash chain, and none is sealed
    chain = await gallery.verify_audit_chain()
    assert not chain.ok and chain.problem is not None and "no row is sealed" in chain.problem
    assert not (await verify(gallery, witness)).ok


async def test_a_removed_middle_row_breaks_the_link(gallery: Gallery, witness: Witness) -> None:
    await write_rows(gallery, 5)
    target = await row_id(gallery, "row 2")
    await as_administrator(gallery, f"DELETE FROM audit_log WHERE id = {target}")
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target + 1}" in verdict.message
    assert "does not link to the row before it" in verdict.message


async def test_the_database_itself_refuses_rows_that_do_not_continue_the_chain(
    gallery: Gallery,
) -> None:
    await write_rows(gallery, 2)
    async with gallery.pool.acquire() as con:
        last = await con.fetchrow("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        forged = (
            "INSERT INTO audit_log (id, at, actor, action, details, prev_hash, hash, scheme, "
            "key_id) VALUES ($1, now(), 'tg:666', 'forged', '{}', $2, 'f00', $3, 'k')"
        )
        for values in (
            (last["id"] + 1, "0" * 64, "hmac-sha256"),
            (last["id"] + 1, last["hash"], "sha256"),
        ):
            with pytest.raises(asyncpg.CheckViolationError):
                await con.execute(forged, *values)
        with pytest.raises(asyncpg.CheckViolationError):  # the same head, written twice
            await con.execute(forged, last["id"], last["hash"], "hmac-sha256")


# --- roles ------------------------------------------------------------------------------------
@pytest.fixture
async def runtime_pool(fresh_dsn: str, audit_key: AuditKey) -> AsyncIterator[asyncpg.Pool]:
    """The migrated database as the application's runtime role sees it."""
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=RuntimeRole(DEFAULT_RUNTIME_ROLE))
    pool = await create_pool(app_dsn(fresh_dsn))
    try:
        yield pool
    finally:
        await pool.close()


async def test_the_runtime_role_may_only_read_and_append_to_the_audit_log(
    runtime_pool: asyncpg.Pool, audit_key: AuditKey
) -> None:
    app = Gallery(runtime_pool, audit_key=audit_key)
    await app.audit("tg:7", "test.action", "appended", {})
    assert (await app.verify_audit_chain()).ok
    async with runtime_pool.acquire() as con:
        assert await con.fetchval("SELECT current_user") == DEFAULT_RUNTIME_ROLE
        for sql in (
            "UPDATE audit_log SET actor = 'tg:666'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
            "DROP TABLE audit_log",
            "UPDATE schema_migrations SET checksum = 'x'",
            "CREATE TABLE mine (x int)",
        ):
            with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.UndefinedTableError)):
                await con.execute(sql)
        # and everything the application does elsewhere works
        await con.execute("UPDATE lookups SET file_id = NULL WHERE false")
        await con.execute("UPDATE feedback SET verdict = verdict WHERE false")


async def test_index_builds_at_run_time_go_through_the_owner(
    runtime_pool: asyncpg.Pool, audit_key: AuditKey, fresh_dsn: str
) -> None:
    """A large load drops and rebuilds the vector indexes: DDL, which is the owner's."""

    async def vector_indexes() -> set[str]:
        rows = await runtime_pool.fetch(
            "SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%' "
            "AND tablename IN ('faces', 'identity_templates')"
        )
        return {r[0] for r in rows}

    before = await vector_indexes()
    alone = Gallery(runtime_pool, audit_key=audit_key)
    assert await alone.defer_vector_indexes("test") == []  # loads into the indexes instead
    assert await vector_indexes() == before
    with_owner = Gallery(runtime_pool, audit_key=audit_key, owner_dsn=fresh_dsn)
    assert set(await with_owner.defer_vector_indexes("test")) == before
    # the runtime role alone cannot build them: they wait for the owner (facefind migrate)
    assert await alone.restore_vector_indexes("test") == []
    assert set(await alone.deferred_indexes()) == before
    assert set(await with_owner.restore_vector_indexes("test")) == before
    assert await vector_indexes() == before
    assert (await with_owner.verify_audit_chain()).ok  # the owner's rows joined the same chain


async def test_a_table_of_a_later_migration_is_writable_once_its_grants_name_it(
    fresh_dsn: str,
    audit_key: AuditKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = tmp_path / "migrations"
    shutil.copytree(default_migrations_dir(), later)
    (later / "0999_later_table.sql").write_text(
        "-- Reason: a table a later release adds.\n"
        "CREATE TABLE later_things (id bigserial PRIMARY KEY, what text NOT NULL);\n"
    )
    role = RuntimeRole(DEFAULT_RUNTIME_ROLE)
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=role)
    applied = await migrate(fresh_dsn, later, audit_key=audit_key, runtime_role=role)
    assert applied == ["0999_later_table"]
    # not named in the grants: readable only, and the migration run says so
    assert "table later_things is not named in the runtime role's grants" in caplog.text
    con = await asyncpg.connect(app_dsn(fresh_dsn))
    try:
        assert await con.fetchval("SELECT count(*) FROM later_things") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await con.execute("INSERT INTO later_things (what) VALUES ('refused')")
        monkeypatch.setitem(q.RUNTIME_TABLE_PRIVILEGES, "later_things", "SELECT, INSERT, UPDATE")
        await migrate(fresh_dsn, later, audit_key=audit_key, runtime_role=role)
        await con.execute("INSERT INTO later_things (what) VALUES ('works')")
        await con.execute("UPDATE later_things SET what = 'still works'")
        assert await con.fetchval("SELECT what FROM later_things") == "still works"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await con.execute("DELETE FROM later_things")
    finally:
        await con.close()


async def test_a_different_audit_key_is_refused_at_migrate_and_at_start(
    fresh_dsn: str, audit_key: AuditKey
) -> None:
    role = RuntimeRole(DEFAULT_RUNTIME_ROLE)
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=role)
    other = AuditKey(secrets.token_bytes(32))
    with pytest.raises(AuditKeyMismatch, match=f"sealed with key {audit_key.id}"):
        await migrate(fresh_dsn, audit_key=other, runtime_role=role)
    db = Database(app_dsn(fresh_dsn), fresh_dsn, role)
    with pytest.raises(AuditKeyMismatch, match="restore the audit key"):
        await open_pool(db, other, max_size=1)


async def test_rows_from_before_sealing_are_bound_by_the_first_sealed_row(
    fresh_dsn: str, audit_key: AuditKey, tmp_path: Path
) -> None:
    """A database from before migration 0004, with plain-hash rows, upgraded."""
    old = tmp_path / "old"
    old.mkdir()
    for name in ("0001_init.sql", "0002_hnsw_build_quality.sql"):
        shutil.copy(default_migrations_dir() / name, old / name)
    await migrate(fresh_dsn, old, audit_key=audit_key)
    con = await asyncpg.connect(fresh_dsn)
    try:
        for i in range(3):
            await con.execute(q.AUDIT_INSERT_LEGACY, "tg:7", "old.action", f"old {i}", "{}")
    finally:
        await con.close()
    await migrate(fresh_dsn, audit_key=audit_key)
    pool = await create_pool(fresh_dsn)
    try:
        gallery = Gallery(pool, audit_key=audit_key)
        check = await gallery.verify_audit_chain()
        # 0001, 0002, three old rows, then the other migrations before 0004
        legacy = 3 + len([m for m in load_migrations() if m.version < 4])
        assert check.ok and check.legacy_rows == legacy
        # rewriting an old row and re-hashing the old rows consistently is not enough: the
        # first sealed row names the old last hash, under the key
        target = await row_id(gallery, "old 1")
        await as_administrator(
            gallery,
            OLD_AUDIT_PAYLOAD,
            f"UPDATE audit_log SET actor = 'tg:666' WHERE id = {target}",
            REHASH_FROM.format(first=target, scheme="'sha256'").replace(
                "WHERE id >=", "WHERE scheme = 'sha256' AND id >="
            ),
        )
        broken = await gallery.verify_audit_chain()
        assert not broken.ok and broken.first_bad_id == legacy + 1  # the first sealed row
        assert broken.problem is not None and "does not link" in broken.problem
    finally:
        await pool.close()


# --- the key and the witness file -------------------------------------------------------------
def test_the_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_audit_key(settings)
    path = tmp_path / "data" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_audit_key(settings) == first
    assert load_audit_key(Settings(data_dir=tmp_path / "other")) != first
    from_env = Settings(data_dir=tmp_path / "data", audit_key=secrets.token_hex(32))
    assert load_audit_key(from_env) != first
    assert first.secret.hex() not in repr(first)


WRITER = """
import asyncio, sys
from facefind.audit import Witness
from gallery import AuditKey, Gallery, create_pool

async def main(dsn, key, path, name):
    pool = await create_pool(dsn, max_size=2)
    gallery = Gallery(pool, audit_key=AuditKey(bytes.fromhex(key)))
    for i in range(8):
        await gallery.audit("tg:7", "test.parallel", f"{name} {i}")
        verdict = await Witness(__import__("pathlib").Path(path)).advance(gallery)
        assert verdict.ok, verdict.message
    await pool.close()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_several_processes_keep_one_chain_and_one_witness(
    gallery: Gallery, witness: Witness, fresh_dsn: str
) -> None:
    key = gallery.require_key().secret.hex()
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, fresh_dsn, key, str(witness.path), f"p{n}"
        )
        for n in range(4)
    ]
    codes = [await asyncio.wait_for(w.wait(), 120) for w in writers]
    assert codes == [0, 0, 0, 0]
    head = await gallery.audit_head()
    assert head is not None and witness.head_for(head.genesis) == head
    data = json.loads(witness.path.read_text())
    assert data["key_id"] == gallery.require_key().id
    verdict = await verify(gallery, witness)
    assert verdict.ok, verdict.message
    assert not [p for p in witness.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_facefind_audit_verify_from_the_command_line(fresh_dsn: str, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=app_dsn(fresh_dsn),
        DATABASE_OWNER_URL=fresh_dsn,
        FACEFIND_DATA_DIR=str(tmp_path),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "facefind", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    migrated = cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"connects as role {DEFAULT_RUNTIME_ROLE}" in migrated.stdout
    ok = cli("audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit chain OK")
    last_row = ok.stdout.split("last row ")[1].split()
    checkpoint = f"{last_row[0]}:{last_row[1]}"
    assert cli("audit", "verify", "--head", checkpoint).returncode == 0
    forged = cli("audit", "verify", "--head", f"{last_row[0]}:{'0' * 32}")
    assert forged.returncode == 1 and "not the 0000000000000000" in forged.stdout
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"""
import asyncio, asyncpg
async def cut():
    con = await asyncpg.connect({fresh_dsn!r})
    await con.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await con.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    await con.close()
asyncio.run(cut())
""",
        ],
        check=True,
        timeout=60,
    )
    cut = cli("audit", "verify")
    assert cut.returncode == 1
    assert "rows were cut" in cut.stdout
