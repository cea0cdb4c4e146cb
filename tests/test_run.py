"""`facefind run`, the real entry point, as a process: it reaches the Bot API and stops cleanly;
one runs a bot at a time."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp

from facefind.runtime.processes import this_process
from tests.conftest import app_dsn
from tests.fakebotapi import FakeBotApi
from tests.processes import FacefindProcess, facefind_run, process_env


async def test_facefind_run_serves_the_bot_api_url_and_stops_on_sigterm(
    fresh_dsn: str, tmp_path: Path
) -> None:
    async with FakeBotApi() as api:
        proc = await facefind_run(
            tmp_path,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_URL=api.url,
            DATABASE_URL=app_dsn(fresh_dsn),
            DATABASE_OWNER_URL=fresh_dsn,
            ADMIN_IDS="777",
        )
        try:
            await api.wait_for_call("getUpdates", timeout=60)
            # start-up published the command menus: the admin's includes the admin commands
            everyone = [c["command"] for c in api.commands_for({"type": "default"})]
            admins = [c["command"] for c in api.commands_for({"type": "chat", "chat_id": 777})]
            assert "history" in everyone and "pending" not in everyone
            assert {"history", "pending", "enroll", "export"} <= set(admins)
            admin = api.user(777, "Olena", username="olena", language_code="uk")
            api.push_message(admin, "/start")
            reply = await api.wait_for(
                lambda m: m["chat"]["id"] == 777 and "Olena" in m["text"], timeout=60
            )
            assert reply["text"].startswith("Вітаємо, Olena")
            assert "/pending" in reply["text"]  # the admin help
            # the console runs beside the bot: /console's link opens it
            api.push_message(admin, "/console")
            sent = await api.wait_for(
                lambda m: m["chat"]["id"] == 777 and "/login/" in m["text"], timeout=60
            )
            link = re.search(r"http://127\.0\.0\.1:[0-9]+/login/\S+", sent["text"])
            assert link is not None, sent["text"]
            async with aiohttp.ClientSession() as http:
                async with http.get(link[0]) as page:
                    assert page.status == 200 and 'id="sign-in"' in await page.text()
                async with http.post(link[0], allow_redirects=False) as signed_in:
                    assert signed_in.status == 303 and "facefind_console" in signed_in.cookies
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = (await proc.stdout.read()).decode() if proc.stdout else ""
        assert code == 0, output
        assert "stopping" in output


async def test_facefind_run_with_the_console_off_opens_no_console(
    fresh_dsn: str, tmp_path: Path
) -> None:
    async with FakeBotApi() as api:
        proc = await facefind_run(
            tmp_path,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_URL=api.url,
            DATABASE_URL=app_dsn(fresh_dsn),
            DATABASE_OWNER_URL=fresh_dsn,
            ADMIN_IDS="778",
            FACEFIND_WEB_LISTEN="off",
        )
        try:
            await api.wait_for_call("getUpdates", timeout=60)
            admin = api.user(778, "Iryna", username="iryna")
            api.push_message(admin, "/console")
            sent = await api.wait_for(
                lambda m: m["chat"]["id"] == 778 and "no web console" in m["text"], timeout=60
            )
            assert "/login/" not in sent["text"]
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = (await proc.stdout.read()).decode() if proc.stdout else ""
        assert code == 0, output
        assert "the console is off" in output and "console listening" not in output


async def test_facefind_console_alone_serves_the_console_and_stops_on_sigterm(
    fresh_dsn: str, tmp_path: Path
) -> None:
    console = await FacefindProcess.start(
        "console",
        {
            "DATABASE_URL": app_dsn(fresh_dsn),
            "DATABASE_OWNER_URL": fresh_dsn,
            "FACEFIND_DATA_DIR": str(tmp_path),
            "FACEFIND_WEB_LISTEN": "127.0.0.1:0",
            "FACEFIND_INFERENCE_WORKERS": "1",
        },
    )
    try:
        await console.wait_for_line("console listening on", timeout=120)
        found = re.search(r"console listening on (http://127\.0\.0\.1:[0-9]+)", console.log())
        assert found is not None
        async with aiohttp.ClientSession() as http, http.get(found[1] + "/lookups") as page:
            # no session: the page says to sign in from the bot
            assert page.status == 401 and "open it from the bot" in await page.text()
        assert await console.stop() == 0
    finally:
        if console.proc.returncode is None:
            await console.kill_9()


async def test_facefind_run_says_clearly_when_the_token_is_refused(
    fresh_dsn: str, tmp_path: Path
) -> None:
    async with FakeBotApi() as api:
        proc = await facefind_run(
            tmp_path,
            TELEGRAM_BOT_TOKEN="999:NOT-THE-TOKEN",
            TELEGRAM_API_URL=api.url,
            DATABASE_URL=fresh_dsn,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 1
    assert "rejected TELEGRAM_BOT_TOKEN" in out.decode()


async def test_a_second_facefind_run_of_the_bot_refuses_to_start_until_the_first_is_gone(
    fresh_dsn: str, tmp_path: Path
) -> None:
    async with FakeBotApi() as api:
        env = process_env(api, fresh_dsn, tmp_path, [777])
        admin = api.user(777, "Olena", username="olena")
        first = await FacefindProcess.start("run", env)
        runs = [first]
        try:
            await first.wait_for_line("is running", timeout=120)
            # started by mistake beside it: it says why it does not run, and stops
            second = await FacefindProcess.start("run", env)
            runs.append(second)
            await asyncio.wait_for(second.proc.wait(), timeout=120)
            assert await second.stop() == 1
            said = second.log()
            assert "another `facefind run` is running this bot on this database" in said
            assert f"{this_process().host}:{first.proc.pid}" in said  # names the one running
            assert "stop that one first" in said and "facefind worker" in said
            assert "health on port" not in said and "Traceback" not in said
            # the first one goes on answering
            api.push_message(admin, "/help")
            await api.wait_for(lambda m: m["chat"]["id"] == 777, timeout=60)

            # once the first is gone, even killed, the next one starts and answers
            await first.kill_9()
            third = await FacefindProcess.start("run", env)
            runs.append(third)
            await third.wait_for_line("is running", timeout=120)
            since = len(api.sent)
            api.push_message(admin, "/help")
            await api.wait_for(lambda m: m["chat"]["id"] == 777, since=since, timeout=60)
            assert await third.stop() == 0
        finally:
            for run in runs:
                if run.proc.returncode is None:
                    await run.kill_9()
