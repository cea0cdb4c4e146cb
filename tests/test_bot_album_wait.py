"""An album's wait for its parts is durable: the process dies while its handlers wait (their
updates stored, not handled), and the next start answers the album once, with one lookup of
all its photos."""

from __future__ import annotations

import asyncio

from bot.delivery.inbox import bot_id_of
from facefind.service import FaceFind
from tests.botkit import Enrolled, StartBot, body, candidates, eventually, officer, reply
from tests.fakebotapi import FakeBotApi


async def test_an_album_whose_process_died_while_waiting_is_answered_once_at_the_next_start(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, enrolled: Enrolled
) -> None:
    first = await start_bot(album_wait=600.0)  # waits far longer than this test runs
    user = await officer(fake, service)
    carla = enrolled.people["Carla"]
    for _ in range(2):
        fake.push_message(user, photo=carla.query, media_group_id="album-wait")

    async def parts() -> int:
        return int(await service.gallery.pool.fetchval("SELECT count(*) FROM album_parts"))

    while await parts() < 2:  # both parts recorded, their handlers now waiting
        await asyncio.sleep(0.05)
    # the process dies: its handlers stop where they are, their updates never marked handled
    for task in list(first.inbox._tasks):
        task.cancel()
    await eventually(lambda: not first.inbox._tasks)
    await first.stop()
    assert await service.gallery.inbox.count_unhandled() == 2
    assert await service.gallery.pool.fetchval("SELECT count(*) FROM lookups") == 0

    # the next start (which holds the bot's lock, so it releases the dead one's leases)
    await service.gallery.inbox.release(bot_id_of(fake.token))
    since = len(fake.sent)
    await start_bot(album_wait=0.2)
    summary = await reply(fake, user, "Lookup #", since=since, timeout=60)
    assert "an album of 2 photos · people: 1" in body(summary)
    replies = [m for m in fake.sent[since:] if m["chat"]["id"] == user["id"]]
    [candidate] = candidates(replies)
    assert carla.name in body(candidate)
    assert await service.gallery.pool.fetchval("SELECT count(*) FROM lookups") == 1
