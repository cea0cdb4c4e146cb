"""`facefind run`, the real entry point, as a process: it reaches the Bot API and stops cleanly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.conftest import app_dsn
from tests.fakebotapi import FakeBotApi
from tests.processes import facefind_run


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
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = (await proc.stdout.read()).decode() if proc.stdout else ""
        assert code == 0, output
        assert "stopping" in output


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
