"""The gallery's shared base: the pool, transactions and the audit insert every area uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg

from gallery import queries as q

# a plain connection or one borrowed from the pool; both run the same queries
Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"


class GalleryBase:
    """The pool and the helpers every area of the gallery shares. Methods take `con` to join a
    caller's transaction."""

    def __init__(self, pool: asyncpg.Pool, *, ef_search: int = 200, shortlist: int = 200) -> None:
        self.pool = pool
        self.ef_search = ef_search
        self.shortlist = shortlist

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as con, con.transaction():
            yield con

    def _c(self, con: Connection | None) -> Any:
        return con if con is not None else self.pool

    # --- health ---------------------------------------------------------------------------
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
        await self._c(con).execute(q.AUDIT_INSERT, actor, action, target, details or {})

    @asynccontextmanager
    async def _tx(self, con: Connection | None) -> AsyncIterator[Connection]:
        """Join the caller's transaction, or open one."""
        if con is not None:
            yield con
            return
        async with self.transaction() as own:
            yield own
