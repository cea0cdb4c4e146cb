"""Investigations through the real bot and the fake Bot API: a watched identity matched by an
officer's photo alerts every admin once, and a burst gives one alert and then a count; an
unknown face sent by two officers is told as seen before, and an admin names it, after which
the next photo of that face gets the new identity as its candidate. One bot for the module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.runner import BotRunner
from facefind.service import FaceFind
from tests import images
from tests.botkit import (
    ADMIN,
    Enrolled,
    body,
    buttons,
    candidates,
    lookup_replies,
    officer,
    reply,
    running_bot,
    send,
)
from tests.fakebotapi import JSON, FakeBotApi


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture(scope="module")
async def running(
    api: FakeBotApi, service: FaceFind, enrolled: Enrolled, module_dsn: str, data_dir: Path
) -> AsyncIterator[BotRunner]:
    """The bot; its housekeeping (which sends what alerts are left) every second."""
    async with running_bot(api, service, module_dsn, data_dir, job_heartbeat=1.0) as runner:
        yield runner


async def second_admin(api: FakeBotApi, service: FaceFind) -> JSON:
    user = await officer(api, service, "Bohdan")
    await service.gallery.users.set_role(user["id"], "admin", f"tg:{ADMIN}")
    return user


def to(api: FakeBotApi, user: JSON, since: int, contains: str) -> list[JSON]:
    return [m for m in api.sent[since:] if m["chat"]["id"] == user["id"] and contains in body(m)]


async def test_a_watched_identity_alerts_the_admins_once_and_a_burst_then_gives_a_count(
    api: FakeBotApi, running: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    admin = api.user(ADMIN, "Ada", "ada_admin")
    other_admin = await second_admin(api, service)
    alice = enrolled.people["Alice"]
    start = len(api.sent)
    added = await send(api, admin, f"/watch {alice.identity_id} armed robbery", "is watched")
    assert "Alerts go to every admin, for strong and possible matches" in body(added)

    user = await officer(api, service, "Petro")
    first, _ = await lookup_replies(api, user, alice.query)
    alerts = []
    for each in (admin, other_admin):
        alert = await reply(api, each, "🔔 Watched: Alice Ames", since=start)
        assert f"in lookup #{first} by Petro" in body(alert) and "armed robbery" in body(alert)
        assert "people who are not in the gallery would score this high" in body(alert)
        assert "photo" in alert  # the comparison picture
        assert [label for label, _ in buttons(alert)] == [
            f"Open lookup #{first}",
            "✅ Confirm",
            "❌ Not this person",
        ]
        alerts.append(alert)

    # a burst: two more lookups of her within the window only count
    later = [(await lookup_replies(api, user, alice.query))[0] for _ in range(2)]
    for each in (admin, other_admin):
        assert len(to(api, each, start, "🔔 Watched")) == 1
    # the window ends (an hour by default): each admin gets one count, from the housekeeping
    await service.gallery.pool.execute(
        "UPDATE watchlist_alerts SET window_ends_at = now() WHERE lookup_id = $1", first
    )
    for each in (admin, other_admin):
        count = await reply(api, each, "2 more lookups gave this watched identity", since=start)
        assert f"/lookup {later[0]}, /lookup {later[1]}" in body(count)
    for each in (admin, other_admin):
        assert len(to(api, each, start, "🔔 Watched")) == 1
        assert len(to(api, each, start, "more lookups gave")) == 1
    # the alert's button opens the lookup
    since = len(api.sent)
    api.push_callback(admin, alerts[0], f"lk:{first}")
    await reply(api, admin, f"Lookup #{first} ·", since=since)
    audited = [
        r["action"] for r in await service.gallery.pool.fetch("SELECT action FROM audit_log")
    ]
    assert audited.count("watchlist.alert") == 3
    assert audited.count("watchlist.alert_sent") == 4  # two alerts, two counts
    # off the list: no more alerts
    await send(api, admin, f"/unwatch {alice.identity_id}", "is no longer watched")
    unwatched, _ = await lookup_replies(api, user, alice.query)
    # its alerts are raised before its reply is sent: none were
    assert await service.gallery.watchlists.alerts_of_lookup(unwatched) == []


def stranger_photos(service_t1: np.ndarray, bbox: tuple[float, float, float, float]) -> list[bytes]:
    """Three different photos of the face nobody enrolled."""
    return [
        images.to_jpeg(images.resize(images.crop_around(service_t1, bbox, margin), scale), q)
        for margin, scale, q in ((0.9, 0.75, 70), (0.7, 0.9, 85), (1.1, 0.8, 80))
    ]


async def test_an_unknown_face_sent_by_two_officers_is_seen_before_and_named_by_an_admin(
    api: FakeBotApi, running: BotRunner, service: FaceFind
) -> None:
    t1 = images.read_image(images.T1)
    analysis, _ = await service.analysis.analyze(images.read_bytes(images.T1))
    photos = stranger_photos(t1, analysis.faces[5].bbox)  # face #6: in no identity
    first_officer = await officer(api, service, "Oksana")
    second_officer = await officer(api, service, "Taras")

    _, replies = await lookup_replies(api, first_officer, photos[0])
    assert "no confident match" in body(replies[-1])
    assert "photographed" not in body(replies[-1])
    second, replies = await lookup_replies(api, second_officer, photos[1])
    told = body(replies[-1])
    assert "no confident match" in told
    assert "The same face was photographed 1 time before: today." in told
    assert "Oksana" not in told  # who took it is for admins

    admin = api.user(ADMIN, "Ada", "ada_admin")
    listed = await send(api, admin, "/unknown", "Unknown persons")
    [group] = await service.gallery.sightings.unknown_persons(service.model)
    assert f"#{group.id} · 2 sightings" in body(listed)
    since = len(api.sent)
    card = await send(api, admin, f"/unknown {group.id}", f"Unknown person #{group.id}: 2")
    shown = [m for m in api.sent[since:] if m["chat"]["id"] == ADMIN and "photo" in m]
    assert len(shown) == 2 and "Oksana" in body(shown[0]) and "Taras" in body(shown[1])
    assert f"lookup #{second}" in body(shown[1])
    assert [data for _, data in buttons(card)] == [f"up:d:{group.id}"]

    named = await send(
        api, admin, f"/unknown {group.id} name Sam Stranger | REF-99", "is now Sam Stranger"
    )
    assert "[REF-99]" in body(named)
    _, replies = await lookup_replies(api, first_officer, photos[2])
    [candidate] = candidates(replies)
    assert "Sam Stranger" in body(candidate)
    audited = [
        r["action"] for r in await service.gallery.pool.fetch("SELECT action FROM audit_log")
    ]
    assert {"sighting.add", "unknown_person.create", "unknown_person.name"} <= set(audited)
