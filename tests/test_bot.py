"""End-to-end: the real bot against the fake Bot API, the embedded PostgreSQL and real models."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from PIL import Image

from bot.app import BotRunner, webhook_path
from bot.handlers import split_text
from facefind.actors import Requester
from facefind.enrollment import IdentitySpec
from facefind.service import FaceFind
from facefind.settings import Settings
from gallery import Lookup
from recognition import Analysis
from tests import images
from tests.conftest import db_settings
from tests.fakebotapi import FakeBotApi

JSON = dict[str, Any]

ADMIN = 1

# Every test talks as users of its own, so tests sharing the module's gallery stay independent.
_user_ids = itertools.count(5001)


# --- images -----------------------------------------------------------------------------------
def face_crop(
    analysis: Analysis,
    index: int,
    *,
    margin: float,
    scale: float = 1.0,
    quality: int = 92,
    mirror: bool = False,
) -> bytes:
    """JPEG of face #index of an analysed photo with a margin around its box, as a user would
    cut it out: resized, mirrored and recompressed to taste."""
    crop = images.crop_around(analysis.image, analysis.faces[index - 1].bbox, margin)
    if scale != 1.0:
        crop = images.resize(crop, scale)
    if mirror:
        crop = images.flip(crop)
    return images.to_jpeg(crop, quality)


def tom_hanks(*, scale: float = 1.0, mirror: bool = False, quality: int = 90) -> bytes:
    """A derived JPEG copy of insightface's Tom Hanks picture (the original is a PNG)."""
    image = images.read_image(images.TOM_HANKS)
    if scale != 1.0:
        image = images.resize(image, scale)
    if mirror:
        image = images.flip(image)
    return images.to_jpeg(image, quality)


def gradient_jpeg() -> bytes:
    """A plain picture with no face in it."""
    ramp = np.linspace(0, 255, 320, dtype=np.uint8)
    return images.to_jpeg(np.dstack([np.tile(ramp, (240, 1))] * 3))


def decodes_as_image(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


# --- gallery ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    name: str
    ref: str
    identity_id: int
    face_index: int  # in t1.jpg
    query: bytes  # a derived photo of this person, different from every enrolled one


@dataclass(frozen=True)
class Gallery:
    t1: bytes
    people: dict[str, Person]  # by first name
    stranger: bytes  # a face that is in no identity


@pytest.fixture(scope="module")
async def gallery(service: FaceFind) -> Gallery:
    """Four t1.jpg people enrolled from crops; t1 faces #3 (turned away) and #6 left out."""
    t1 = images.read_bytes(images.T1)
    analysis, _ = await service.analyze(t1)
    assert len(analysis.faces) == images.T1_FACES
    requester = Requester(actor="test")
    people: dict[str, Person] = {}
    for first, last, ref, index in (
        ("Alice", "Ames", "REF-1", 1),
        ("Boris", "Brandt", "REF-2", 2),
        ("Carla", "Cruz", "REF-3", 4),
        ("Dmytro", "Dub", "REF-4", 5),
    ):
        spec = IdentitySpec(f"{first} {last}", ref)
        result = await service.enroll(face_crop(analysis, index, margin=0.6), spec, requester)
        assert result.face_id is not None
        query = face_crop(analysis, index, margin=0.9, scale=0.75, quality=70)
        people[first] = Person(spec.name, ref, result.identity.id, index, query)
    # a second reference face, so /identity has an album to show
    closer = face_crop(analysis, 1, margin=0.4, scale=1.25)
    second = await service.enroll(closer, IdentitySpec("Alice Ames", "REF-1"), requester)
    assert second.identity.id == people["Alice"].identity_id and second.face_id is not None
    stranger = face_crop(analysis, 6, margin=0.9, scale=0.75, quality=70)
    return Gallery(t1, people, stranger)


# --- the bot ----------------------------------------------------------------------------------
StartBot = Callable[..., Awaitable[BotRunner]]


@pytest.fixture
async def start_bot(
    fake: FakeBotApi, service: FaceFind, gallery: Gallery, module_dsn: str, data_dir: Path
) -> AsyncIterator[StartBot]:
    """Start a BotRunner in polling mode (or as the overrides say); stopped after the test."""
    runners: list[BotRunner] = []

    async def start(**overrides: Any) -> BotRunner:
        settings = Settings(
            **db_settings(module_dsn, data_dir),
            telegram_bot_token=fake.token,
            telegram_api_url=fake.url,
            admin_ids=(ADMIN,),
            http_listen="127.0.0.1:0",
            **overrides,
        )
        runner = BotRunner(settings, service)
        runners.append(runner)
        await runner.start()
        return runner

    yield start
    for runner in runners:
        if runner.state.ready:
            await runner.stop()


@pytest.fixture
async def bot(start_bot: StartBot) -> BotRunner:
    return await start_bot()


@pytest.fixture
def admin(fake: FakeBotApi) -> JSON:
    return fake.user(ADMIN, "Ada", "ada_admin")


async def officer(
    fake: FakeBotApi, service: FaceFind, first_name: str = "Oleh", *, language: str = "en"
) -> JSON:
    """A user an administrator already approved."""
    uid = next(_user_ids)
    user = fake.user(uid, first_name, f"user{uid}", language)
    await service.gallery.user_seen(uid, first_name, None, f"user{uid}", language)
    await service.gallery.set_user_status(uid, "approved", f"tg:{ADMIN}")
    return user


def stranger_user(fake: FakeBotApi, first_name: str = "Ivan", *, language: str = "en") -> JSON:
    uid = next(_user_ids)
    return fake.user(uid, first_name, f"user{uid}", language, last_name="Tester")


# --- reading what the bot sent ----------------------------------------------------------------
def body(message: JSON) -> str:
    return str(message.get("text") or message.get("caption") or "")


def buttons(message: JSON) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


async def reply(
    fake: FakeBotApi, user: JSON, contains: str, *, since: int = 0, timeout: float = 30.0
) -> JSON:
    """The first bot message to the user's chat containing `contains`, waiting for it."""
    chat_id = user["id"]
    return await fake.wait_for(
        lambda m: m["chat"]["id"] == chat_id and contains in body(m), since=since, timeout=timeout
    )


async def lookup_replies(
    fake: FakeBotApi, user: JSON, photo: bytes | None = None, **message: Any
) -> tuple[int, list[JSON]]:
    """Send a photo (or the given message) and return the lookup number and every reply."""
    since = len(fake.sent)
    if photo is not None:
        message["photo"] = photo
    fake.push_message(user, **message)
    summary = await reply(fake, user, "Lookup #", since=since, timeout=60)
    match = re.search(r"Lookup #(\d+)", body(summary))
    assert match is not None
    replies = [m for m in fake.sent[since:] if m["chat"]["id"] == user["id"]]
    return int(match[1]), replies


def candidates(replies: list[JSON]) -> list[JSON]:
    return [m for m in replies if "photo" in m and "candidate" in body(m)]


async def answered(service: FaceFind, lookup_id: int, timeout: float = 30.0) -> Lookup:
    """The lookup once its reply was delivered (or given up): the status is recorded right
    after the last message arrives."""
    deadline = time.monotonic() + timeout
    while True:
        stored = await service.gallery.get_lookup(lookup_id)
        assert stored is not None
        if stored.status not in ("pending", "replying"):
            return stored
        assert time.monotonic() < deadline, f"lookup {lookup_id} still {stored.status}"
        await asyncio.sleep(0.05)


async def eventually(probe: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# --- 1. access requests -------------------------------------------------------------------------
async def test_an_unknown_user_asks_for_access_and_an_admin_approves(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    user = stranger_user(fake, "Olga")
    fake.push_message(user, "/start")

    told = await reply(fake, user, "sent to the administrators")
    assert told["reply_to_message"]["text"] == "/start"
    stored = await service.gallery.get_user(user["id"])
    assert stored is not None and stored.status == "pending"

    request = await reply(fake, admin, "Access request")
    assert "Name: Olga Tester" in body(request)
    assert f"Username: @{user['username']}" in body(request)
    assert f"User id: {user['id']}" in body(request)
    assert buttons(request) == [
        ("✅ Approve", f"acc:a:{user['id']}"),
        ("❌ Reject", f"acc:r:{user['id']}"),
    ]

    since = len(fake.sent)
    fake.push_callback(admin, request, f"acc:a:{user['id']}")
    await reply(fake, user, "Your access has been approved", since=since)

    stored = await service.gallery.get_user(user["id"])
    assert stored is not None and stored.status == "approved" and stored.decided_by == "tg:1"
    audit = await service.gallery.recent_audit(20)
    assert any(
        a["action"] == "user.approved"
        and a["target"] == f"user:{user['id']}"
        and a["actor"] == "tg:1"
        for a in audit
    )
    decided = fake.message(ADMIN, request["message_id"])
    assert decided is not None
    assert "Decision: approved by Ada (@ada_admin)" in body(decided)
    assert "reply_markup" not in decided  # the buttons are gone
    assert any(a.get("text") == "approved" for a in fake.callback_answers)


async def test_an_admin_rejects_an_access_request(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    user = stranger_user(fake, "Petro")
    fake.push_message(user, "/start")
    request = await reply(fake, admin, f"User id: {user['id']}")

    since = len(fake.sent)
    fake.push_callback(admin, request, f"acc:r:{user['id']}")
    await reply(fake, user, "Your access request was rejected", since=since)

    stored = await service.gallery.get_user(user["id"])
    assert stored is not None and stored.status == "rejected"
    decided = fake.message(ADMIN, request["message_id"])
    assert decided is not None and "Decision: rejected by Ada" in body(decided)

    # a rejected user is refused from then on
    since = len(fake.sent)
    fake.push_message(user, "/start")
    await reply(fake, user, "Access denied.", since=since)


# --- 2. photo lookups ----------------------------------------------------------------------------
async def test_a_photo_of_an_enrolled_person_gets_a_strong_candidate_with_evidence(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    alice = gallery.people["Alice"]
    user = await officer(fake, service)

    lookup_id, replies = await lookup_replies(fake, user, alice.query)

    assert (user["id"], "typing") in fake.chat_actions
    found = candidates(replies)
    assert found, [body(m) for m in replies]
    first = found[0]
    text = body(first)
    assert "Face #1 · candidate 1 of" in text
    assert "Alice Ames [REF-1]" in text
    pct = re.search(r"Similarity (\d+)% — strong match", text)
    assert pct is not None and int(pct[1]) >= 50
    assert "not an identification" in text
    # what the score means for this gallery, in plain words, from the shipped calibration: a
    # 98% match is rarer among strangers than anything a calibration can vouch for
    stored_first = (await service.gallery.get_lookup(lookup_id)).faces[0].candidates[0]  # type: ignore[union-attr]
    assert (
        stored_first.false_candidate_rate is not None and stored_first.false_candidate_rate < 1e-9
    )
    identities = (await service.current_bands()).identities
    assert (
        "Fewer than 1 in 1,000,000,000 people who are not in the gallery would score this high "
        f"against its {identities:,} identities." in text
    )
    assert "Close relatives (twins, siblings) can score like the person." in body(replies[-1])
    # the comparison picture is a real image the bot uploaded
    width, height = decodes_as_image(first["_file"])
    assert width > height > 0
    labels = [label for label, _ in buttons(first)]
    assert labels == ["✅ Confirm", "❌ Not this person"]
    # one picture per candidate, each answering the user's photo
    total = re.search(r"candidate 1 of (\d+)", text)
    assert total is not None and len(found) == int(total[1])
    assert all(m["reply_to_message"]["photo"] for m in found)
    # every face has a candidate: the lookup number closes the last picture's caption
    assert replies[-1] is found[-1]
    assert f"\n\nLookup #{lookup_id} · faces: 1." in body(replies[-1])

    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done" and stored.user_id == user["id"]
    assert stored.faces[0].candidates[0].display_name == "Alice Ames"
    assert stored.faces[0].candidates[0].band == "strong"


async def test_a_group_photo_first_gets_numbered_boxes_then_each_face(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)

    lookup_id, replies = await lookup_replies(fake, user, gallery.t1)

    overview = replies[0]
    assert "photo" in overview and body(overview).startswith("6 faces found")
    assert decodes_as_image(overview["_file"])[0] >= 640
    found = candidates(replies)
    for person in gallery.people.values():
        face = [m for m in found if f"Face #{person.face_index} · candidate 1 of" in body(m)]
        assert len(face) == 1, [body(m) for m in replies]
        assert f"{person.name} [{person.ref}]" in body(face[0])
        assert "strong match" in body(face[0])
    # the faces without a match are listed together, with the lookup number, at the end
    closing = body(replies[-1])
    assert [m for m in replies if "no confident match" in body(m)] == [replies[-1]]
    paragraphs = closing.split("\n\n")
    assert [p.split(":")[0] for p in paragraphs[:2]] == ["Face #3", "Face #6"]
    assert "turned away from the camera" in paragraphs[0]
    assert paragraphs[2].startswith(f"Lookup #{lookup_id} · faces: 6.")
    assert len(replies) == 1 + len(found) + 1  # boxes, one picture per candidate, the closing text


async def test_a_face_that_is_not_enrolled_gets_no_confident_match(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)

    lookup_id, replies = await lookup_replies(fake, user, gallery.stranger)

    assert replies == [replies[0]]
    assert body(replies[0]).startswith("Face #1: no confident match in the gallery.\n\nLookup #")
    assert not candidates(replies)
    assert not any(p.name in body(m) for m in replies for p in gallery.people.values())
    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done" and not stored.faces[0].candidates


# --- 3. feedback and history ---------------------------------------------------------------------
async def test_confirming_a_candidate_stores_feedback_and_shows_it(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    boris = gallery.people["Boris"]
    user = await officer(fake, service, "Halyna")
    lookup_id, replies = await lookup_replies(fake, user, boris.query)
    first = candidates(replies)[0]
    confirm = dict(buttons(first))["✅ Confirm"]

    fake.push_callback(user, first, confirm)
    edited = await fake.wait_for(
        lambda m: m is first and "Confirmed by Halyna" in body(m), timeout=15
    )

    stored = await service.gallery.get_lookup(lookup_id)
    assert stored is not None
    assert stored.faces[0].candidates[0].verdict == "confirmed"
    assert "Boris Brandt [REF-2]" in body(edited)  # the evidence stays above the verdict
    assert buttons(edited) == buttons(first)  # and the user can still change their mind
    assert any(a.get("text") == "Saved." for a in fake.callback_answers)

    since = len(fake.sent)
    fake.push_message(user, "/history")
    history = await reply(fake, user, "Your last lookups", since=since)
    line = next(ln for ln in body(history).splitlines() if ln.startswith(f"#{lookup_id} "))
    assert "faces: 1" in line and "Boris Brandt" in line and "[confirmed]" in line


# --- 4. enrollment by an administrator -----------------------------------------------------------
async def test_an_admin_enrolls_by_reply_and_by_caption(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    # a photo, then /enroll as a reply to it
    since = len(fake.sent)
    photo = fake.push_message(admin, photo=images.read_bytes(images.TOM_HANKS))["message"]
    await reply(fake, admin, "Lookup #", since=since, timeout=60)  # looked up first
    since = len(fake.sent)
    fake.push_message(admin, "/enroll Tom Hanks | TH-1", reply_to_message_id=photo["message_id"])
    done = await reply(fake, admin, "Added a reference face", since=since)
    assert "to Tom Hanks [TH-1]" in body(done)
    assert "A new identity was created." in body(done)
    tom = (await service.gallery.identities_named("Tom Hanks"))[0]
    assert tom.external_ref == "TH-1" and tom.face_count == 1

    # a photo with /enroll as its caption adds to the same identity
    since = len(fake.sent)
    fake.push_message(admin, photo=tom_hanks(mirror=True), caption="/enroll Tom Hanks | TH-1")
    done = await reply(fake, admin, "Added a reference face", since=since)
    assert f"(identity #{tom.id}," in body(done)
    assert "new identity" not in body(done)
    refreshed = await service.gallery.get_identity(tom.id)
    assert refreshed is not None and refreshed.face_count == 2

    # a name shared by several identities is not guessed
    twins = [
        await service.gallery.create_identity("Jordan Twin", "test", external_ref=ref)
        for ref in ("JT-1", "JT-2")
    ]
    since = len(fake.sent)
    fake.push_message(admin, photo=tom_hanks(scale=1.5), caption="/enroll Jordan Twin")
    asked = await reply(fake, admin, "Several identities are named Jordan Twin", since=since)
    for twin in twins:
        assert f"#{twin.id} Jordan Twin [{twin.external_ref}]" in body(asked)
        unchanged = await service.gallery.get_identity(twin.id)
        assert unchanged is not None and unchanged.face_count == 0

    # the same face under another name: enrolled, with a warning
    since = len(fake.sent)
    fake.push_message(admin, photo=tom_hanks(scale=1.5), caption="/enroll Thomas Hanks | TH-2")
    warned = await reply(fake, admin, "Added a reference face", since=since)
    assert f"also strongly matches Tom Hanks (identity #{tom.id}," in body(warned)

    # an officer's later lookup finds the new identity
    user = await officer(fake, service)
    _, replies = await lookup_replies(fake, user, tom_hanks(scale=2.0, quality=75))
    assert any(
        "Tom Hanks [TH-1]" in body(m) and "strong match" in body(m) for m in candidates(replies)
    )


async def test_an_officer_cannot_enroll(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)
    since = len(fake.sent)
    fake.push_message(user, photo=gallery.stranger, caption="/enroll Someone | X-1")
    await reply(fake, user, "This command is for administrators.", since=since)
    assert not await service.gallery.identities_named("Someone")


# --- 5. unapproved users -------------------------------------------------------------------------
async def test_a_pending_user_gets_no_lookup(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery, admin: JSON
) -> None:
    user = stranger_user(fake)
    fake.push_message(user, "/start")
    await reply(fake, user, "sent to the administrators")

    since = len(fake.sent)
    fake.push_message(user, photo=gallery.people["Alice"].query)
    refusal = await reply(fake, user, "still waiting for an administrator", since=since)

    assert body(refusal) == "Your access request is still waiting for an administrator."
    assert fake.calls_of("getFile") == []
    assert (user["id"], "typing") not in fake.chat_actions
    assert await service.gallery.list_lookups(user_id=user["id"]) == []
    to_user = fake.messages_to(user["id"])
    assert all("photo" not in m and "reply_markup" not in m for m in to_user)
    assert not any("Alice" in body(m) for m in to_user)


# --- 6. forged callbacks -------------------------------------------------------------------------
async def test_forged_callbacks_change_nothing(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    pending = stranger_user(fake, "Waiting")
    await service.gallery.user_seen(pending["id"], "Waiting", None, None, "en")
    owner = await officer(fake, service, "Owner")
    lookup_id, replies = await lookup_replies(fake, owner, gallery.people["Carla"].query)
    candidate_id = int(dict(buttons(candidates(replies)[0]))["✅ Confirm"].split(":")[2])

    intruder = await officer(fake, service, "Mallory")
    since = len(fake.sent)
    fake.push_message(intruder, "/help")
    own_message = await reply(fake, intruder, "/history", since=since)

    answers = len(fake.callback_answers)
    fake.push_callback(intruder, own_message, f"acc:a:{pending['id']}", check_button=False)
    fake.push_callback(intruder, own_message, f"fb:c:{candidate_id}", check_button=False)
    await eventually(lambda: len(fake.callback_answers) >= answers + 2)

    refusals = fake.callback_answers[answers:]
    assert all(a["text"] == "You are not allowed to do that." for a in refusals)
    status = await service.gallery.get_user(pending["id"])
    assert status is not None and status.status == "pending"
    stored = await service.gallery.get_lookup(lookup_id)
    assert stored is not None and stored.faces[0].candidates[0].verdict is None
    shown = fake.message(owner["id"], candidates(replies)[0]["message_id"])
    assert shown is not None and "Confirmed" not in body(shown)
    assert fake.messages_to(pending["id"]) == []  # the pending user was not told anything


# --- 7. duplicate updates ------------------------------------------------------------------------
async def test_a_redelivered_update_gives_one_lookup(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    gallery: Gallery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    user = await officer(fake, service)
    since = len(fake.sent)
    update = fake.push_message(user, photo=gallery.people["Dmytro"].query)
    await reply(fake, user, "Lookup #", since=since, timeout=60)

    def summaries() -> list[JSON]:
        return [m for m in fake.messages_to(user["id"]) if "Lookup #" in body(m)]

    # the same update again (its confirmation was lost): the inbox knows its id
    fake.push_update_again(update)
    await eventually(lambda: "was received before" in caplog.text or len(summaries()) > 1)
    # the same message in another update: the lookup is unique per chat and message
    fake.push_raw({"message": update["message"]})
    await eventually(lambda: "already has a lookup" in caplog.text or len(summaries()) > 1)

    assert len(summaries()) == 1
    assert len(await service.gallery.list_lookups(user_id=user["id"])) == 1


async def test_many_photos_at_once_all_get_answers_with_inference_off_the_event_loop(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    gallery: Gallery,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    analyze = service.analyzer.analyze

    def watched(data: bytes, **kwargs: Any) -> Analysis:
        threads.append(threading.current_thread().name)
        return analyze(data, **kwargs)

    monkeypatch.setattr(service.analyzer, "analyze", watched)
    burst = await officer(fake, service, "Burst")
    others = [await officer(fake, service, f"Other{i}") for i in range(3)]
    waiting = await officer(fake, service, "Waiting")
    people = list(gallery.people.values())
    since = len(fake.sent)
    for n in range(10):  # one user sends ten photos at once
        fake.push_message(burst, photo=people[n % len(people)].query)
    for n, user in enumerate(others):  # and three more users at the same time
        fake.push_message(user, photo=people[n].query)
    fake.push_message(waiting, "/help")

    def summaries(user: JSON) -> list[JSON]:
        return [
            m for m in fake.sent[since:] if m["chat"]["id"] == user["id"] and "Lookup #" in body(m)
        ]

    helped = await reply(fake, waiting, "/history", since=since, timeout=60)
    await eventually(
        lambda: len(summaries(burst)) == 10 and all(len(summaries(u)) == 1 for u in others),
        timeout=120,
    )
    # a plain command is answered while the photos queue for inference...
    finished = [m for u in [burst, *others] for m in summaries(u)]
    assert any(fake.sent.index(m) > fake.sent.index(helped) for m in finished)
    # ...because every model call ran on the inference pool's threads, none on the event loop
    assert len(threads) == 13
    assert all(name.startswith("inference") for name in threads), threads
    ids = {int(re.search(r"Lookup #(\d+)", body(m))[1]) for m in summaries(burst)}  # type: ignore[index]
    assert len(ids) == 10
    assert len(await service.gallery.list_lookups(user_id=burst["id"], limit=20)) == 10


# --- 8. files that are not usable photos -------------------------------------------------------
async def test_a_document_over_20_mb_is_refused_without_downloading(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind
) -> None:
    user = await officer(fake, service)
    file_id, unique_id = fake.add_file(
        b"\xff\xd8\xff" + b"0" * 1024, file_size=25 * 1024 * 1024, file_name="big.jpg"
    )
    document = {
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_name": "big.jpg",
        "mime_type": "image/jpeg",
        "file_size": 25 * 1024 * 1024,
    }
    fake.push_message(
        user, document=(b"placeholder", "big.jpg", "image/jpeg"), extra={"document": document}
    )
    refusal = await reply(fake, user, "larger than the 20 MB")
    assert "send it as a photo" in body(refusal)
    assert fake.calls_of("getFile") == []


async def test_a_pdf_is_not_an_image(fake: FakeBotApi, bot: BotRunner, service: FaceFind) -> None:
    user = await officer(fake, service)
    fake.push_message(user, document=(images.PDF_BYTES, "report.pdf", "application/pdf"))
    await reply(fake, user, "This file is not an image I can read.")
    assert fake.calls_of("getFile") == []
    assert await service.gallery.list_lookups(user_id=user["id"]) == []


async def test_a_damaged_jpeg_is_reported_as_damaged(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)
    broken = images.truncated(gallery.t1, keep=0.3)
    fake.push_message(user, document=(broken, "IMG_0001.jpg", "image/jpeg"))
    await reply(fake, user, "This image is damaged and cannot be read.")
    [listed] = await service.gallery.list_lookups(user_id=user["id"])
    stored = await answered(service, listed.id)
    assert stored.status == "error" and stored.error == "corrupt"


async def test_a_photo_without_a_face_gets_advice(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind
) -> None:
    user = await officer(fake, service)
    since = len(fake.sent)
    fake.push_message(user, photo=gradient_jpeg())
    advice = await reply(fake, user, "No face found in this photo", since=since)
    assert "come closer" in body(advice) and "as a file" in body(advice)
    [listed] = await service.gallery.list_lookups(user_id=user["id"])
    stored = await answered(service, listed.id)
    assert stored.status == "no_face" and f"(lookup #{stored.id})" in body(advice)


# --- 9. webhook mode -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    assert await service.gallery.get_user(forger["id"]) is None
    assert fake.messages_to(forger["id"]) == []
    assert fake.calls_of("getUpdates") == []


# --- 10. health and metrics ----------------------------------------------------------------------
async def test_health_and_metrics(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)
    lookup_id, _ = await lookup_replies(fake, user, gallery.people["Alice"].query)
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
    bands = await service.current_bands()
    assert health["gallery"]["identities"] == bands.identities >= len(gallery.people)
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
    assert len(await service.gallery.list_lookups(user_id=user["id"])) == 2


# --- 12. flood control ---------------------------------------------------------------------------
async def test_a_reply_survives_telegram_flood_control(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind
) -> None:
    user = await officer(fake, service)
    fake.fail_next("sendMessage", 429, retry_after=1)
    fake.push_message(user, "/help")
    await reply(fake, user, "/history", timeout=15)
    statuses = [c.status for c in fake.calls_of("sendMessage")]
    assert statuses[:2] == [429, 200]


async def test_network_errors_on_download_and_reply_are_retried_not_lost(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)
    fake.fail_network("getFile")
    fake.fail_network("sendPhoto", mode="bad_gateway")
    lookup_id, replies = await lookup_replies(fake, user, gallery.people["Boris"].query)
    assert "Boris Brandt" in body(candidates(replies)[0])
    assert [c.status for c in fake.calls_of("getFile")][:2] == [0, 200]
    assert [c.status for c in fake.calls_of("sendPhoto")][:2] == [502, 200]
    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done"


# --- 13. administrator commands ------------------------------------------------------------------
async def send(fake: FakeBotApi, user: JSON, text: str, contains: str) -> JSON:
    since = len(fake.sent)
    fake.push_message(user, text)
    return await reply(fake, user, contains, since=since)


async def test_admin_lists_approves_and_revokes_users(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery, admin: JSON
) -> None:
    user = stranger_user(fake, "Nadia")
    fake.push_message(user, "/start")
    await reply(fake, admin, f"User id: {user['id']}")

    pending = await send(fake, admin, "/pending", "Pending access requests:")
    assert f"{user['id']} · officer · pending · Nadia Tester (@{user['username']})" in body(pending)
    users = await send(fake, admin, "/users", "Users:")
    assert f"{ADMIN} · 🛡 ADMIN · approved · Ada (@ada_admin)" in body(users)

    since = len(fake.sent)
    fake.push_message(admin, f"/approve {user['id']}")
    await reply(fake, admin, f"User {user['id']} (Nadia Tester", since=since)
    await reply(fake, user, "Your access has been approved", since=since)
    await lookup_replies(fake, user, gallery.people["Boris"].query)

    since = len(fake.sent)
    fake.push_message(admin, f"/revoke {user['id']}")
    done = await reply(fake, admin, f"User {user['id']}", since=since)
    assert body(done).endswith("officer, revoked.")
    await reply(fake, user, "Your access has been revoked.", since=since)

    files_before = len(fake.calls_of("getFile"))
    since = len(fake.sent)
    fake.push_message(user, photo=gallery.people["Boris"].query)
    await reply(fake, user, "Access denied.", since=since)  # the gate answered: nothing follows
    assert len(fake.calls_of("getFile")) == files_before
    assert len(await service.gallery.list_lookups(user_id=user["id"])) == 1

    usage = await send(fake, admin, "/approve nobody", "Usage: /approve <user id>")
    assert usage["reply_to_message"]["text"] == "/approve nobody"
    await send(fake, admin, "/approve 999999999", "No user with id 999999999")


async def test_admin_promotes_and_demotes_but_not_themselves(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    user = await officer(fake, service, "Roman")
    scope = {"type": "chat", "chat_id": user["id"]}

    done = await send(fake, admin, f"/promote {user['id']}", f"User {user['id']}")
    assert body(done).endswith("admin, approved.")
    assert "pending" in [c["command"] for c in fake.commands_for(scope)]
    promoted = await service.gallery.get_user(user["id"])
    assert promoted is not None and promoted.is_admin
    # the new admin can use admin commands
    await send(fake, user, "/pending", "")

    done = await send(fake, admin, f"/demote {user['id']}", f"User {user['id']}")
    assert body(done).endswith("officer, approved.")
    assert fake.commands_for(scope) == []
    await send(fake, user, "/pending", "This command is for administrators.")

    await send(fake, admin, f"/demote {ADMIN}", "You cannot do that to yourself")
    me = await service.gallery.get_user(ADMIN)
    assert me is not None and me.is_admin
    # an officer cannot use the admin commands at all
    await send(fake, user, f"/promote {user['id']}", "This command is for administrators.")


async def test_admin_shows_an_identity_with_its_faces(
    fake: FakeBotApi, bot: BotRunner, gallery: Gallery, admin: JSON
) -> None:
    alice = gallery.people["Alice"]
    since = len(fake.sent)
    fake.push_message(admin, "/identity alice ames")
    card = await reply(fake, admin, f"Identity #{alice.identity_id}: Alice Ames", since=since)
    assert "External reference: REF-1" in body(card)
    assert "Reference faces: 2" in body(card)
    await fake.wait_for_call("sendMediaGroup")
    album = await fake.wait_for(lambda m: "media_group_id" in m, since=since)
    pictures = [m for m in fake.sent[since:] if m.get("media_group_id") == album["media_group_id"]]
    assert len(pictures) == 2
    assert all(decodes_as_image(m["_file"]) == (112, 112) for m in pictures)

    await send(fake, admin, f"/identity {alice.identity_id}", f"Identity #{alice.identity_id}")
    await send(fake, admin, "/identity Nobody Atall", "No identity matches “Nobody Atall”")


async def test_admin_forgets_an_identity(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    temp = await service.gallery.create_identity("Temporary Person", "test")
    await send(
        fake, admin, f"/forget {temp.id}", f"Identity #{temp.id} (Temporary Person) was removed"
    )
    forgotten = await service.gallery.get_identity(temp.id)
    assert forgotten is not None and forgotten.deleted
    await send(fake, admin, f"/forget {temp.id}", f"No active identity #{temp.id}")
    card = await send(fake, admin, f"/identity {temp.id}", f"Identity #{temp.id}")
    assert "Forgotten:" in body(card)


async def test_admin_lists_lookups_and_shows_one_again(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery, admin: JSON
) -> None:
    user = await officer(fake, service)
    lookup_id, replies = await lookup_replies(fake, user, gallery.people["Carla"].query)

    listing = await send(fake, admin, f"/lookups {user['id']}", "Lookups:")
    line = body(listing).splitlines()[1]
    assert line.startswith(f"#{lookup_id} · ")
    assert f"tg:{user['id']}" in line and "Carla Cruz" in line

    since = len(fake.sent)
    fake.push_message(admin, f"/lookup {lookup_id}")
    header = await reply(fake, admin, f"Lookup #{lookup_id} · ", since=since)
    assert f"by tg:{user['id']}" in body(header) and "faces: 1" in body(header)
    again = await fake.wait_for(
        lambda m: m["chat"]["id"] == ADMIN and "photo" in m and "Carla Cruz" in body(m),
        since=since,
    )
    assert decodes_as_image(again["_file"]) == decodes_as_image(candidates(replies)[0]["_file"])
    assert buttons(again) == buttons(candidates(replies)[0])

    # an officer sees only their own lookups, and nothing about others'
    other = await officer(fake, service)
    await send(fake, other, f"/lookup {lookup_id}", f"No lookup #{lookup_id}.")
    await send(fake, other, f"/lookups {user['id']}", "This command is for administrators.")


async def test_admin_exports_lookups_as_csv(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery, admin: JSON
) -> None:
    user = await officer(fake, service)
    lookup_id, _ = await lookup_replies(fake, user, gallery.people["Dmytro"].query)
    today = datetime.now(UTC).date().isoformat()

    since = len(fake.sent)
    fake.push_message(admin, f"/export {today} {today}")
    sent = await fake.wait_for(lambda m: "document" in m, since=since)
    assert sent["document"]["file_name"] == f"facefind-lookups-{today}-{today}.csv"
    assert body(sent).startswith(f"Lookups from {today} to {today}:")
    rows = list(csv.DictReader(io.StringIO(sent["_file"].decode("utf-8"))))
    mine = [r for r in rows if r["lookup_id"] == str(lookup_id)]
    assert len(mine) >= 1
    assert mine[0]["display_name"] == "Dmytro Dub" and mine[0]["external_ref"] == "REF-4"
    assert mine[0]["band"] == "strong" and mine[0]["actor"] == f"tg:{user['id']}"
    audit = await service.gallery.recent_audit(10)
    assert any(a["action"] == "lookups.export" for a in audit)

    await send(fake, admin, "/export yesterday", "Usage: /export FROM TO")


# --- 14. Ukrainian ------------------------------------------------------------------------------
async def test_a_ukrainian_user_is_answered_in_ukrainian(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    newcomer = stranger_user(fake, "Оксана", language="uk")
    fake.push_message(newcomer, "/start")
    await reply(fake, newcomer, "Ваш запит на доступ надіслано адміністраторам")

    user = await officer(fake, service, "Тарас", language="uk")
    since = len(fake.sent)
    fake.push_message(user, photo=gallery.people["Boris"].query)
    summary = await reply(fake, user, "Пошук №", since=since, timeout=60)
    found = [m for m in fake.sent[since:] if m["chat"]["id"] == user["id"] and "photo" in m]
    assert "Схожість" in body(found[0]) and "сильний збіг" in body(found[0])
    assert "Менше ніж 1 з 1\u00a0000\u00a0000\u00a0000 людей, яких немає в галереї" in body(
        found[0]
    )
    assert [label for label, _ in buttons(found[0])] == ["✅ Підтвердити", "❌ Це не ця людина"]
    assert "облич: 1" in body(summary)
    # the command menus speak Ukrainian to readers whose Telegram does
    menu = {c["command"]: c["description"] for c in fake.commands_for({"type": "default"}, "uk")}
    assert menu["history"] == "Мої останні пошуки"
    english = {c["command"]: c["description"] for c in fake.commands_for({"type": "default"})}
    assert english["history"] == "My last lookups"


def test_a_candidates_rate_reads_as_one_in_n_people_in_both_languages() -> None:
    from bot.replies import rate_text

    assert rate_text("en", 1 / 19_873, 547) == (
        "About 1 in 20,000 people who are not in the gallery would score this high against its "
        "547 identities."
    )
    assert rate_text("uk", 1 / 19_873, 12_000) == (
        "Приблизно 1 з 20\u00a0000 людей, яких немає в галереї, отримали б таку схожість з "
        "однією з її 12\u00a0000 осіб."
    )
    assert rate_text("en", None, 547) is None  # no calibration: no number is made up


def test_picture_labels_in_ukrainian_are_drawn_not_question_marks() -> None:
    from recognition.render import label_font_path, side_by_side

    assert label_font_path() is not None  # DejaVu Sans, with Cyrillic glyphs
    face = images.read_image(images.TOM_HANKS)
    ukrainian = side_by_side(face, images.to_jpeg(face), "ваше фото", "еталон №7")
    question_marks = side_by_side(face, images.to_jpeg(face), "????? ????", "?????? ?7")
    strip = slice(224, None)  # the label strip under the faces
    a = np.asarray(cv2.imdecode(np.frombuffer(ukrainian, np.uint8), cv2.IMREAD_GRAYSCALE))[strip]
    b = np.asarray(cv2.imdecode(np.frombuffer(question_marks, np.uint8), cv2.IMREAD_GRAYSCALE))[
        strip
    ]
    assert (a < 128).sum() > 50  # ink was drawn
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 3  # and it is not '?'


# --- 15. graceful shutdown -----------------------------------------------------------------------
async def test_stopping_lets_a_lookup_in_progress_answer(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, gallery: Gallery
) -> None:
    user = await officer(fake, service)
    inference = service.inference
    gate = threading.Event()
    # hold every inference slot, so the lookup is surely in progress when the bot stops
    holders = [asyncio.create_task(inference.run(gate.wait, 30)) for _ in range(inference.workers)]
    try:
        await eventually(lambda: inference.running == inference.workers)
        since = len(fake.sent)
        fake.push_message(user, photo=gallery.people["Alice"].query)
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


async def test_a_long_user_list_arrives_whole_in_several_messages(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    many = [next(_user_ids) for _ in range(120)]
    for uid in many:
        await service.gallery.user_seen(uid, "Officer", f"Number {uid}", f"officer_{uid}", "en")
        await service.gallery.set_user_status(uid, "approved", "test")

    since = len(fake.sent)
    fake.push_message(admin, "/users")
    await reply(fake, admin, f"{many[-1]} · officer · approved · Officer Number", since=since)

    listing = "\n".join(body(m) for m in fake.messages_to(ADMIN)[-10:] if "Officer" in body(m))
    for uid in many:
        assert f"{uid} · officer · approved · Officer Number {uid} (@officer_{uid})" in listing


def test_long_texts_are_cut_at_line_ends_within_telegrams_limit() -> None:
    lines = [f"{n} · ✅ Officer {n}" for n in range(400)]
    parts = split_text("\n".join(lines))
    assert len(parts) > 1
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, no line cut in two
    assert split_text("short") == ["short"]


# --- 16. restarts -------------------------------------------------------------------------------
async def test_a_lookup_interrupted_by_a_restart_is_answered_at_the_next_start(
    fake: FakeBotApi, fresh_dsn: str, gallery: Gallery, tmp_path: Path
) -> None:
    settings = Settings(
        **db_settings(fresh_dsn, tmp_path),
        telegram_bot_token=fake.token,
        telegram_api_url=fake.url,
        http_listen="127.0.0.1:0",
    )
    own = await FaceFind.open(settings, actor="test")
    try:
        alice = gallery.people["Alice"]
        analysis, _ = await own.analyze(gallery.t1)
        await own.enroll(
            face_crop(analysis, alice.face_index, margin=0.6),
            IdentitySpec(alice.name, alice.ref),
            Requester(actor="test"),
        )
        user = fake.user(next(_user_ids), "Petro", "petro")
        await own.gallery.user_seen(user["id"], "Petro", None, "petro", "en")
        await own.gallery.set_user_status(user["id"], "approved", "test")
        # what a crash leaves behind: the lookup recorded, the photo not yet answered
        file_id, _ = fake.add_file(alice.query, kind="photo")
        lookup_id = await own.begin_lookup(
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
        stored = await own.gallery.get_lookup(lookup_id)
        assert stored is not None and stored.status == "done"
        assert stored.faces[0].candidates[0].display_name == alice.name
    finally:
        await own.close()


def test_exported_text_cannot_run_as_a_spreadsheet_formula() -> None:
    from bot.admin_lookups import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("Alice Ames") == "Alice Ames"
    assert csv_cell(0.123456) == 0.1235
