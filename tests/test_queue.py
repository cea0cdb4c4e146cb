"""The lookup queue's rules, without a worker: retry schedule, retry policy, schema versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import procrastinate
import pytest
from procrastinate.schema import SchemaManager
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.telegram_io import RetryPolicy
from facefind.queue import Backoff
from gallery import migrate
from gallery.db import MigrationError, _queue_migrations
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
