"""The lookup queue's bookkeeping: which process runs each worker, the runs of a lookup's job,
the workers that died under them, and the lookups closed for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery.database import Database
from gallery.queries import jobs as q


@dataclass(frozen=True)
class RecordedWorker:
    worker_id: int  # procrastinate's
    name: str
    host: str
    pid: int
    started: float
    pid_space: str
    registered: bool | None = None  # whether the queue still knows it (None: not asked)


@dataclass(frozen=True)
class LiveWorker:
    """A worker the queue knows now, and the process it runs in (when recorded)."""

    worker_id: int
    last_heartbeat: datetime
    name: str | None
    host: str | None
    pid: int | None


@dataclass(frozen=True)
class QueueState:
    waiting: int  # jobs not started
    running: int
    workers: list[LiveWorker]


class Jobs:
    """The lookup queue's bookkeeping beside procrastinate's own tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_worker(self, worker_id: int, worker: RecordedWorker) -> None:
        """Record which process runs procrastinate's worker `worker_id`."""
        await self.db.pool.execute(
            q.QUEUE_WORKER_RECORD,
            worker_id,
            worker.name,
            worker.host,
            worker.pid,
            worker.started,
            worker.pid_space,
        )

    async def worker(self, worker_id: int) -> RecordedWorker | None:
        row = await self.db.pool.fetchrow(q.QUEUE_WORKER_GET, worker_id)
        return RecordedWorker(**dict(row)) if row else None

    async def workers_in(self, pid_space: str) -> list[RecordedWorker]:
        """The recorded workers whose pid can be checked in `pid_space`."""
        rows = await self.db.pool.fetch(q.QUEUE_WORKERS_IN_SPACE, pid_space)
        return [RecordedWorker(**dict(r)) for r in rows]

    async def queue_state(self) -> QueueState:
        """What waits in the lookup queue and which workers take it."""
        async with self.db.pool.acquire() as con:
            counts = await con.fetchrow(q.QUEUE_JOBS_WAITING)
            workers = await con.fetch(q.QUEUE_WORKERS_LIVE)
        return QueueState(
            int(counts["todo"]), int(counts["doing"]), [LiveWorker(**dict(w)) for w in workers]
        )

    async def forget_worker(self, worker_id: int) -> None:
        await self.db.pool.execute(q.QUEUE_WORKER_FORGET, worker_id)

    async def forget_gone_workers(self) -> int:
        """Drop the records of workers the queue has not known for a day."""
        return int((await self.db.pool.execute(q.QUEUE_WORKERS_FORGET_GONE)).split()[-1])

    async def mark_run(self, lookup_id: int, run: str, worker_id: int | None) -> None:
        """Mark the run of the lookup's job (job id:attempt) now under way in that worker."""
        await self.db.pool.execute(q.LOOKUP_JOB_RUN, lookup_id, run, worker_id)

    async def run_of(self, lookup_id: int) -> tuple[str, int | None] | None:
        """The run of the lookup's job last marked under way, and its worker; None if none."""
        row = await self.db.pool.fetchrow(q.LOOKUP_JOB_RUN_GET, lookup_id)
        if row is None or row["job_run"] is None:
            return None
        return str(row["job_run"]), row["job_worker"]

    async def run_ended(self, lookup_id: int, run: str) -> None:
        """That run ended in a live process: no crash to count."""
        await self.db.pool.execute(q.LOOKUP_JOB_RUN_ENDED, lookup_id, run)

    async def crashed(self, lookup_id: int, run: str) -> int | None:
        """The worker died while `run` of the lookup's job was under way: count it, once
        however many processes notice; the lookup's count, or None if `run` was not under way
        (or was counted already)."""
        crashes = await self.db.pool.fetchval(q.LOOKUP_CRASHED, lookup_id, run)
        return int(crashes) if crashes is not None else None

    async def abandon(
        self, lookup_id: int, error: str, actor: str, details: dict[str, Any]
    ) -> bool:
        """Close a lookup that was never analysed as an error (its reply still owed), audited as
        `lookup.abandoned`; False if it was not waiting for its analysis."""
        async with self.db.transaction() as con:
            if await con.fetchval(q.LOOKUP_ABANDON, lookup_id, error) is None:
                return False
            await self.db.audit(
                actor,
                "lookup.abandoned",
                f"lookup:{lookup_id}",
                {"error": error, **details},
                con=con,
            )
        return True

    @contextlib.asynccontextmanager
    async def one_at_a_time(self, poll: float = 0.5) -> AsyncIterator[None]:
        """Run the body while no other process (or task) runs its own: a session lock on a
        connection held meanwhile, which a process that dies releases with its connection.
        Waiting holds no connection."""
        while True:
            con = await self.db.pool.acquire()
            try:
                if await con.fetchval(q.TRY_LOCK, q.SUSPECT_LOCK_ID):
                    break
            except BaseException:
                await self.db.pool.release(con)
                raise
            await self.db.pool.release(con)
            await asyncio.sleep(poll)
        try:
            yield
        finally:
            try:
                with contextlib.suppress(Exception):  # a broken connection took the lock along
                    await con.fetchval(q.UNLOCK, q.SUSPECT_LOCK_ID)
            finally:
                await self.db.pool.release(con)
