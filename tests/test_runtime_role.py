"""The runtime role against the owner: nothing it can write ever runs as the owner's SQL, and it
holds only the privileges the application uses."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.cli.data import cmd_migrate
from facefind.enroll.folder_scan import scan_folder
from facefind.enroll.photo import IdentitySpec
from facefind.runtime.settings import Settings
from facefind.runtime.task_queue import defer_lookup, open_queue
from facefind.service import FaceFind
from gallery import DEFAULT_RUNTIME_ROLE, AuditKey, Gallery, RuntimeRole, create_pool, migrate
from gallery.db import default_migrations_dir
from gallery.queries.bulk import VECTOR_INDEX_DEFINITIONS
from gallery.roles import runtime_privileges
from tests import images
from tests.conftest import app_dsn, db_settings

ACTOR = Requester(actor="test")
ROLE = DEFAULT_RUNTIME_ROLE
# What a runtime role that was taken over would like the owner to run; the comment marks the
# values it planted, so that a later payload does not overwrite an earlier one.
MARK = "planted by the runtime role"
PAYLOADS = tuple(
    f"{sql} -- {MARK}"
    for sql in (
        f"ALTER ROLE {ROLE} SUPERUSER",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}",
    )
)
TEXT_TYPES = ("text", "character varying", "jsonb", "json")

# What a role may do, as the catalog answers it: attributes, memberships, privileges, ownership.
ROLE_POWERS = """
SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       array(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid
             ORDER BY 1) AS member_of,
       has_database_privilege(r.oid, current_database(), 'CREATE') AS create_schemas,
       has_schema_privilege(r.oid, 'public', 'CREATE') AS create_in_public,
       array(SELECT c.relname || ':' || p
             FROM pg_class c,
                  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                               'TRIGGER', 'MAINTAIN']) AS p
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v')
               AND has_table_privilege(r.oid, c.oid, p)
             ORDER BY 1) AS table_privileges,
       array(SELECT c.relname || ':' || p
             FROM pg_class c, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
               AND has_sequence_privilege(r.oid, c.oid, p)
             ORDER BY 1) AS sequence_privileges,
       (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owns
FROM pg_roles r WHERE r.rolname = $1"""
TRIGGERS = """
SELECT tgrelid::regclass::text AS relation, tgname, tgenabled FROM pg_trigger
WHERE NOT tgisinternal ORDER BY 1, 2"""
HNSW_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename IN ('faces', 'identity_templates')
  AND indexdef ILIKE '%USING hnsw%' ORDER BY 1"""
# Every table of the schema the role may INSERT into or UPDATE, with its text-like columns.
WRITABLE_TABLES = """
SELECT c.relname AS name,
       has_table_privilege($1, c.oid, 'INSERT') AS can_insert,
       has_table_privilege($1, c.oid, 'UPDATE') AS can_update,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = '' AND format_type(a.atttypid, NULL) = ANY($2::text[])
             ORDER BY a.attnum) AS text_columns,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = '' AND a.attidentity = ''
               AND NOT EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = c.oid
                               AND d.adnum = a.attnum
                               AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
             ORDER BY a.attnum) AS copied_columns,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               AND format_type(a.atttypid, NULL) IN ('jsonb', 'json')) AS json_columns
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND (has_table_privilege($1, c.oid, 'INSERT') OR has_table_privilege($1, c.oid, 'UPDATE'))
ORDER BY 1"""


def ident(name: str) -> str:
    """A catalog name as an SQL identifier (tests only: the gallery never builds SQL)."""
    return '"' + name.replace('"', '""') + '"'


async def _try(con: asyncpg.Connection, sql: str, *args: Any) -> tuple[int, str | None]:
    """Run one statement in a savepoint: (rows written, the refusal if the database refused)."""
    try:
        async with con.transaction():
            status = await con.execute(sql, *args)
    except asyncpg.PostgresError as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    return int(status.split()[-1]), None


def plant_statements(table: asyncpg.Record, column: str) -> list[str]:
    """Ways to put $1 into one column of a table: UPDATE one row that holds no payload yet,
    INSERT a copy of a row, INSERT a row of payloads."""
    name = ident(table["name"])
    json = set(table["json_columns"])

    def value(c: str) -> str:
        return "to_jsonb($1::text)" if c in json else "$1::text"

    ways = []
    if table["can_update"]:
        ways.append(
            f"UPDATE {name} SET {ident(column)} = {value(column)} WHERE ctid = "
            f"(SELECT ctid FROM {name} WHERE strpos(coalesce({ident(column)}::text, ''), $2) = 0"
            " LIMIT 1)"
        )
    if table["can_insert"]:
        copied = table["copied_columns"]
        ways.append(
            f"INSERT INTO {name} ({', '.join(map(ident, copied))}) "
            f"SELECT {', '.join(value(c) if c == column else ident(c) for c in copied)} "
            f"FROM {name} WHERE strpos($2, '') = 1 LIMIT 1"
        )
        text = table["text_columns"]
        ways.append(
            f"INSERT INTO {name} ({', '.join(map(ident, text))}) "
            f"SELECT {', '.join(value(c) for c in text)} WHERE strpos($2, '') = 1"
        )
    return ways


CONSTRAINTS = ("CheckViolation", "ForeignKeyViolation", "UniqueViolation", "NotNullViolation")


async def plant_everywhere(con: asyncpg.Connection, service: FaceFind) -> dict[str, list[str]]:
    """As the runtime role, write every payload into every text column of every table the
    catalog says it may write: by UPDATE of a row there, by INSERT of a copy of a row, or of a
    row of payloads. Returns, per table, the columns a payload landed in; a table where none
    landed must have refused every try with a constraint (never for want of a privilege)."""
    assert await con.fetchval("SELECT current_user") == ROLE
    tables = await con.fetch(WRITABLE_TABLES, ROLE, list(TEXT_TYPES))
    assert tables, "the runtime role can write no table at all?"
    planted: dict[str, set[str]] = {t["name"]: set() for t in tables}
    refusals: dict[str, list[str]] = {t["name"]: [] for t in tables}
    # the audit log is append-only behind a chain trigger: the application's own append
    for payload in PAYLOADS:
        await service.gallery.audit.append(payload, payload, payload, {"sql": payload})
    planted["audit_log"] = {"actor", "action", "target", "details"}
    for _ in range(2):  # a second pass: rows that refer to rows the first one planted
        for t in tables:
            if t["name"] == "audit_log":
                continue
            for payload in PAYLOADS:
                for column in t["text_columns"]:
                    for sql in plant_statements(t, column):
                        written, refused = await _try(con, sql, payload, MARK)
                        if written:
                            planted[t["name"]].add(column)
                        if refused:
                            refusals[t["name"]].append(refused)
    for t in tables:
        if t["text_columns"] and not planted[t["name"]]:
            assert refusals[t["name"]], f"nothing tried on {t['name']}"
            odd = [r for r in refusals[t["name"]] if not r.startswith(CONSTRAINTS)]
            assert not odd, (t["name"], odd)
    return {name: sorted(columns) for name, columns in planted.items() if columns}


async def powers(owner: asyncpg.Connection) -> dict[str, Any]:
    row = await owner.fetchrow(ROLE_POWERS, ROLE)
    assert row is not None
    return dict(row)


@pytest.fixture
async def deployed(fresh_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[FaceFind, Settings]]:
    """A service as deployed: migrations as the owner, the application as the runtime role."""
    settings = Settings(**db_settings(fresh_dsn, tmp_path / "data"))
    service = await FaceFind.open(settings, actor="test")
    try:
        yield service, settings
    finally:
        await service.close()


async def test_sql_the_runtime_role_plants_anywhere_never_runs_as_the_owner(
    deployed: tuple[FaceFind, Settings],
    fresh_dsn: str,
    tmp_path: Path,
    t1: np.ndarray,
    t1_boxes: list,
) -> None:
    service, settings = deployed
    gallery = service.gallery
    # a gallery in use: every table has rows of its own
    for k in (0, 1):
        crop = images.to_jpeg(images.crop_around(t1, t1_boxes[k], 0.6))
        await service.enroller.enroll(crop, IdentitySpec(f"Person {k}", f"REF-{k}"), ACTOR)
    result = await service.identifier.identify(
        images.to_jpeg(images.crop_around(t1, t1_boxes[0], 0.8)), ACTOR
    )
    [candidate_id, *_] = result.faces[0].candidate_ids
    await gallery.users.seen(4242, "Mallory", None, "mallory", "en")
    await gallery.feedback.add(candidate_id, 4242, "tg:4242", "confirmed")
    await gallery.inbox.store(77, [(1, {"update_id": 1, "message": {"text": "hi"}})], "test", 60.0)
    queue = open_queue(app_dsn(fresh_dsn), max_connections=1, acquire_timeout=10)
    async with queue.open_async():
        assert await defer_lookup(queue, result.lookup_id)
    # and an interrupted large load left its indexes for the owner to build again
    indexes_before = [tuple(r) for r in await gallery.pool.fetch(HNSW_INDEXES)]
    assert len(indexes_before) == 2
    assert set(await gallery.indexes.defer("test")) == {n for n, _ in indexes_before}

    owner = await asyncpg.connect(fresh_dsn)
    runtime = await asyncpg.connect(app_dsn(fresh_dsn))
    try:
        before = await powers(owner)
        assert not before["rolsuper"]
        triggers_before = [tuple(r) for r in await owner.fetch(TRIGGERS)]
        assert {r[0] for r in triggers_before} >= {"audit_log"}

        planted = await plant_everywhere(runtime, service)
        assert {"audit_log", "users", "identities", "lookups", "inbox"} <= set(planted)

        # the owner runs `facefind migrate`, then a bulk load (which first finishes what an
        # interrupted load left)
        assert await cmd_migrate(settings, argparse.Namespace()) == 0
        root = tmp_path / "people"
        for k in (2, 3):
            (root / f"Load {k}").mkdir(parents=True)
            photo = images.to_jpeg(images.crop_around(t1, t1_boxes[k], 0.6))
            (root / f"Load {k}" / "a.jpg").write_bytes(photo)
        report = await service.enroll_plan(scan_folder(root), ACTOR)
        assert report.enrolled == 2

        # the runtime role gained nothing, the audit triggers still fire
        assert await powers(owner) == before
        assert [tuple(r) for r in await owner.fetch(TRIGGERS)] == triggers_before
        audit_triggers = [r for r in await owner.fetch(TRIGGERS) if r[0] == "audit_log"]
        assert audit_triggers and all(r["tgenabled"] == b"O" for r in audit_triggers)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.execute("DELETE FROM audit_log")
        # the indexes came back as the migrations define them, from nothing the table held
        assert [tuple(r) for r in await owner.fetch(HNSW_INDEXES)] == indexes_before
        assert await gallery.indexes.deferred() == []
        assert (await gallery.audit.verify_chain()).ok
    finally:
        await runtime.close()
        await owner.close()


PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


async def test_the_runtime_role_holds_on_each_table_only_what_the_grants_name(
    fresh_dsn: str, audit_key: AuditKey, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=RuntimeRole(ROLE))
    assert "not named in the runtime role's grants" not in caplog.text  # every table is named
    owner = await asyncpg.connect(fresh_dsn)
    try:
        held = {
            r["relname"]: {p for p in PRIVILEGES if r[p]}
            for r in await owner.fetch(
                "SELECT c.relname, "
                + ", ".join(f"has_table_privilege($1, c.oid, '{p}') AS \"{p}\"" for p in PRIVILEGES)
                + " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                "AND c.relkind IN ('r', 'p')",
                ROLE,
            )
        }
    finally:
        await owner.close()
    for table, privileges in held.items():
        named = runtime_privileges(table)
        assert named is not None, table
        assert privileges == {p.strip() for p in named.split(",")}, table
    # what the owner executes or trusts, the runtime role can only read
    for table in ("deferred_indexes", "schema_migrations", "queue_schema"):
        assert held[table] == {"SELECT"}
    assert held["audit_log"] == {"SELECT", "INSERT"}


async def test_a_deferred_index_is_built_from_the_code_and_an_unknown_name_is_not_run(
    fresh_dsn: str, audit_key: AuditKey, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=RuntimeRole(ROLE))
    pool = await create_pool(app_dsn(fresh_dsn))
    owner = await asyncpg.connect(fresh_dsn)
    try:
        g = Gallery(pool, audit_key=audit_key, owner_dsn=fresh_dsn)
        before = [tuple(r) for r in await owner.fetch(HNSW_INDEXES)]
        assert sorted(await g.indexes.defer("test")) == sorted(VECTOR_INDEX_DEFINITIONS)
        assert await owner.fetch(HNSW_INDEXES) == []
        # even the owner's own table holding a statement as a name: never run, only named
        await owner.execute(
            "INSERT INTO deferred_indexes (name, dropped_by) VALUES ($1, 'x')", PAYLOADS[0]
        )
        built = await g.indexes.restore("test")
        assert sorted(built) == sorted(VECTOR_INDEX_DEFINITIONS)
        assert [tuple(r) for r in await owner.fetch(HNSW_INDEXES)] == before
        assert f"deferred index {PAYLOADS[0]} is not one facefind defines" in caplog.text
        assert not await owner.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", ROLE)
        assert await g.indexes.deferred() == [PAYLOADS[0]]
        # the runtime role cannot add a name of its own
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("INSERT INTO deferred_indexes (name, dropped_by) VALUES ('a', 'b')")
    finally:
        await owner.close()
        await pool.close()


async def test_upgrading_drops_the_definitions_a_runtime_role_may_have_planted(
    fresh_dsn: str, audit_key: AuditKey, tmp_path: Path
) -> None:
    """A gallery from before migration 0011, where the runtime role could write the table."""
    old = tmp_path / "migrations"
    old.mkdir()
    for m in default_migrations_dir().glob("*.sql"):
        if m.name < "0011":
            shutil.copy(m, old / m.name)
    role = RuntimeRole(ROLE)
    await migrate(fresh_dsn, old, audit_key=audit_key, runtime_role=role)
    # what the runtime role could write there before (its grants are today's already)
    owner = await asyncpg.connect(fresh_dsn)
    try:
        await owner.execute(
            "INSERT INTO deferred_indexes (name, definition, dropped_by) "
            "VALUES ('faces_embedding_hnsw', $1, 'x'), ($2, $2, 'x')",
            PAYLOADS[0],
            PAYLOADS[1],
        )
        await owner.execute("DROP INDEX faces_embedding_hnsw")
    finally:
        await owner.close()
    applied = await migrate(fresh_dsn, audit_key=audit_key, runtime_role=role)
    assert applied[0] == "0011_deferred_index_names_only"  # later migrations follow it
    pool = await create_pool(app_dsn(fresh_dsn))
    try:
        g = Gallery(pool, audit_key=audit_key, owner_dsn=fresh_dsn)
        assert await g.indexes.deferred() == ["faces_embedding_hnsw"]
        assert await g.indexes.restore("test") == ["faces_embedding_hnsw"]
        assert not await pool.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", ROLE)
        triggers = await pool.fetch(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
        )
        assert triggers and all(r["tgenabled"] == b"O" for r in triggers)
    finally:
        await pool.close()
