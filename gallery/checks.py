"""Start-up checks on the database: pgvector's version, and who could rewrite the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gallery.queries import schema as q

# hnsw.iterative_scan (0.8.0): without it a filtered search can silently return a short list
PGVECTOR_MINIMUM = (0, 8, 0)


class DatabaseCheckError(RuntimeError):
    """The database cannot serve facefind as it is; the message names the fix."""


def parse_version(text: str) -> tuple[int, ...]:
    """'0.8.1' -> (0, 8, 1); suffixes such as '-dev' are ignored."""
    parts = re.findall(r"\d+", text.split("-")[0])
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(p) for p in parts[:3])


def _text(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def vector_problem(
    available: str | None, installed: str | None, *, need_installed: bool
) -> str | None:
    """What is wrong with pgvector on this server and database, with the fix; None if fine.

    `available`: the server's packaged default version (None: pgvector is not installed on the
    server); `installed`: the version created in this database (None: CREATE EXTENSION not run).
    `need_installed`: at start the extension must exist already; migrations create it.
    """
    need = _text(PGVECTOR_MINIMUM)
    if installed is not None:
        if parse_version(installed) >= PGVECTOR_MINIMUM:
            return None
        if available is not None and parse_version(available) >= PGVECTOR_MINIMUM:
            return (
                f"pgvector {installed} is active in this database, and facefind needs {need} or "
                f"later (hnsw.iterative_scan); the server has {available}: as the database owner "
                "or a superuser run `ALTER EXTENSION vector UPDATE;`, then start again"
            )
        return (
            f"pgvector {installed} is active in this database, and facefind needs {need} or later "
            "(hnsw.iterative_scan): upgrade the pgvector package on the PostgreSQL server "
            "(e.g. the pgvector/pgvector:pg17 image), then run `ALTER EXTENSION vector UPDATE;`"
        )
    if available is None:
        return (
            f"the PostgreSQL server has no pgvector extension; facefind needs pgvector {need} or "
            "later: install it on the server (the pgvector/pgvector:pg17 image has it; Debian/"
            "Ubuntu: apt install postgresql-17-pgvector), then run `facefind migrate`"
        )
    if parse_version(available) < PGVECTOR_MINIMUM:
        return (
            f"the PostgreSQL server has pgvector {available}, and facefind needs {need} or later "
            "(hnsw.iterative_scan): upgrade the pgvector package on the server, then run "
            "`facefind migrate`"
        )
    if need_installed:
        return (
            "the vector extension is not created in this database: run `facefind migrate` with "
            "the owner's connection (DATABASE_OWNER_URL)"
        )
    return None


async def check_vector(con: Any, *, need_installed: bool) -> str:
    """Raise DatabaseCheckError unless pgvector >= 0.8 is (or can be) active; its version."""
    row = await con.fetchrow(q.VECTOR_VERSIONS)
    available = row["default_version"] if row else None
    installed = row["installed_version"] if row else None
    problem = vector_problem(available, installed, need_installed=need_installed)
    if problem:
        raise DatabaseCheckError(problem)
    return str(installed or available)


@dataclass(frozen=True)
class AuditRights:
    role: str
    superuser: bool
    owner: bool
    can_change: bool

    @property
    def can_rewrite(self) -> bool:
        """A superuser or the tables' owner can switch the guards off; others need grants."""
        return self.superuser or self.owner or self.can_change


async def audit_rights(con: Any) -> AuditRights:
    row = await con.fetchrow(q.AUDIT_RIGHTS)
    return AuditRights(row["role"], row["superuser"], row["owner"], row["can_change"])
