"""Connection pool and the forward-only migration runner."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import procrastinate
from pgvector.asyncpg import register_vector
from procrastinate.schema import SchemaManager

from gallery.checks import check_vector
from gallery.queries import audit as audit_sql
from gallery.queries import schema as schema_sql
from gallery.roles import RuntimeRole, ensure_runtime_role, grant_runtime_privileges
from gallery.seal import AuditKey, append_sealed, check_audit_key

logger = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """A migration file changed after it was applied, or is malformed."""


def default_migrations_dir() -> Path:
    return Path(str(resources.files("migrations")))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name not of the form NNNN_name.sql: {path.name}")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(
    dsn: str,
    directory: Path | None = None,
    *,
    audit_key: AuditKey,
    actor: str = "system",
    runtime_role: RuntimeRole | None = None,
) -> list[str]:
    """Apply pending migrations in order; return the names applied. Safe to run concurrently.

    `dsn` is the owner's connection. With `runtime_role`, the role is created if missing and
    given its privileges after the run (also when nothing was pending). Without one, a database
    that is up to date is left untouched, so a role without DDL rights can call this too.
    """
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    con = await asyncpg.connect(dsn)
    try:
        await set_jsonb_codec(con)
        if (
            runtime_role is None
            and not await _pending(con, migrations)
            and not await _queue_schema_pending(con)
        ):
            return []
        await check_vector(con, need_installed=False)
        # session lock: a second process waits, then finds everything applied
        await con.execute(schema_sql.MIGRATION_LOCK, schema_sql.MIGRATION_LOCK_ID)
        try:
            await con.execute(schema_sql.MIGRATIONS_TABLE)
            await check_audit_key(con, audit_key)
            for m in await _pending(con, migrations):
                async with con.transaction():
                    await con.execute(m.sql)
                    await con.execute(schema_sql.MIGRATION_RECORD, m.version, m.name, m.checksum)
                    await _audit_migration(con, m, actor, audit_key)
                applied_now.append(f"{m.version:04d}_{m.name}")
                logger.info("applied migration %04d_%s", m.version, m.name)
            applied_now.extend(await _apply_queue_schema(con, actor, audit_key))
            if runtime_role is not None:
                await ensure_runtime_role(con, runtime_role)
                await grant_runtime_privileges(con, runtime_role)
        except asyncpg.InsufficientPrivilegeError as exc:
            raise MigrationError(
                f"role {await con.fetchval('SELECT current_user')} cannot change the schema "
                f"({exc}): run `facefind migrate` with DATABASE_OWNER_URL set to the owner's "
                "connection"
            ) from None
        finally:
            await con.execute(schema_sql.MIGRATION_UNLOCK, schema_sql.MIGRATION_LOCK_ID)
    finally:
        await con.close()
    return applied_now


async def _pending(con: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Migrations not applied yet; refuses a file that changed after it was applied."""
    if not await con.fetchval(schema_sql.MIGRATIONS_TABLE_EXISTS):
        return migrations
    applied = {r["version"]: r["checksum"] for r in await con.fetch(schema_sql.MIGRATIONS_APPLIED)}
    for m in migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(f"migration {m.version:04d}_{m.name} changed after it was applied")
    return [m for m in migrations if m.version not in applied]


async def _audit_migration(
    con: asyncpg.Connection, m: Migration, actor: str, audit_key: AuditKey
) -> None:
    """Record the migration in the audit log: sealed once migration 0004 made rows sealed."""
    await _audit(con, audit_key, actor, f"{m.version:04d}_{m.name}", {"checksum": m.checksum})


async def _audit(
    con: asyncpg.Connection, audit_key: AuditKey, actor: str, target: str, details: dict[str, Any]
) -> None:
    if await con.fetchval(audit_sql.AUDIT_SEALED_SCHEME):
        await append_sealed(con, audit_key, actor, "migration.apply", target, details)
    else:
        await con.execute(audit_sql.AUDIT_INSERT_LEGACY, actor, "migration.apply", target, details)


QUEUE_COMPONENT = "procrastinate"
_QUEUE_MIGRATION = re.compile(r"^(\d+)\.(\d+)\.(\d+)_\d+_[a-z0-9_]+\.sql$")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


async def _apply_queue_schema(
    con: asyncpg.Connection, actor: str, audit_key: AuditKey
) -> list[str]:
    """The task queue's tables and functions, owned by whoever runs the migrations.

    procrastinate is pinned in pyproject.toml; its full schema is applied once and the version
    recorded. After an upgrade of the pin, procrastinate's own migration files between the
    recorded and the installed version are applied in order.
    """
    installed = procrastinate.__version__
    if await con.fetchval(schema_sql.TABLE_EXISTS, "queue_schema") is None:
        return []  # a migrations folder without 0005 (tests of the runner itself)
    recorded = await con.fetchval(schema_sql.QUEUE_SCHEMA_VERSION, QUEUE_COMPONENT)
    if recorded == installed:
        return []
    if recorded is None:
        sql = [SchemaManager.get_schema()]
        done = f"{QUEUE_COMPONENT} {installed}"
    else:
        if _version(recorded) > _version(installed):
            raise MigrationError(
                f"the task queue schema is procrastinate {recorded}, newer than the installed "
                f"{installed}: install facefind's pinned version"
            )
        sql = _queue_migrations(recorded, installed)
        done = f"{QUEUE_COMPONENT} {recorded} -> {installed}"
    async with con.transaction():
        for statement in sql:
            await con.execute(statement)
        await con.execute(schema_sql.QUEUE_SCHEMA_RECORD, QUEUE_COMPONENT, installed)
        await _audit(con, audit_key, actor, done, {"version": installed})
    logger.info("applied the task queue schema: %s", done)
    return [done]


async def _queue_schema_pending(con: asyncpg.Connection) -> bool:
    """Whether the task queue's schema is missing or of another procrastinate version."""
    if await con.fetchval(schema_sql.TABLE_EXISTS, "queue_schema") is None:
        return False  # the numbered migrations create its table: they are pending then
    recorded = await con.fetchval(schema_sql.QUEUE_SCHEMA_VERSION, QUEUE_COMPONENT)
    return bool(recorded != procrastinate.__version__)


def _queue_migrations(after: str, upto: str) -> list[str]:
    """procrastinate's migration files for versions in (after, upto], in order."""
    return [
        path.read_text(encoding="utf-8")
        for path in sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql"))
        if (match := _QUEUE_MIGRATION.match(path.name))
        and _version(after) < _version(".".join(match.groups())) <= _version(upto)
    ]


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached right now" (down, restarting,
    no free connection in time), as opposed to a query that is wrong: the work is kept and
    retried instead of being reported as a failure."""
    import psycopg
    from procrastinate.exceptions import ConnectorException

    if isinstance(exc, ConnectorException):
        cause = exc.__cause__
        return cause is None or database_unavailable(cause)
    return isinstance(
        exc,
        OSError  # refused, socket gone
        | TimeoutError  # no pool connection within the acquire timeout
        | asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError  # shutdown, cannot connect now
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.InterfaceError  # connection closed mid-query
        # a connection the server dropped mid-reply: its protocol is left mid-operation
        | asyncpg.exceptions.InternalClientError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )


def outage_text(exc: BaseException) -> str:
    """One line saying what an outage error is ("connection refused"), for a log line without a
    traceback: procrastinate's own message is a blank "Database error.", its cause says it."""
    from procrastinate.exceptions import ConnectorException

    while isinstance(exc, ConnectorException) and exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    name = type(exc).__name__
    return f"{name}: {lines[0]}" if lines else name


def _jsonb_encode(value: object) -> bytes:
    return b"\x01" + json.dumps(value, ensure_ascii=False).encode()


def _jsonb_decode(data: bytes) -> object:
    return json.loads(data[1:])


async def set_jsonb_codec(con: asyncpg.Connection) -> None:
    # binary (version byte + text) so COPY works too; Python objects in and out
    await con.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


async def _init_connection(con: asyncpg.Connection) -> None:
    await register_vector(con)
    await set_jsonb_codec(con)


class TimedPool(asyncpg.Pool):
    """asyncpg's pool, where taking a connection gives up after `acquire_timeout` seconds
    (TimeoutError) instead of waiting forever when every connection is busy or the server is
    gone; pool.fetch() and friends use it too."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, acquire_timeout: float = 10.0
) -> asyncpg.Pool:
    """A pool whose connections know `vector` and `jsonb`; migrate first (the extension)."""
    pool = TimedPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        # connecting must not hang on a server that is going away either
        timeout=acquire_timeout,
    )
    await pool
    return pool


# --- scratch databases (tests, benchmarks) ------------------------------------------------------
_DATABASE_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


def database_dsn(server_uri: str, name: str) -> str:
    """The URI of database `name` on the same server as `server_uri`."""
    return urlunsplit(urlsplit(server_uri)._replace(path=f"/{name}"))


async def create_database(server_uri: str, name: str) -> str:
    """Create an empty database on the server and return its URI."""
    con = await asyncpg.connect(server_uri)
    try:
        await con.execute(schema_sql.create_database(_checked_name(name)))
    finally:
        await con.close()
    return database_dsn(server_uri, name)


async def drop_database(server_uri: str, name: str) -> None:
    con = await asyncpg.connect(server_uri)
    try:
        await con.execute(schema_sql.drop_database(_checked_name(name)))
    finally:
        await con.close()


def _checked_name(name: str) -> str:
    # DDL takes no parameters: only plain generated identifiers get into the statement
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name
