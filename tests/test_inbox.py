"""Two bot processes on one bot (a rolling deploy, a second `facefind run` by mistake): each
stored update is leased to one dispatcher and handled once, and the bot's lock lets one run."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.delivery.inbox import Inbox, bot_id_of
from bot.metrics import Metrics
from gallery import Gallery
from gallery.instance import BotLock, BotLockHeld
from tests.fakebotapi import FakeBotApi

UPDATES = 30


@pytest.fixture
async def apps(fake: FakeBotApi) -> AsyncIterator[list[Application]]:
    """Two PTB applications on the same bot, as two processes would run them."""
    built = [
        Application.builder()
        .token(fake.token)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
        .updater(None)
        .build()
        for _ in range(2)
    ]
    for app in built:
        await app.initialize()
    yield built
    for app in built:
        await app.shutdown()


async def test_two_dispatchers_on_the_same_stored_updates_handle_each_update_once(
    gallery: Gallery, fake: FakeBotApi, apps: list[Application]
) -> None:
    bot_id = bot_id_of(fake.token)
    # updates a crashed run stored, leased to it, and never handled: its lease ran out
    stored = [(i, {"update_id": i}) for i in range(1, UPDATES + 1)]
    assert await gallery.inbox.store(bot_id, stored, "facefind@gone:1/dead", -1) == [
        i for i, _ in stored
    ]
    handled: list[tuple[int, int]] = []  # (dispatcher, update id)

    def handler(number: int) -> TypeHandler:
        async def record(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            handled.append((number, update.update_id))
            await asyncio.sleep(0.02)  # both dispatchers busy at once

        return TypeHandler(Update, record)

    inboxes = []
    for number, app in enumerate(apps):
        app.add_handler(handler(number))
        inboxes.append(Inbox(app, gallery, Metrics(), in_flight=4))
    for inbox in inboxes:
        inbox.start(polling=False)
    try:

        async def all_handled() -> None:
            while await gallery.inbox.count_unhandled():
                await asyncio.sleep(0.1)

        await asyncio.wait_for(all_handled(), timeout=60)
    finally:
        for inbox in inboxes:
            await inbox.stop_taking()
            await inbox.drain()
    times = Counter(update_id for _, update_id in handled)
    assert sorted(times) == list(range(1, UPDATES + 1))
    assert set(times.values()) == {1}, {i: n for i, n in times.items() if n > 1}


async def test_the_bot_lock_is_taken_again_after_its_connection_breaks_unless_another_took_it(
    gallery: Gallery, fresh_dsn: str
) -> None:
    first = BotLock(fresh_dsn, 123, "facefind@a:1")
    second = BotLock(fresh_dsn, 123, "facefind@b:2")
    other_bot = BotLock(fresh_dsn, 456, "facefind@b:2")
    await first.acquire()
    try:
        with pytest.raises(BotLockHeld) as held:
            await second.acquire()
        assert held.value.holder == "facefind@a:1" and held.value.since is not None
        await other_bot.acquire()  # another bot's lock is another lock
        await first.keep()

        # the database ends the lock's session (a restart): the holder takes it again
        await gallery.pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'facefind run facefind@a:1'"
        )
        await first.keep()
        with pytest.raises(BotLockHeld):
            await second.acquire()

        # ... unless another process took it meanwhile: then the holder must stop
        await gallery.pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'facefind run facefind@a:1'"
        )
        await second.acquire()
        with pytest.raises(BotLockHeld) as lost:
            await first.keep()
        assert lost.value.holder == "facefind@b:2"
    finally:
        for lock in (first, second, other_bot):
            await lock.release()
