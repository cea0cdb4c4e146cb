"""Supervision of the embedded PostgreSQL: the process that started it brings it back when it dies.

facefind owns that server (no DATABASE_URL): nobody else would notice it stopped. A process
that runs for long with it (the bot, `facefind worker`) checks every few seconds that its
postmaster still runs, starts it again when it does not (backoff between failed tries), logs one
line per try, and calls its hooks: `on_back` once the server answers again (to drop pooled
connections that died with it and wake what waits), `on_failing` once after repeated failed
tries and `on_recovered` when it runs again after those (to tell the admins). With DATABASE_URL
there is nothing to supervise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import procrastinate

from gallery import Gallery
from gallery.embedded import EmbeddedStartError, embedded_pid, restart_embedded

logger = logging.getLogger(__name__)

CHECK_EVERY = 2.0  # seconds between two looks at the postmaster (a file read, no query)
FIRST_BACKOFF = 1.0  # seconds after the first failed start; doubling
MAX_BACKOFF = 60.0
ALERT_AFTER = 3  # failed starts in a row before `on_failing` (the admins are told)

BackHook = Callable[[], Awaitable[None]]
FailingHook = Callable[[int, str], Awaitable[None]]  # failed tries so far, the last reason
RecoveredHook = Callable[[int], Awaitable[None]]  # failed tries before it ran again


class EmbeddedSupervisor:
    def __init__(
        self,
        pgdata: Path,
        *,
        on_back: BackHook,
        on_failing: FailingHook | None = None,
        on_recovered: RecoveredHook | None = None,
        check_every: float = CHECK_EVERY,
        backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        alert_after: int = ALERT_AFTER,
    ) -> None:
        self.pgdata = pgdata
        self.on_back = on_back
        self.on_failing = on_failing
        self.on_recovered = on_recovered
        self.check_every = check_every
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.alert_after = alert_after
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="embedded PostgreSQL supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        pid = embedded_pid(self.pgdata)
        while True:
            await asyncio.sleep(self.check_every)
            now = embedded_pid(self.pgdata)
            if now is None:
                now, failed = await self._restart()
                await self._call(self.on_back())
                # one line a restart, once what waited for the database was woken
                logger.warning(
                    "embedded PostgreSQL was down (postmaster %s gone): restarted it, pid %d, "
                    "after %d failed tries",
                    pid,
                    now,
                    failed,
                )
                if failed >= self.alert_after and self.on_recovered is not None:
                    await self._call(self.on_recovered(failed))
            elif pid is not None and now != pid:
                # another process using the server (a worker beside the bot) started it first
                logger.warning("embedded PostgreSQL was restarted (pid %d, was %d)", now, pid)
                await self._call(self.on_back())
            pid = now

    async def _restart(self) -> tuple[int, int]:
        """Start the server until it runs; its pid and the failed tries before."""
        failed = 0
        delay = self.backoff
        while True:
            try:
                pid = await asyncio.to_thread(restart_embedded, self.pgdata)
            except Exception as exc:
                failed += 1
                # the server's own reason is one line; anything else is a bug worth a traceback
                expected = isinstance(exc, EmbeddedStartError)
                logger.warning(
                    "embedded PostgreSQL is down and did not start (try %d: %s); again in %.0f s",
                    failed,
                    exc if expected else repr(exc),
                    delay,
                    exc_info=None if expected else exc,
                )
                if failed == self.alert_after and self.on_failing is not None:
                    await self._call(self.on_failing(failed, str(exc)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            return pid, failed

    async def _call(self, hook: Awaitable[None]) -> None:
        """A hook that fails must not end the supervision."""
        try:
            await hook
        except Exception:
            logger.exception("embedded PostgreSQL supervisor: a hook failed")


async def fresh_connections(gallery: Gallery, queue: procrastinate.App | None) -> None:
    """Replace the pooled connections that died with the server now, not one failed request
    at a time: asyncpg's are expired, procrastinate's psycopg pool checks each of its own."""
    await gallery.pool.expire_connections()
    connector = queue.connector if queue is not None else None
    if isinstance(connector, procrastinate.PsycopgConnector):
        with contextlib.suppress(procrastinate.exceptions.AppNotOpen):
            await connector.pool.check()
