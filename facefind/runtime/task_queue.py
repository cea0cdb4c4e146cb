"""The lookup queue: procrastinate (a PostgreSQL task queue) carries one job per lookup.

Any process can defer a job and any worker can run it: the bot runs one worker in-process by
default, and worker processes on other machines can take the same jobs. A job's arguments are
only the lookup id; everything else is read from the database when it runs, so running a job
twice is harmless, and `lock` keeps two jobs of one lookup from running at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import JobContext
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.worker import Worker

from facefind.runtime.processes import ProcessId, known_alive, known_dead, this_process
from gallery import Gallery, database_unavailable, outage_text
from gallery.jobs import RecordedWorker

logger = logging.getLogger(__name__)

LOOKUP_TASK = "facefind.lookup"
LOOKUP_QUEUE = "lookups"
# a job whose worker sent no heartbeat for this many heartbeat intervals is taken over
STALLED_AFTER_HEARTBEATS = 3


def open_queue(dsn: str, *, max_connections: int, acquire_timeout: float) -> procrastinate.App:
    """A procrastinate app on its own small psycopg pool (it does not speak asyncpg)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=dsn,
        min_size=1,
        max_size=max_connections,
        timeout=acquire_timeout,  # waiting for a connection gives up, as the asyncpg pool does
        # psycopg's pool retries a lost connection with doubling delays (minutes, after a long
        # outage) and starts no other attempt meanwhile: every request would time out long
        # after the database is back. Giving up within the acquire timeout lets the next
        # request start a fresh attempt.
        reconnect_timeout=max(1.0, acquire_timeout / 2),
    )
    return procrastinate.App(connector=connector)


def worker_name() -> str:
    """How this process is named in the queue and on the lookups it analyses."""
    return this_process().name


def job_run(job: procrastinate.jobs.Job) -> str:
    """One run of a job: a retry, or a takeover from a dead worker, is another run."""
    return f"{job.id}:{job.attempts}"


def lookup_lock(lookup_id: int) -> str:
    return f"lookup:{lookup_id}"


async def defer_lookup(queue: procrastinate.App, lookup_id: int) -> bool:
    """Queue the job of a lookup; False when one is already waiting (the queueing lock)."""
    try:
        await queue.configure_task(
            LOOKUP_TASK,
            queue=LOOKUP_QUEUE,
            lock=lookup_lock(lookup_id),
            queueing_lock=lookup_lock(lookup_id),
        ).defer_async(lookup_id=lookup_id)
    except AlreadyEnqueued:
        return False
    return True


class Backoff(BaseRetryStrategy):
    """Bounded exponential backoff: `attempts` runs in all, waiting base, 2 base, 4 base, ...
    (at most `cap` seconds) between them."""

    def __init__(self, attempts: int, base: float, cap: float) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap

    def wait(self, done: int) -> float:
        """Seconds before the next run, after `done` runs."""
        return float(min(self.cap, self.base * 2 ** max(done - 1, 0)))

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> RetryDecision | None:
        done = job.attempts + 1
        if done >= self.attempts:
            return None
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=self.wait(done)))


class QueueWorker:
    """An in-process procrastinate worker for lookup jobs, kept running through database
    outages, plus the housekeeping that makes the queue self-healing:

    - a worker that stops (its database connection broke) is started again, with backoff;
    - jobs whose worker is known to be dead (this host, its process gone) are retried at once,
      those whose worker stopped sending heartbeats (killed elsewhere, machine gone) once its
      heartbeat is old; a lookup whose job run was under way there counts a crash;
    - lookups that are owed a reply but have no job (a crash between recording a lookup and
      queueing its job) get one.
    """

    def __init__(
        self,
        queue: procrastinate.App,
        gallery: Gallery,
        *,
        concurrency: int,
        heartbeat: float,
        context: dict[str, Any],
        chores: Sequence[Callable[[], Awaitable[object]]] = (),
    ) -> None:
        self.queue = queue
        # more housekeeping, at every heartbeat after the queue's own (watchlist alerts)
        self.chores = tuple(chores)
        self.gallery = gallery
        self.heartbeat = heartbeat
        self.stalled_after = heartbeat * STALLED_AFTER_HEARTBEATS
        # no shutdown_graceful_timeout: a stop lets the running lookups answer
        self.options: procrastinate.app.WorkerOptions = {
            "queues": [LOOKUP_QUEUE],
            "name": worker_name(),
            "concurrency": concurrency,
            "install_signal_handlers": False,
            "fetch_job_polling_interval": 1.0,  # retries are scheduled, not notified
            "update_heartbeat_interval": heartbeat,
            "stalled_worker_timeout": self.stalled_after,
            "delete_jobs": "successful",
            "additional_context": context,
            "worker_middleware": [self._record_worker],
        }
        self._recorded: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._woken = asyncio.Event()

    def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._supervise(), name="lookup worker"),
            asyncio.create_task(
                _every(self.heartbeat, self.tidy, "queue housekeeping"), name="queue housekeeping"
            ),
        ]

    async def stop(self) -> None:
        """Stop taking jobs and wait for the running ones (procrastinate stops gracefully when
        its task is cancelled)."""
        self._stopping = True
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def wake(self) -> None:
        """The database is back: start a worker that stopped at once, not after its backoff."""
        self._woken.set()

    async def _supervise(self) -> None:
        backoff = 1.0
        while True:
            self._woken.clear()
            try:
                await self.queue.run_worker_async(**self.options)
                if self._stopping:
                    return
                logger.warning("lookup worker stopped by itself; starting it again")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    # stopping while the database is gone: the worker could not unregister;
                    # its jobs are taken over once its heartbeat is old
                    logger.warning("lookup worker stopped with an error: %s", exc)
                    return
                if database_unavailable(exc):
                    logger.warning(
                        "lookup worker: database unavailable (%s); restarting", outage_text(exc)
                    )
                else:
                    logger.exception("lookup worker failed; restarting")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), backoff)
            backoff = 1.0 if self._woken.is_set() else min(backoff * 2, 30.0)

    async def _record_worker(
        self,
        call_next: Callable[[], Awaitable[Any]],
        context: JobContext,
        worker: Worker,
    ) -> Any:
        """Before a worker's first job: record that this process runs it, so that a process on
        this host can tell when it died (procrastinate's worker row says nothing of where)."""
        if worker.worker_id is not None and worker.worker_id not in self._recorded:
            me = this_process()
            try:
                await self.gallery.jobs.record_worker(
                    worker.worker_id,
                    RecordedWorker(
                        worker.worker_id, me.name, me.host, me.pid, me.started, me.pid_space
                    ),
                )
                self._recorded.add(worker.worker_id)
            except Exception as exc:  # its jobs are still taken over, once its heartbeat is old
                logger.warning("could not record lookup worker %s: %s", worker.worker_id, exc)
        return await call_next()

    async def tidy(self) -> None:
        """Retry the jobs of dead workers, counting the lookups whose run they cut short; queue
        a job for every open lookup without one."""
        manager = self.queue.job_manager
        await self.forget_dead_workers()
        for job in await manager.get_stalled_jobs(
            task_name=LOOKUP_TASK, seconds_since_heartbeat=self.stalled_after
        ):
            lookup_id = int(str(job.task_kwargs["lookup_id"]))
            # counted before the retry: once retried, a new run may be under way
            crashes = await self._count_crash(lookup_id, job)
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.ConnectorException as exc:
                logger.info("lookup job %s was taken over elsewhere (%s)", job.id, exc)
                continue
            if crashes is None:
                logger.warning("lookup job %s: its worker is gone; retrying it", job.id)
            else:
                logger.warning(
                    "lookup %s: its worker died while running its job (%d time(s)); retrying it",
                    lookup_id,
                    crashes,
                )
        for lookup_id in await self.gallery.lookups.open_without_job(LOOKUP_TASK):
            if await defer_lookup(self.queue, lookup_id):
                logger.warning("lookup %s had no job (a crash?); queued one", lookup_id)
        for chore in self.chores:
            await chore()

    async def _count_crash(self, lookup_id: int, job: procrastinate.jobs.Job) -> int | None:
        """The lookup's crash count if this stalled job's run was under way when its worker
        died; None when it was not under way, or its worker's process lives on (its worker
        stopped after a database outage, which left the job unfinished)."""
        gallery = self.gallery
        run = job_run(job)
        marked = await gallery.jobs.run_of(lookup_id)
        if marked is None or marked[0] != run:
            return None
        worker = await gallery.jobs.worker(marked[1]) if marked[1] is not None else None
        if worker is not None and known_alive(
            ProcessId(worker.host, worker.pid, worker.started, worker.pid_space)
        ):
            await gallery.jobs.run_ended(lookup_id, run)
            return None
        # dead, or on another host (its heartbeat ran out): counted
        return await gallery.jobs.crashed(lookup_id, run)

    async def forget_dead_workers(self) -> None:
        """Workers of this host whose process is gone: unregistered at once, which makes their
        jobs stalled now rather than once their heartbeat is old."""
        gallery = self.gallery
        for worker in await gallery.jobs.workers_in(this_process().pid_space):
            process = ProcessId(worker.host, worker.pid, worker.started, worker.pid_space)
            if not known_dead(process):
                continue
            if worker.registered:
                await self.queue.job_manager.unregister_worker(worker.worker_id)
                logger.warning(
                    "lookup worker %s is gone (process %d ended): its jobs are taken over now",
                    worker.name,
                    worker.pid,
                )
            await gallery.jobs.forget_worker(worker.worker_id)
        await gallery.jobs.forget_gone_workers()


async def _every(seconds: float, work: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `work` now and then every `seconds`; failures are logged, never fatal."""
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if database_unavailable(exc):
                logger.warning("%s: database unavailable (%s)", what, outage_text(exc))
            else:
                logger.exception("%s failed", what)
        await asyncio.sleep(seconds)
