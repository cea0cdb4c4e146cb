"""Crashes: `facefind run` killed with SIGKILL mid-burst, on its own embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import psutil

from gallery.embedded import HANDLES_FILE, forget_dead_handles
from tests import images
from tests.fakebotapi import JSON, Call, FakeBotApi
from tests.processes import FacefindProcess, facefind_run

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
            # a dead worker's jobs are taken over after 3 s, retries come after 0.2 s
            "FACEFIND_JOB_HEARTBEAT_SECONDS": "1",
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

            # 3. the next start reuses that server and answers the second burst too
            runs.append(FacefindProcess(await facefind_run(tmp_path, **env)))
            for update in second:
                await answered(api, update)
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
