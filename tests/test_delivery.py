"""End-to-end: what changes between the analysis and the reply. The real bot, the fake Bot API
and the real PostgreSQL; the lookup's job is held at a point of its work (after the analysis,
after a failed delivery, after the first message) while an admin revokes the officer or
forgets an identity, or retention clears the pictures, then let go.

The rules (bot/outbox.py): the requester's access is checked before every message, and a
requester no longer approved gets nothing more (the lookup is closed, audited); a candidate
whose identity was forgotten is not shown; and the reply's list of messages depends only on
what the analysis stored, so a resumed reply neither skips nor repeats a message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from bot.delivery.telegram_io import DEFAULT_POLICY
from bot.runner import BotRunner
from facefind.access.actors import Requester
from facefind.access.erasure import purge
from facefind.enroll.photo import IdentitySpec
from facefind.service import FaceFind
from gallery import Lookup
from tests.botkit import (
    ADMIN,
    Enrolled,
    StartBot,
    answered,
    body,
    candidates,
    face_crop,
    officer,
    send,
)
from tests.fakebotapi import JSON, FakeBotApi


class Gate:
    """Holds a lookup's job at one point until the test lets it go."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    async def hold(self) -> None:
        self.reached.set()
        await self.released.wait()

    async def until_reached(self) -> None:
        await asyncio.wait_for(self.reached.wait(), timeout=60)


def hold_before_delivery(
    monkeypatch: pytest.MonkeyPatch,
    service: FaceFind,
    user: JSON,
    also: Callable[[], bool] = lambda: True,
) -> Gate:
    """Hold the job when it reads its lookup analysed and waiting for its reply (and `also`
    holds): before a delivery run sends anything."""
    gate = Gate()
    get_lookup = service.gallery.lookups.get

    async def held(lookup_id: int) -> Lookup | None:
        found = await get_lookup(lookup_id)
        if (
            found is not None
            and found.user_id == user["id"]
            and found.status == "replying"
            and not gate.reached.is_set()
            and also()
        ):
            await gate.hold()
            found = await get_lookup(lookup_id)
        return found

    monkeypatch.setattr(service.gallery.lookups, "get", held)
    return gate


def hold_after_first_message(monkeypatch: pytest.MonkeyPatch, service: FaceFind) -> Gate:
    """Hold the job once the first message of a reply arrived and was recorded."""
    gate = Gate()
    progress = service.gallery.replies.progress

    async def held(lookup_id: int, sent: int) -> None:
        await progress(lookup_id, sent)
        if sent == 1 and not gate.reached.is_set():
            await gate.hold()

    monkeypatch.setattr(service.gallery.replies, "progress", held)
    return gate


async def lookup_of(service: FaceFind, user: JSON) -> int:
    [listed] = await service.gallery.lookups.recent(user_id=user["id"])
    return listed.id


async def revoke(fake: FakeBotApi, user: JSON) -> None:
    """An admin revokes the officer, in the bot, and is told it is done."""
    admin = fake.user(ADMIN, "Ada", "ada_admin")
    await send(fake, admin, f"/revoke {user['id']}", f"User {user['id']}")


async def forget(fake: FakeBotApi, identity_id: int) -> None:
    admin = fake.user(ADMIN, "Ada", "ada_admin")
    await send(fake, admin, f"/forget {identity_id}", "removed from all searches")


async def restore(fake: FakeBotApi, identity_id: int) -> None:
    admin = fake.user(ADMIN, "Ada", "ada_admin")
    await send(fake, admin, f"/restore {identity_id}", "restored")


def results(fake: FakeBotApi, user: JSON, since: int = 0) -> list[JSON]:
    """What the officer got about lookups: everything but the notice of the revoke."""
    return [
        m
        for m in fake.messages_to(user["id"])[since:]
        if body(m) != "Your access has been revoked."
    ]


async def closed_without_reply(service: FaceFind, lookup_id: int, sent: int) -> Lookup:
    stored = await answered(service, lookup_id)
    assert stored.status == "error" and stored.error == "access_withdrawn"
    assert stored.outcome == "done" and stored.reply_sent == sent  # what the analysis found
    [row] = [
        r
        for r in await service.gallery.audit.recent(50)
        if r["action"] == "lookup.withdrawn" and r["target"] == f"lookup:{lookup_id}"
    ]
    assert row["actor"] == "system"
    assert row["details"]["reason"] == "access_withdrawn"
    assert row["details"]["messages_sent"] == sent
    return stored


# --- a revoked officer ---------------------------------------------------------------------------
async def test_an_officer_revoked_between_analysis_and_delivery_gets_no_result(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await officer(fake, service)
    gate = hold_before_delivery(monkeypatch, service, user)
    fake.push_message(user, photo=enrolled.people["Alice"].query)
    await gate.until_reached()  # analysed: Alice is its candidate, nothing sent yet
    lookup_id = await lookup_of(service, user)

    await revoke(fake, user)
    gate.released.set()

    await closed_without_reply(service, lookup_id, sent=0)
    assert results(fake, user) == []
    assert not any("Alice" in body(m) for m in fake.messages_to(user["id"]))


async def test_a_reply_retried_after_the_officer_was_revoked_is_not_delivered(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_bot(reply_backoff=0.2)
    user = await officer(fake, service)
    tries = DEFAULT_POLICY.attempts
    # the first delivery run fails: Telegram cannot be reached for this chat
    fake.fail_network("sendPhoto", times=tries, chat_id=user["id"])

    def first_run_failed() -> bool:
        return sum(1 for c in fake.calls_of("sendPhoto") if c.status == 0) >= tries

    gate = hold_before_delivery(monkeypatch, service, user, also=first_run_failed)
    fake.push_message(user, photo=enrolled.people["Boris"].query)
    await gate.until_reached()  # the retry, before it sends anything
    lookup_id = await lookup_of(service, user)

    await revoke(fake, user)
    gate.released.set()

    await closed_without_reply(service, lookup_id, sent=0)
    assert results(fake, user) == []


async def test_a_reply_stops_before_its_next_message_once_the_officer_is_revoked(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await officer(fake, service)
    gate = hold_after_first_message(monkeypatch, service)
    fake.push_message(user, photo=enrolled.t1)
    await gate.until_reached()
    [boxes] = results(fake, user)  # the photo with numbered boxes, and no candidate yet
    assert body(boxes).startswith("6 faces found")

    await revoke(fake, user)
    gate.released.set()

    await closed_without_reply(service, await lookup_of(service, user), sent=1)
    assert results(fake, user) == [boxes]


# --- a forgotten identity ----------------------------------------------------------------------
async def test_a_candidate_forgotten_between_analysis_and_delivery_is_not_shown(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_bot(forget_grace_days=7)  # forgotten but not erased: the name is still there
    carla = enrolled.people["Carla"]
    user = await officer(fake, service)
    gate = hold_before_delivery(monkeypatch, service, user)
    fake.push_message(user, photo=carla.query)
    await gate.until_reached()
    lookup_id = await lookup_of(service, user)
    analysed = await service.gallery.lookups.get(lookup_id)
    assert analysed is not None
    assert [c.identity_id for c in analysed.faces[0].candidates] == [carla.identity_id]

    await forget(fake, carla.identity_id)
    try:
        gate.released.set()
        stored = await answered(service, lookup_id)
    finally:
        await restore(fake, carla.identity_id)

    [message] = results(fake, user)
    assert body(message).startswith("Face #1: no confident match in the gallery.")
    assert f"Lookup #{lookup_id} · faces: 1." in body(message)
    assert "photo" not in message and "reply_markup" not in message
    assert not any("Carla" in body(m) or "REF-3" in body(m) for m in fake.messages_to(user["id"]))
    assert stored.status == "done" and stored.reply_sent == 1
    audit = await service.gallery.audit.recent(50)
    [row] = [r for r in audit if r["action"] == "lookup.candidate_withheld"]
    assert row["target"] == f"lookup:{lookup_id}" and row["actor"] == "system"
    assert row["details"]["identity"] == carla.identity_id
    assert row["details"]["candidate"] == analysed.faces[0].candidates[0].id


async def test_a_group_reply_leaves_out_only_the_forgotten_candidate(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_bot(forget_grace_days=7)
    dmytro = enrolled.people["Dmytro"]
    user = await officer(fake, service)
    gate = hold_before_delivery(monkeypatch, service, user)
    fake.push_message(user, photo=enrolled.t1)
    await gate.until_reached()
    lookup_id = await lookup_of(service, user)

    await forget(fake, dmytro.identity_id)
    try:
        gate.released.set()
        stored = await answered(service, lookup_id)
    finally:
        await restore(fake, dmytro.identity_id)

    replies = results(fake, user)
    assert body(replies[0]).startswith("6 faces found")
    shown = candidates(replies)
    for person in enrolled.people.values():
        theirs = [m for m in shown if f"Face #{person.face_index} · candidate" in body(m)]
        assert len(theirs) == (0 if person is dmytro else 1), [body(m) for m in replies]
    assert not any("Dmytro" in body(m) or "REF-4" in body(m) for m in replies)
    no_match = [m for m in replies if body(m).startswith(f"Face #{dmytro.face_index}: no")]
    assert len(no_match) == 1  # told, in the place of its candidate
    assert body(replies[-1]).split(":")[0] == "Face #3"  # the closing text, as always
    # every place of the reply was passed exactly once
    assert stored.status == "done" and stored.reply_sent == len(replies)


async def test_a_face_keeps_its_other_candidate_numbered_anew_when_one_is_erased(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the same face enrolled a second time, under another name: Alice's photos get two
    # candidates (the default grace period of 0 days: /forget erases at once)
    analysis, _ = await service.analysis.analyze(enrolled.t1)
    double = await service.enroller.enroll(
        face_crop(analysis, 1, margin=0.5, scale=1.1, mirror=True),
        IdentitySpec("Alina Double", "REF-X"),
        Requester(actor="test"),
    )
    alice = enrolled.people["Alice"]
    user = await officer(fake, service)
    gate = hold_before_delivery(monkeypatch, service, user)
    fake.push_message(user, photo=alice.query)
    await gate.until_reached()
    lookup_id = await lookup_of(service, user)
    analysed = await service.gallery.lookups.get(lookup_id)
    assert analysed is not None
    ranked = [c.identity_id for c in analysed.faces[0].candidates]
    assert ranked == [alice.identity_id, double.identity.id]  # the double scores a bit lower

    await forget(fake, double.identity.id)
    gate.released.set()

    stored = await answered(service, lookup_id)
    shown, closing = results(fake, user)
    # "1 of 1": nothing says a second candidate was there
    assert body(shown).startswith("Face #1 · candidate 1 of 1\nAlice Ames [REF-1]")
    assert "photo" in shown
    # the lookup number had its place on the last candidate's picture: it comes alone there
    assert body(closing).startswith(f"Lookup #{lookup_id} · faces: 1.")
    assert not any(
        "Alina" in body(m) or "REF-X" in body(m) or "erased" in body(m)
        for m in fake.messages_to(user["id"])
    )
    assert stored.status == "done" and stored.reply_sent == 2  # both places passed


# --- retention between two runs of a reply -----------------------------------------------------
def summary_of(replies: list[JSON]) -> int:
    [closing] = [m for m in replies if "Lookup #" in body(m)]
    match = re.search(r"Lookup #(\d+)", body(closing))
    assert match is not None
    return int(match[1])


async def test_a_reply_resumed_after_retention_cleared_its_pictures_skips_and_repeats_nothing(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_bot(reply_backoff=0.2)
    user = await officer(fake, service)
    gate = hold_after_first_message(monkeypatch, service)
    fake.push_message(user, photo=enrolled.t1)
    await gate.until_reached()  # the numbered boxes arrived
    lookup_id = await lookup_of(service, user)
    # the next picture cannot be sent: this run fails and the job runs again
    fake.fail_network("sendPhoto", times=DEFAULT_POLICY.attempts, chat_id=user["id"])
    # retention (`facefind purge --days 0`) clears the boxes and the query faces meanwhile
    await purge(service.gallery, retention_days=0, grace_days=365, actor="test")
    gate.released.set()

    stored = await answered(service, lookup_id, timeout=60)
    replies = results(fake, user)
    assert summary_of(replies) == lookup_id
    assert [body(m).startswith("6 faces found") for m in replies].count(True) == 1
    for person in enrolled.people.values():
        theirs = [m for m in replies if f"Face #{person.face_index} · candidate 1" in body(m)]
        assert len(theirs) == 1, [body(m) for m in replies]  # none skipped, none repeated
        # sent after the purge: the caption alone, with a word on the missing picture
        assert "the query face image was removed" in body(theirs[0])
    assert stored.status == "done" and stored.reply_sent == len(replies) == 6


async def test_a_reply_whose_numbered_boxes_were_cleared_says_so_in_their_place(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await officer(fake, service)
    gate = hold_before_delivery(monkeypatch, service, user)
    fake.push_message(user, photo=enrolled.t1)
    await gate.until_reached()
    lookup_id = await lookup_of(service, user)
    await purge(service.gallery, retention_days=0, grace_days=365, actor="test")
    gate.released.set()

    stored = await answered(service, lookup_id, timeout=60)
    replies = results(fake, user)
    assert body(replies[0]).startswith("6 faces found. The picture with their numbers was removed")
    assert "photo" not in replies[0]
    assert len([m for m in replies if "· candidate 1 of" in body(m)]) == len(enrolled.people)
    assert stored.reply_sent == len(replies) == 6
