"""The application's runtime role: created by the migration runner, with least privilege."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from gallery.queries import schema as q

logger = logging.getLogger(__name__)

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
# the embedded server's runtime role; elsewhere the user named in DATABASE_URL
DEFAULT_RUNTIME_ROLE = "facefind_app"


class RoleError(RuntimeError):
    """The runtime role cannot be set up; the message says what to do instead."""


@dataclass(frozen=True)
class RuntimeRole:
    """The role the application connects as. `password`: set on it when given (scram)."""

    name: str
    password: str | None = None

    def __post_init__(self) -> None:
        if not _ROLE_NAME.match(self.name):
            raise RoleError(
                f"runtime role name {self.name!r}: use lower-case letters, digits and _ only"
            )

    def __repr__(self) -> str:  # the password never reaches a log
        return f"RuntimeRole({self.name!r})"


async def _run_formatted(con: Any, template: str, *args: str) -> None:
    statement = await con.fetchval(template, *args)
    await con.execute(statement)


async def ensure_runtime_role(con: Any, role: RuntimeRole) -> None:
    """Create the role if it is missing (LOGIN, no other attribute), and keep its password."""
    if not await con.fetchval(q.ROLE_EXISTS, role.name):
        try:
            if role.password:
                await _run_formatted(con, q.ROLE_CREATE_WITH_PASSWORD, role.name, role.password)
            else:
                await _run_formatted(con, q.ROLE_CREATE, role.name)
            logger.info("created the runtime role %s", role.name)
            return
        except asyncpg.DuplicateObjectError:
            return  # another process (another database of the same server) made it first
        except asyncpg.InsufficientPrivilegeError:
            raise RoleError(
                f"the owner's role may not create roles: create the runtime role yourself "
                f"(CREATE ROLE {role.name} LOGIN PASSWORD '...'), then run facefind migrate"
            ) from None
    if role.password:
        try:
            await _run_formatted(con, q.ROLE_SET_PASSWORD, role.name, role.password)
        except asyncpg.InsufficientPrivilegeError:
            logger.info("cannot set the password of role %s; keeping it as it is", role.name)


def runtime_privileges(table: str) -> str | None:
    """What the runtime role may do on a table; None for a table no grant names."""
    prefix, queue_privileges = q.RUNTIME_QUEUE_TABLES
    if table.startswith(prefix):
        return queue_privileges
    return q.RUNTIME_TABLE_PRIVILEGES.get(table)


async def grant_runtime_privileges(con: Any, role: RuntimeRole) -> None:
    """On each table what the application needs there (q.RUNTIME_TABLE_PRIVILEGES), on the
    audit log only SELECT and INSERT. Run after every migration run: later migrations add
    tables. One transaction, so a running application never sees its privileges missing."""
    async with con.transaction():
        for template in q.RUNTIME_GRANTS:
            await _run_formatted(con, template, role.name)
        for table in [r[0] for r in await con.fetch(q.SCHEMA_TABLES)]:
            privileges = runtime_privileges(table)
            if privileges is None:
                logger.warning(
                    "table %s is not named in the runtime role's grants (gallery/queries/"
                    "schema.py RUNTIME_TABLE_PRIVILEGES): role %s may only read it",
                    table,
                    role.name,
                )
                privileges = "SELECT"
            await _run_formatted(con, q.TABLE_GRANT, privileges, table, role.name)
