"""End-to-end: running the bot. Webhook mode, health and metrics, the rate limit, Telegram's
flood control and network errors, graceful shutdown and restarts, a second process handling
the same update."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from bot.app import webhook_path
from bot.runner import BotRunner
from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec
from facefind.service import FaceFind
from tests.botkit import (
    Enrolled,
    StartBot,
    answered,
    body,
    bot_settings,
    candidates,
    eventually,
    face_crop,
    free_port,
    gradient_jpeg,
    lookup_replies,
    new_user_id,
    officer,
    reply,
    stranger_user,
)
from tests.fakebotapi import FakeBotApi

# --- 9. webhook mode -----------------------------------------------------------------------------


async def test_webhook_mode_takes_updates_only_with_the_secret(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    port = free_port()
    runner = await start_bot(
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_listen=f"127.0.0.1:{port}",
        webhook_secret="s3cret",
    )
    url = f"http://127.0.0.1:{runner.webhook_port}{webhook_path(fake.token)}"
    assert fake.webhook is not None
    assert fake.webhook["url"] == url and fake.webhook["secret_token"] == "s3cret"

    forger = stranger_user(fake, "Forger")
    forged = {
        "update_id": 900_000_001,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "from": {**forger},
            "chat": {"id": forger["id"], "type": "private", "first_name": "Forger"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    assert await fake.post_webhook(url, forged, "wrong") == 403
    assert await fake.post_webhook(url, forged) == 403

    user = stranger_user(fake, "Webhook")
    fake.push_message(user, "/start")  # Telegram posts it with the registered secret
    await reply(fake, user, "sent to the administrators")

    assert await service.gallery.users.get(forger["id"]) is None
    assert fake.messages_to(forger["id"]) == []
    assert fake.calls_of("getUpdates") == []


async def test_the_public_webhook_listener_answers_only_the_webhook_path(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    port = free_port()
    runner = await start_bot(
        webhook_url=f"http://127.0.0.1:{port}", webhook_listen=f"127.0.0.1:{port}"
    )
    public = f"http://127.0.0.1:{runner.webhook_port}"
    private = f"http://127.0.0.1:{runner.http_port}"
    async with aiohttp.ClientSession() as http:
        # the gallery's size, bands and queue counts are not for the internet
        for path in ("/healthz", "/metrics", "/", "/telegram/healthz"):
            async with http.get(public + path) as response:
                assert response.status == 404, path
                assert "identities" not in await response.text()
        # they stay on the private listener
        async with http.get(f"{private}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["gallery"]["identities"] >= 0
        async with http.get(f"{private}/metrics") as response:
            assert response.status == 200
    user = stranger_user(fake, "Webhook")
    fake.push_message(user, "/start")  # the webhook itself still works
    await reply(fake, user, "sent to the administrators")


# --- 10. health and metrics ----------------------------------------------------------------------
async def test_health_and_metrics(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)
    lookup_id, _ = await lookup_replies(fake, user, enrolled.people["Alice"].query)
    await answered(service, lookup_id)  # counted once delivered, just after the last message

    base = f"http://127.0.0.1:{bot.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            health = await response.json()
        metrics = ""
        for _ in range(100):
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                metrics = await response.text()
            if 'facefind_lookups_total{status="done"}' in metrics:
                break
            await asyncio.sleep(0.05)
    assert health["status"] == "ok"
    assert health["database"] is True and health["models"] is True and health["bot"] is True
    assert health["model"] == service.model
    # the gallery's size and the bands in force for it
    bands = await service.bands.current()
    assert health["gallery"]["identities"] == bands.identities >= len(enrolled.people)
    assert health["gallery"]["possible"] == round(bands.thresholds.possible, 4)
    assert health["gallery"]["strong"] == round(bands.thresholds.strong, 4)
    assert 'facefind_lookups_total{status="done"} 1.0' in metrics

    await bot.stop()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{base}/healthz")


# --- 11. rate limit ------------------------------------------------------------------------------
async def test_the_third_photo_in_an_hour_is_refused_at_a_limit_of_two(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot(rate_limit_per_hour=2)
    user = await officer(fake, service)
    for _ in range(2):
        since = len(fake.sent)
        fake.push_message(user, photo=gradient_jpeg())
        await reply(fake, user, "No face found", since=since)

    since = len(fake.sent)
    fake.push_message(user, photo=gradient_jpeg())
    refusal = await reply(fake, user, "limit of 2 lookups per hour", since=since)
    assert "Try again later" in body(refusal)
    assert len(await service.gallery.lookups.recent(user_id=user["id"])) == 2


# --- 12. flood control ---------------------------------------------------------------------------
async def test_a_reply_survives_telegram_flood_control(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind
) -> None:
    user = await officer(fake, service)
    # the user's chat only: the bot may also be telling the admins the day's audit check-point
    fake.fail_next("sendMessage", 429, retry_after=1, chat_id=user["id"])
    fake.push_message(user, "/help")
    await reply(fake, user, "/history", timeout=15)
    to_user = [c for c in fake.calls_of("sendMessage") if c.params.get("chat_id") == user["id"]]
    assert [c.status for c in to_user][:2] == [429, 200]


async def test_network_errors_on_download_and_reply_are_retried_not_lost(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)
    fake.fail_network("getFile")
    fake.fail_network("sendPhoto", mode="bad_gateway")
    lookup_id, replies = await lookup_replies(fake, user, enrolled.people["Boris"].query)
    assert "Boris Brandt" in body(candidates(replies)[0])
    assert [c.status for c in fake.calls_of("getFile")][:2] == [0, 200]
    assert [c.status for c in fake.calls_of("sendPhoto")][:2] == [502, 200]
    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done"


# --- 15. graceful shutdown -----------------------------------------------------------------------
async def test_stopping_lets_a_lookup_in_progress_answer(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)
    inference = service.inference
    gate = threading.Event()
    # hold every inference slot, so the lookup is surely in progress when the bot stops
    holders = [asyncio.create_task(inference.run(gate.wait, 30)) for _ in range(inference.workers)]
    try:
        await eventually(lambda: inference.running == inference.workers)
        since = len(fake.sent)
        fake.push_message(user, photo=enrolled.people["Alice"].query)
        await eventually(lambda: inference.queued >= 1)

        stopping = asyncio.create_task(bot.stop())
        await asyncio.sleep(0.5)
        assert not stopping.done()  # waiting for the lookup
    finally:
        gate.set()
    await asyncio.gather(*holders)
    await asyncio.wait_for(stopping, 60)

    summary = next(m for m in fake.sent[since:] if "Lookup #" in body(m))
    assert summary["chat"]["id"] == user["id"]
    assert any("Alice Ames" in body(m) for m in fake.sent[since:])


# --- 16. restarts -------------------------------------------------------------------------------
async def test_a_lookup_interrupted_by_a_restart_is_answered_at_the_next_start(
    fake: FakeBotApi, fresh_dsn: str, enrolled: Enrolled, tmp_path: Path
) -> None:
    settings = bot_settings(fake, fresh_dsn, tmp_path, admin_ids=())
    own = await FaceFind.open(settings, actor="test")
    try:
        alice = enrolled.people["Alice"]
        analysis, _ = await own.analysis.analyze(enrolled.t1)
        await own.enroller.enroll(
            face_crop(analysis, alice.face_index, margin=0.6),
            IdentitySpec(alice.name, alice.ref),
            Requester(actor="test"),
        )
        user = fake.user(new_user_id(), "Petro", "petro")
        await own.gallery.users.seen(user["id"], "Petro", None, "petro", "en")
        await own.gallery.users.set_status(user["id"], "approved", "test")
        # what a crash leaves behind: the lookup recorded, the photo not yet answered
        file_id, _ = fake.add_file(alice.query, kind="photo")
        lookup_id = await own.identifier.begin_lookup(
            Requester.telegram(user["id"]),
            source="telegram",
            chat_id=user["id"],
            message_id=42,
            file_id=file_id,
        )
        assert lookup_id is not None
        runner = BotRunner(settings, own)
        await runner.start()
        try:
            await reply(fake, user, f"Lookup #{lookup_id}", timeout=60)
            answered = candidates([m for m in fake.sent if m["chat"]["id"] == user["id"]])
            assert alice.name in body(answered[0])
        finally:
            await runner.stop()
        stored = await own.gallery.lookups.get(lookup_id)
        assert stored is not None and stored.status == "done"
        assert stored.faces[0].candidates[0].display_name == alice.name
    finally:
        await own.close()


# --- two bot processes --------------------------------------------------------------------------
async def test_a_photo_another_process_records_meanwhile_is_answered_once_without_an_error(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_bot()
    user = await officer(fake, service)
    alice = enrolled.people["Alice"]
    pushed: list[dict] = []
    recorded_elsewhere: list[int | None] = []
    lookup_for_message = service.gallery.lookups.for_message

    async def recorded_meanwhile(chat_id: int, message_id: int) -> tuple[int, str] | None:
        if not recorded_elsewhere:
            # a second process handling the same update records the lookup between this check
            # and this process's own insert (the user's lock is per process)
            photo = pushed[0]["message"]["photo"][-1]
            recorded_elsewhere.append(
                await service.identifier.begin_lookup(
                    Requester.telegram(user["id"]),
                    source="telegram",
                    chat_id=chat_id,
                    message_id=message_id,
                    file_id=photo["file_id"],
                    language="en",
                )
            )
            return None
        return await lookup_for_message(chat_id, message_id)

    monkeypatch.setattr(service.gallery.lookups, "for_message", recorded_meanwhile)
    since = len(fake.sent)
    pushed.append(fake.push_message(user, photo=alice.query))
    summary = await reply(fake, user, "Lookup #", since=since, timeout=60)
    [lookup_id] = recorded_elsewhere
    assert lookup_id is not None and f"Lookup #{lookup_id}" in body(summary)
    stored = await answered(service, lookup_id)
    assert stored.status == "done" and stored.faces[0].candidates[0].display_name == alice.name
    await asyncio.sleep(1)  # an error reply or a second answer would come now
    sent = [body(m) for m in fake.sent[since:] if m["chat"]["id"] == user["id"]]
    assert sum("Lookup #" in text for text in sent) == 1
    assert not any("Something went wrong" in text for text in sent), sent
