"""No secret reaches a log: the bot token, the webhook secret and database passwords."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from facefind.runtime.database import with_user
from facefind.runtime.logs import REDACTED, RedactingFormatter, Redactor, secrets_of
from facefind.runtime.settings import Settings
from gallery import DEFAULT_RUNTIME_ROLE
from tests import images
from tests.fakebotapi import FakeBotApi
from tests.processes import facefind_run

# shaped like a real token: '<bot id>:<35 characters>'
TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4"
WEBHOOK_SECRET = "wh-Secret-9f8e7d6c5b4a"
DB_PASSWORD = "Db-Pa55word-1a2b3c"
OWNER_PASSWORD = "Owner-Pa55word-4d5e6f"
AUDIT_KEY = "5eed" * 16


def with_password(dsn: str, password: str = DB_PASSWORD) -> str:
    """The embedded server's DSN ('postgres:@') with a password, which its socket ignores."""
    assert "postgres:@" in dsn
    return dsn.replace("postgres:@", f"postgres:{password}@")


def split_roles(dsn: str) -> dict[str, str]:
    """The owner and the runtime role, both with passwords, and the audit key: all secret."""
    return {
        "DATABASE_URL": with_user(dsn, DEFAULT_RUNTIME_ROLE, DB_PASSWORD),
        "DATABASE_OWNER_URL": with_password(dsn, OWNER_PASSWORD),
        "FACEFIND_AUDIT_KEY": AUDIT_KEY,
    }


def leaked(log: str) -> list[str]:
    secret_half = TOKEN.split(":", 1)[1]
    secrets = (TOKEN, secret_half, WEBHOOK_SECRET, DB_PASSWORD, OWNER_PASSWORD, AUDIT_KEY)
    return [s for s in secrets if s in log]


def test_the_redactor_removes_known_and_token_shaped_secrets() -> None:
    settings = Settings(
        telegram_bot_token=TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        database_url=f"postgresql://app:{DB_PASSWORD}@db:5432/facefind",
        database_owner_url=f"postgresql://owner:{OWNER_PASSWORD}@db:5432/facefind",
        audit_key=AUDIT_KEY,
    )
    redact = Redactor(secrets_of(settings))
    line = (
        f"POST https://api.telegram.org/bot{TOKEN}/getUpdates; "
        f"encoded {TOKEN.replace(':', '%3A')}; half {TOKEN.split(':')[1]}; "
        f"secret {WEBHOOK_SECRET}; dsn postgresql://app:{DB_PASSWORD}@db/facefind; "
        f"owner {OWNER_PASSWORD}; key {AUDIT_KEY}; "
        "other bot 5123456789:AAFakeFakeFakeFakeFakeFakeFakeFake12; "
        "other dsn postgres://u:hunter2@10.0.0.1/x"
    )
    out = redact(line)
    assert leaked(out) == []
    assert "5123456789:AAFake" not in out and "hunter2" not in out
    assert out.count(REDACTED) >= 7
    # what is not secret stays readable
    assert "https://api.telegram.org/bot" in out and "getUpdates" in out and "@db/facefind" in out


def test_a_traceback_is_redacted_too() -> None:
    formatter = RedactingFormatter(Redactor([TOKEN]), "%(message)s")
    try:
        raise RuntimeError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), (type(exc), exc, None)
        )
    text = formatter.format(record)
    assert "RuntimeError" in text and TOKEN not in text


async def run_and_stop(
    api: FakeBotApi, data_dir: Path, env: dict[str, str], drive: Callable[[], Awaitable[None]]
) -> str:
    proc = await facefind_run(
        data_dir, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, **env
    )
    try:
        await drive()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stdout is not None
    return (await proc.stdout.read()).decode()


async def test_a_full_bot_run_at_debug_level_logs_no_secret(fresh_dsn: str, tmp_path: Path) -> None:
    async with FakeBotApi(TOKEN) as api:
        admin = api.user(777, "Olena", username="olena")

        async def drive() -> None:
            await api.wait_for_call("getUpdates", timeout=90)
            api.push_message(admin, "/start")
            await api.wait_for(lambda m: m["chat"]["id"] == 777, timeout=60)
            # a failed download and a failed reply are logged with their errors, then retried
            api.fail_network("getFile")
            api.fail_network("sendMessage")
            api.push_message(admin, photo=images.to_jpeg(images.read_image(images.TOM_HANKS)))
            await api.wait_for(
                lambda m: m["chat"]["id"] == 777 and "Lookup #" in (m.get("text") or ""),
                timeout=90,
            )

        log = await run_and_stop(
            api,
            tmp_path,
            {
                **split_roles(fresh_dsn),
                "ADMIN_IDS": "777",
                "FACEFIND_LOG_LEVEL": "DEBUG",
                "WEBHOOK_SECRET": WEBHOOK_SECRET,  # set, though polling: it must not show either
            },
            drive,
        )
    # the run was logged in detail: Bot API calls and the retried failures are there
    assert "getUpdates" in log and "getFile" in log and "retry" in log, log[-3000:]
    assert leaked(log) == [], [line for line in log.splitlines() if leaked(line)][:5]


async def test_a_webhook_run_logs_no_secret(fresh_dsn: str, tmp_path: Path) -> None:
    from tests.botkit import free_port

    port = free_port()
    async with FakeBotApi(TOKEN) as api:
        admin = api.user(778, "Taras")

        async def drive() -> None:
            await api.wait_for_call("setWebhook", timeout=90)
            api.push_message(admin, "/start")
            await api.wait_for(lambda m: m["chat"]["id"] == 778, timeout=60)

        log = await run_and_stop(
            api,
            tmp_path,
            {
                "DATABASE_URL": with_password(fresh_dsn),
                "ADMIN_IDS": "778",
                "WEBHOOK_URL": f"http://127.0.0.1:{port}",
                "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
            drive,
        )
        assert api.webhook is not None and api.webhook["secret_token"] == WEBHOOK_SECRET
    assert "webhook mode" in log
    assert leaked(log) == [], [line for line in log.splitlines() if leaked(line)][:5]
