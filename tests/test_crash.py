"""Crashes: `facefind run` killed with SIGKILL mid-burst, on its own embedded PostgreSQL; a
photo that kills its worker each time it is analysed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from pathlib import Path

import asyncpg
import psutil

from gallery.embedded import HANDLES_FILE, forget_dead_handles
from tests import images
from tests.fakebotapi import JSON, Call, FakeBotApi
from tests.processes import FacefindProcess, facefind_run, process_env

USER = 4242


def face_photo() -> bytes:
    return images.to_jpeg(images.read_image(images.TOM_HANKS), 90)


def answers_to(api: FakeBotApi, update: JSON) -> list[JSON]:
    """The closing replies ("Lookup #...") to one photo message."""
    message = update["message"]
    return [
        m
        for m in api.messages_to(message["chat"]["id"])
        if "Lookup #" in str(m.get("text") or m.get("caption") or "")
        and m.get("reply_to_message", {}).get("message_id") == message["message_id"]
    ]


async def answered(api: FakeBotApi, update: JSON) -> None:
    def probe(_message: JSON) -> bool:
        return bool(answers_to(api, update))

    await api.wait_for(probe, timeout=120)


def postmaster(pgdata: Path) -> psutil.Process:
    return psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))


async def test_kill_9_mid_burst_loses_no_photo_and_answers_each_exactly_once(
    tmp_path: Path,
) -> None:
    async with FakeBotApi() as api:
        env = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.url,
            # no DATABASE_URL: the embedded server in the data folder, as on a laptop
            "ADMIN_IDS": str(USER),
            # a worker's heartbeat runs out after 3 minutes: a dead one's jobs are answered
            # within this test only if they are taken over at the next start; retries come
            # after 0.2 s
            "FACEFIND_JOB_HEARTBEAT_SECONDS": "60",
            "FACEFIND_REPLY_BACKOFF_SECONDS": "0.2",
        }
        user = api.user(USER, "Olena", "olena")
        photo = face_photo()
        runs: list[FacefindProcess] = []
        try:
            # 1. killed right after getUpdates handed it a burst: the photos were fetched,
            # maybe stored, surely not confirmed
            runs.append(FacefindProcess(await facefind_run(tmp_path, **env)))
            await api.wait_for_call("getUpdates", timeout=120)
            burst = [api.push_message(user, photo=photo) for _ in range(4)]

            def delivered(call: Call) -> bool:
                return (
                    call.method == "getUpdates"
                    and call.status == 200
                    and bool(call.response and call.response["result"])
                )

            await api.wait_for_call(delivered, timeout=60)
            await runs[-1].kill_9()

            # 2. the next start answers them; a second burst is killed while being analysed
            runs.append(FacefindProcess(await facefind_run(tmp_path, **env)))
            for update in burst:
                await answered(api, update)
            since = len(api.calls)
            second = [api.push_message(user, photo=photo) for _ in range(4)]
            await api.wait_for_call("getFile", since=since, timeout=60)
            await runs[-1].kill_9()

            # the embedded server outlived the killed process, which is still on its list
            pgdata = tmp_path / "pg"
            server = postmaster(pgdata)
            assert server.is_running()
            assert runs[-1].proc.pid in json.loads((pgdata / HANDLES_FILE).read_text())

            # 3. the next start reuses that server, takes the jobs of the killed worker over at
            # once (its process is gone) and answers the second burst too
            runs.append(FacefindProcess(await facefind_run(tmp_path, **env)))
            for update in second:
                await answered(api, update)
            killed = runs[-2].proc.pid
            assert f"(process {killed} ended): its jobs are taken over now" in runs[-1].log()
            assert postmaster(pgdata).pid == server.pid  # reused, not a second server
            await asyncio.sleep(2)  # a duplicate would come now, from a job run twice
            counts = [len(answers_to(api, u)) for u in burst + second]
            assert counts == [1] * 8, counts
            numbers = {
                re.search(r"Lookup #(\d+)", str(answers_to(api, u)[0]["text"]))[1]  # type: ignore[index]
                for u in burst + second
            }
            assert len(numbers) == 8

            # a clean stop stops the server: the dead pid no longer keeps it alive
            last = runs[-1]
            last.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(last.proc.wait(), timeout=60) == 0, last.log()
            assert "reusing the running server" in last.log()
            await asyncio.to_thread(server.wait, 30)
            assert not server.is_running()
        finally:
            for run in runs:
                if run.proc.returncode is None:
                    await run.kill_9()


def test_dead_processes_are_dropped_from_the_embedded_servers_handle_list(
    tmp_path: Path,
) -> None:
    handles = tmp_path / HANDLES_FILE
    alive = psutil.Process().pid
    dead = 2**22 + 12345  # above the default pid_max: no such process
    handles.write_text(json.dumps([dead, alive]))
    assert forget_dead_handles(handles) == [dead]
    assert json.loads(handles.read_text()) == [alive]
    assert forget_dead_handles(tmp_path / "missing.json") == []


# --- a photo that kills its worker ------------------------------------------------------------
# The test plays the poison: each time the photo's analysis is under way it kills the process
# with SIGKILL, as an out-of-memory kill or a native crash would. To find it there every time,
# the test holds a lock on lookup_faces, so the analysis waits at storing its faces.
BLOCKED_STORES = """
SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO lookup_faces%'"""


async def analysis_under_way(watch: asyncpg.Connection, runs: int, bot: FacefindProcess) -> None:
    """Until the `runs`-th run of an analysis waits at storing its faces (killed runs' server
    sessions wait on; they end once the lock is let go)."""

    async def waiting() -> None:
        while await watch.fetchval(BLOCKED_STORES) < runs:
            assert bot.proc.returncode is None, bot.log()
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(waiting(), timeout=120)
    except TimeoutError:
        raise AssertionError(f"run {runs} of the analysis never came:\n{bot.log()}") from None


async def test_a_photo_that_kills_its_worker_is_closed_after_the_crash_limit_and_the_bot_lives_on(
    fresh_dsn: str, tmp_path: Path
) -> None:
    admin_id, officer_id = 4343, 4444
    async with FakeBotApi() as api:
        env = process_env(api, fresh_dsn, tmp_path, [admin_id]) | {
            # a heartbeat that runs out only after 3 minutes: only the dead process's own
            # absence frees its job within this test
            "FACEFIND_JOB_HEARTBEAT_SECONDS": "60",
            "FACEFIND_REPLY_BACKOFF_SECONDS": "0.2",
        }
        admin = api.user(admin_id, "Ada", "ada")
        officer = api.user(officer_id, "Oleh", "oleh")
        runs = [await FacefindProcess.start("run", env)]
        watch = await asyncpg.connect(fresh_dsn)
        blocker = await asyncpg.connect(fresh_dsn)
        holding = blocker.transaction()
        try:
            await runs[-1].wait_for_line("is running", timeout=120)
            api.push_message(officer, "/start")
            # the access request itself (the day's audit check-point may reach the admin first)
            await api.wait_for(
                lambda m: m["chat"]["id"] == admin_id and f"User id: {officer_id}" in body(m),
                timeout=60,
            )
            api.push_message(admin, f"/approve {officer_id}")
            await api.wait_for(
                lambda m: m["chat"]["id"] == officer_id and "has been approved" in body(m),
                timeout=60,
            )

            await holding.start()
            await blocker.execute("LOCK TABLE lookup_faces IN SHARE MODE")
            poison = api.push_message(officer, photo=face_photo())["message"]
            for killing in (1, 2):  # killed twice while analysing it, restarted each time
                await analysis_under_way(watch, killing, runs[-1])
                await runs[-1].kill_9()
                runs.append(await FacefindProcess.start("run", env))
            killed = runs[-2].proc.pid

            def about_the_poison(message: JSON) -> bool:
                return "could not be analysed" in str(message.get("text"))

            told = await api.wait_for(about_the_poison, timeout=120)
            lookup_id = int(re.findall(r"Lookup #(\d+)", told["text"])[0])
            assert told["chat"]["id"] == officer_id
            assert told["reply_to_message"]["message_id"] == poison["message_id"]
            assert "stopped the service" in told["text"] and "admin has been told" in told["text"]
            notice = await api.wait_for(
                lambda m: m["chat"]["id"] == admin_id and f"Lookup #{lookup_id} " in m["text"],
                timeout=30,
            )
            assert "died 2 times" in notice["text"] and "not tried again" in notice["text"]
            # the dead process's job was taken over at the start, not after its heartbeat
            await runs[-1].wait_for_line("is running", timeout=60)
            assert f"(process {killed} ended): its jobs are taken over now" in runs[-1].log()
            await holding.rollback()  # the killed runs' sessions end

            # the bot lives on: the next photo is answered by the same process
            since = len(api.sent)
            api.push_message(officer, photo=face_photo())
            await api.wait_for(
                lambda m: m["chat"]["id"] == officer_id and "Lookup #" in body(m),
                since=since,
                timeout=120,
            )
            assert runs[-1].proc.returncode is None
            assert len([m for m in api.messages_to(officer_id) if about_the_poison(m)]) == 1
            row = await watch.fetchrow(
                "SELECT status, outcome, error, crashes FROM lookups WHERE id = $1", lookup_id
            )
            assert dict(row) == {
                "status": "error", "outcome": "error", "error": "worker_crashed", "crashes": 2,
            }  # fmt: skip
            audited = await watch.fetch(
                "SELECT actor, details FROM audit_log WHERE action = 'lookup.abandoned' "
                "AND target = $1",
                f"lookup:{lookup_id}",
            )
            assert [(r["actor"], json.loads(r["details"])["crashes"]) for r in audited] == [
                ("system", 2)
            ]
            assert await runs[-1].stop() == 0
        finally:
            with contextlib.suppress(asyncpg.InterfaceError):  # not started, or ended
                await holding.rollback()
            await blocker.close()
            await watch.close()
            for run in runs:
                if run.proc.returncode is None:
                    await run.kill_9()


def body(message: JSON) -> str:
    return str(message.get("text") or message.get("caption") or "")
