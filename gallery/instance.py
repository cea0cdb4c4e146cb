"""One bot process per bot: a PostgreSQL session lock keyed by the bot's id, held on a
connection of its own for the life of the process.

The server releases the lock when that connection ends, so a process that dies (even by
SIGKILL: its socket closes) leaves the bot free for the next one at once. A machine that
vanishes leaves a silent connection: the session is then ended by `idle_session_timeout`, since a
live holder pings it more often than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from gallery.db import database_unavailable
from gallery.queries import jobs as q

logger = logging.getLogger(__name__)

PING_EVERY = 10.0  # seconds between two checks that the lock's connection is alive
IDLE_TIMEOUT = "60s"  # the server ends a lock's session silent for this long


class BotLockHeld(Exception):
    """Another process holds the bot's lock."""

    def __init__(self, bot_id: int, holder: str | None, since: datetime | None) -> None:
        self.bot_id = bot_id
        self.holder = holder
        self.since = since
        who = holder or "a process"
        when = f" since {since:%Y-%m-%d %H:%M:%S %Z}" if since is not None else ""
        super().__init__(f"bot {bot_id} is run by {who}{when}")


def lock_key(bot_id: int) -> int:
    """The lock's 64-bit key: derived from the bot id, apart from every other lock's."""
    digest = hashlib.sha256(f"facefind run: bot {bot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class BotLock:
    def __init__(self, dsn: str, bot_id: int, holder: str) -> None:
        self.dsn = dsn
        self.bot_id = bot_id
        self.holder = holder  # how the holder is named to a process refused the lock
        self.key = lock_key(bot_id)
        self.lost: BotLockHeld | None = None  # taken by another process while ours was gone
        self._con: asyncpg.Connection[Any] | None = None

    async def acquire(self) -> None:
        """Take the lock, or raise BotLockHeld naming who has it."""
        con = await asyncpg.connect(
            self.dsn, server_settings={"application_name": f"facefind run {self.holder}"[:63]}
        )
        try:
            with contextlib.suppress(asyncpg.PostgresError):  # before PostgreSQL 14: no limit
                await con.fetchval(q.BOT_LOCK_IDLE_TIMEOUT, IDLE_TIMEOUT)
            if await con.fetchval(q.TRY_LOCK, self.key):
                self._con = con
                return
            unsigned = self.key & 0xFFFFFFFFFFFFFFFF
            row = await con.fetchrow(q.BOT_LOCK_HOLDER, unsigned >> 32, unsigned & 0xFFFFFFFF)
        except BaseException:
            await con.close()
            raise
        await con.close()
        holder = None
        if row is not None:
            holder = str(row["application_name"]).removeprefix("facefind run ") or None
            if holder and row["client"]:
                holder += f" (from {row['client']})"
        raise BotLockHeld(self.bot_id, holder, row["backend_start"] if row else None)

    async def keep(self) -> None:
        """Check that the lock is still held; after its connection broke (the database
        restarted), take it again. Raises BotLockHeld when another process took it meanwhile,
        and the database's errors while it is out of reach."""
        if self._con is not None and not self._con.is_closed():
            try:
                await self._con.fetchval(q.PING)
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                await self._drop()
        await self.acquire()
        logger.info("bot lock taken again after its connection broke")

    async def hold(self, on_lost: Callable[[], None]) -> None:
        """Keep the lock until cancelled; if another process took it, call `on_lost` (the
        process must stop: two would handle the same updates)."""
        unavailable = False
        while True:
            await asyncio.sleep(PING_EVERY)
            try:
                await self.keep()
                unavailable = False
            except BotLockHeld as exc:
                logger.error("%s, which took it while our connection was gone: stopping", exc)
                self.lost = exc
                on_lost()
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    logger.exception("checking the bot lock failed")
                elif not unavailable:  # one line per outage
                    logger.warning("bot lock: database unavailable (%s); retrying", exc)
                    unavailable = True

    async def release(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(con.close(), timeout=5)
            if not con.is_closed():
                con.terminate()
