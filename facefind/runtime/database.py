"""Which database, as which role: migrations as the owner, the application as its runtime role.

- Embedded (no DATABASE_URL): the server's superuser runs the migrations and creates the runtime
  role `facefind_app`; the application connects as that role.
- DATABASE_URL and DATABASE_OWNER_URL: the owner migrates and creates (or updates) the role named
  in DATABASE_URL with its password; the application connects with DATABASE_URL.
- DATABASE_URL alone: one role does both, as before; facefind warns when that role could rewrite
  the audit log, and skips migrations when the schema is up to date, so a runtime role whose
  owner migrated separately (docker-compose's migrate service) can start alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from facefind.runtime.settings import Settings, SettingsError
from gallery import (
    DEFAULT_RUNTIME_ROLE,
    AuditKey,
    RuntimeRole,
    audit_rights,
    check_audit_key,
    check_vector,
    create_pool,
    migrate,
    start_embedded,
)
from gallery.embedded import pgdata_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Database:
    app_url: str
    owner_url: str | None  # None: the application's role runs the migrations too
    runtime_role: RuntimeRole | None  # set up by the owner when the roles are split
    applied: tuple[str, ...] = ()  # migrations `prepare` applied
    embedded: Path | None = None  # the embedded server's data, when this process started it

    @property
    def migration_url(self) -> str:
        return self.owner_url or self.app_url


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, as another role."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


async def locate(settings: Settings) -> Database:
    """The connections to use, starting the embedded server when no URL is set."""
    if settings.database_url:
        owner = settings.database_owner_url
        app = urlsplit(settings.database_url)
        if owner is None or urlsplit(owner).username == app.username:
            return Database(settings.database_url, owner, None)
        if not app.username:
            raise SettingsError("DATABASE_URL must name the runtime role (postgresql://ROLE:...)")
        return Database(settings.database_url, owner, RuntimeRole(app.username, app.password))
    if settings.database_owner_url:
        raise SettingsError(
            "DATABASE_OWNER_URL is set without DATABASE_URL: set DATABASE_URL to the connection "
            "of the application's runtime role (docs/operations.md)"
        )
    server = await asyncio.to_thread(start_embedded, settings.data_dir)
    role = RuntimeRole(DEFAULT_RUNTIME_ROLE)
    app_url = with_user(server, role.name)
    return Database(app_url, server, role, embedded=pgdata_of(settings.data_dir))


async def prepare(settings: Settings, key: AuditKey, *, actor: str) -> Database:
    """Migrations (as the owner) and the runtime role's privileges; returns the connections."""
    db = await locate(settings)
    applied = await migrate(
        db.migration_url, audit_key=key, actor=actor, runtime_role=db.runtime_role
    )
    return replace(db, applied=tuple(applied))


async def open_pool(
    db: Database, key: AuditKey, *, max_size: int, acquire_timeout: float = 10.0
) -> asyncpg.Pool:
    """The application's pool, after checking what it connects to: pgvector, the audit key
    and whether this role could rewrite the audit log."""
    pool = await create_pool(db.app_url, max_size=max_size, acquire_timeout=acquire_timeout)
    try:
        async with pool.acquire() as con:
            await check_vector(con, need_installed=True)
            await check_audit_key(con, key)
            rights = await audit_rights(con)
    except BaseException:
        await pool.close()
        raise
    if rights.can_rewrite:
        why = (
            "a superuser"
            if rights.superuser
            else "the owner of the tables"
            if rights.owner
            else "allowed to change audit rows"
        )
        logger.warning(
            "facefind connects as role %s, %s: it could rewrite the audit log. Let "
            "DATABASE_OWNER_URL run the migrations and DATABASE_URL name a runtime role "
            "(docs/operations.md)",
            rights.role,
            why,
        )
    return pool
