"""The audit key and who may write the log: the runtime role only reads and appends, the owner
builds indexes and grants a later migration's tables, the key is created once and a
different one is refused."""

from __future__ import annotations

import secrets
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from facefind.access.audit_key import load_audit_key
from facefind.runtime.database import Database, open_pool
from facefind.runtime.settings import Settings
from gallery import (
    DEFAULT_RUNTIME_ROLE,
    AuditKey,
    AuditKeyMismatch,
    Gallery,
    RuntimeRole,
    create_pool,
    migrate,
)
from gallery.db import default_migrations_dir
from gallery.queries import schema as schema_sql
from tests.conftest import app_dsn

# What an administrator with the database's own tools can do: the old trigger's hash function,
# recreated, then every row from `first` on rewritten and re-hashed in order.


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
    await app.audit.append("tg:7", "test.action", "appended", {})
    assert (await app.audit.verify_chain()).ok
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
    assert await alone.indexes.defer("test") == []  # loads into the indexes instead
    assert await vector_indexes() == before
    with_owner = Gallery(runtime_pool, audit_key=audit_key, owner_dsn=fresh_dsn)
    assert set(await with_owner.indexes.defer("test")) == before
    # the runtime role alone cannot build them: they wait for the owner (facefind migrate)
    assert await alone.indexes.restore("test") == []
    assert set(await alone.indexes.deferred()) == before
    assert set(await with_owner.indexes.restore("test")) == before
    assert await vector_indexes() == before
    assert (await with_owner.audit.verify_chain()).ok  # the owner's rows joined the same chain


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
        monkeypatch.setitem(
            schema_sql.RUNTIME_TABLE_PRIVILEGES, "later_things", "SELECT, INSERT, UPDATE"
        )
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
