"""The lookup queue's rules, without a worker: retry schedule, retry policy, schema versions,
workers that died."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import procrastinate
import psutil
import pytest
from procrastinate.schema import SchemaManager
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.delivery.lookup_jobs import register_lookup_task
from bot.delivery.telegram_io import RetryPolicy
from facefind.runtime.processes import ProcessId, this_process
from facefind.runtime.settings import Settings
from facefind.runtime.task_queue import (
    LOOKUP_QUEUE,
    Backoff,
    QueueWorker,
    defer_lookup,
    job_run,
    open_queue,
)
from gallery import Gallery, migrate
from gallery.db import MigrationError, _queue_migrations
from gallery.jobs import RecordedWorker
from gallery.queries.jobs import SUSPECT_LOCK_ID
from gallery.seal import AuditKey


def test_the_reply_schedule_doubles_up_to_its_cap_and_stops_after_the_last_run() -> None:
    backoff = Backoff(attempts=5, base=2.0, cap=10.0)
    assert [backoff.wait(done) for done in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    job = procrastinate.jobs.Job(id=1, queue="lookups", lock=None, queueing_lock=None,
                                 task_name="facefind.lookup", task_kwargs={"lookup_id": 1},
                                 attempts=1)  # fmt: skip
    decision = backoff.get_retry_decision(exception=RuntimeError(), job=job)
    assert decision is not None and decision.retry_at is not None
    wait = (decision.retry_at - datetime.now(UTC)).total_seconds()
    assert 3.0 < wait <= 4.0  # after its second run
    last = procrastinate.jobs.Job(id=1, queue="lookups", lock=None, queueing_lock=None,
                                  task_name="facefind.lookup", task_kwargs={"lookup_id": 1},
                                  attempts=4)  # fmt: skip
    assert backoff.get_retry_decision(exception=RuntimeError(), job=last) is None


def test_the_retry_policy_counts_every_failure_against_one_budget() -> None:
    policy = RetryPolicy(attempts=3, backoff=0.5, max_flood_wait=30)
    assert policy.delay(1, NetworkError("reset")) == 0.5
    assert policy.delay(2, RetryAfter(timedelta(seconds=2))) == pytest.approx(2.1)
    assert policy.delay(3, NetworkError("reset")) is None  # the third try was the last
    assert policy.delay(1, BadRequest("chat not found")) is None  # retrying cannot help
    assert (
        policy.delay(1, RetryAfter(timedelta(seconds=120))) is None
    )  # too long to hold a call: the job waits


def test_queue_schema_upgrades_apply_procrastinates_files_in_between() -> None:
    folder = Path(SchemaManager.get_migrations_path())
    expected = [
        (folder / name).read_text(encoding="utf-8")
        for name in (
            "03.03.00_01_pre_priority_lock_fetch_job.sql",
            "03.04.00_01_pre_add_retry_failed_job_procedure.sql",
            "03.04.00_50_post_add_retry_failed_job_procedure.sql",
        )
    ]
    assert _queue_migrations("3.2.0", "3.4.0") == expected
    assert _queue_migrations("3.4.0", "3.4.0") == []


async def test_a_queue_schema_newer_than_the_installed_procrastinate_is_refused(
    fresh_dsn: str, audit_key: AuditKey
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key)
    con = await asyncpg.connect(fresh_dsn)
    try:
        await con.execute("UPDATE queue_schema SET version = '99.0.0'")
    finally:
        await con.close()
    with pytest.raises(MigrationError, match="newer than the installed"):
        await migrate(fresh_dsn, audit_key=audit_key)


# --- workers that died -------------------------------------------------------------------------
def ended_process() -> ProcessId:
    """A process of this host that ran and ended (its pid is gone now)."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    started = psutil.Process(child.pid).create_time()
    child.communicate()
    me = this_process()
    return ProcessId(me.host, child.pid, started, me.pid_space)


async def test_a_dead_workers_jobs_are_taken_over_at_once_and_only_a_run_cut_by_death_counts(
    fresh_dsn: str, audit_key: AuditKey, gallery: Gallery
) -> None:
    queue = open_queue(fresh_dsn, max_connections=4, acquire_timeout=10)
    register_lookup_task(queue, Settings())
    await queue.open_async()
    try:
        manager = queue.job_manager
        # three jobs under way: in a process that ended, in this one, and in this one by a
        # worker the queue forgot (it stopped in a database outage and was pruned since)
        lookups: list[int] = []
        jobs = []
        for message_id, process in enumerate((ended_process(), this_process(), this_process())):
            lookup_id = await gallery.lookups.create(
                user_id=None, actor="test", source="telegram", chat_id=1, message_id=message_id
            )
            assert lookup_id is not None and await defer_lookup(queue, lookup_id)
            worker_id = await manager.register_worker()  # its heartbeat is fresh
            job = await manager.fetch_job(queues=[LOOKUP_QUEUE], worker_id=worker_id)
            assert job is not None and job.task_kwargs == {"lookup_id": lookup_id}
            await gallery.jobs.record_worker(
                worker_id,
                RecordedWorker(worker_id, process.name, process.host, process.pid,
                               process.started, process.pid_space),
            )  # fmt: skip
            await gallery.jobs.mark_run(lookup_id, job_run(job), worker_id)
            lookups.append(lookup_id)
            jobs.append(job)
        dead, _alive, forgotten = jobs
        assert forgotten.worker_id is not None
        await manager.unregister_worker(forgotten.worker_id)
        # a heartbeat that runs out only in 20 minutes: only a dead process frees its job
        worker = QueueWorker(queue, gallery, concurrency=1, heartbeat=400.0, context={})
        await worker.tidy()
        states = [(j.status, j.attempts) for j in await manager.list_jobs_async()]
        assert states == [("todo", 1), ("doing", 0), ("todo", 1)]
        crashes = [lookup.crashes for i in lookups if (lookup := await gallery.lookups.get(i))]
        assert crashes == [1, 0, 0]  # the live process's run ended without a death
        remaining = await gallery.jobs.workers_in(this_process().pid_space)
        assert [w.pid for w in remaining] == [this_process().pid] * 2
        # noticed again (by this or another process): the crash counts once
        assert await gallery.jobs.crashed(lookups[0], job_run(dead)) is None
        await worker.tidy()
        again = await gallery.lookups.get(lookups[0])
        assert again is not None and again.crashes == 1
    finally:
        await queue.close_async()


async def test_lookups_a_worker_died_under_run_one_at_a_time_across_processes(
    gallery: Gallery, fresh_dsn: str
) -> None:
    order: list[str] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def first() -> None:
        async with gallery.jobs.one_at_a_time(poll=0.05):
            order.append("first in")
            inside.set()
            await leave.wait()
            order.append("first out")

    async def second() -> None:
        async with gallery.jobs.one_at_a_time(poll=0.05):
            order.append("second in")

    running = asyncio.create_task(first())
    await inside.wait()
    waiting = asyncio.create_task(second())
    # another process (another session) cannot take the turn either
    other = await asyncpg.connect(fresh_dsn)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", SUSPECT_LOCK_ID) is False
        leave.set()
        await asyncio.gather(running, waiting)
        assert order == ["first in", "first out", "second in"]
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", SUSPECT_LOCK_ID) is True
    finally:
        await other.close()
