"""What every repository of the gallery shares: the pool, transactions (the owner's for DDL), and
the sealed audit append that runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg

from gallery.db import set_jsonb_codec
from gallery.seal import AuditKey, append_sealed

# a plain connection or one borrowed from the pool; both run the same queries
Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"


class Database:
    """The pool and the helpers every repository shares. Repository methods take `con` to join
    a caller's transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        audit_key: AuditKey | None = None,
        owner_dsn: str | None = None,
    ) -> None:
        self.pool = pool
        self.audit_key = audit_key
        # the schema owner's connection, for DDL at run time (index builds); None: the pool's
        # role owns the schema itself, or the work waits for `facefind migrate`
        self.owner_dsn = owner_dsn

    def require_key(self) -> AuditKey:
        if self.audit_key is None:
            raise RuntimeError("this gallery was opened without the audit key: it cannot write")
        return self.audit_key

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as con, con.transaction():
            yield con

    @asynccontextmanager
    async def owner_transaction(self) -> AsyncIterator[Connection]:
        """A transaction for DDL: as the owner when the roles are split, else on the pool (whose
        role then raises InsufficientPrivilegeError if it does not own the schema)."""
        if self.owner_dsn is None:
            async with self.transaction() as con:
                yield con
            return
        con = await asyncpg.connect(self.owner_dsn)
        try:
            await set_jsonb_codec(con)
            async with con.transaction():
                yield con
        finally:
            await con.close()

    @asynccontextmanager
    async def joined(self, con: Connection | None) -> AsyncIterator[Connection]:
        """Join the caller's transaction, or open one."""
        if con is not None:
            yield con
            return
        async with self.transaction() as own:
            yield own

    def on(self, con: Connection | None) -> Any:
        """The caller's connection, else the pool: a read that may join a transaction."""
        return con if con is not None else self.pool

    async def ping(self) -> bool:
        return bool(await self.pool.fetchval("SELECT 1") == 1)

    async def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        con: Connection | None = None,
    ) -> None:
        """Append a sealed row, in the caller's transaction when `con` is given."""
        key = self.require_key()
        async with self.joined(con) as c:
            await append_sealed(c, key, actor, action, target, details or {})
