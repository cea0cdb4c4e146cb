"""End-to-end: the real bot against the fake Bot API, the embedded PostgreSQL and real models.
Access, photo lookups, feedback, enrollment, forged callbacks, duplicate updates and files that
are not usable photos."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest

from bot.runner import BotRunner
from facefind.service import FaceFind
from recognition import Analysis
from tests import images
from tests.botkit import (
    ADMIN,
    JSON,
    Enrolled,
    answered,
    body,
    buttons,
    candidates,
    decodes_as_image,
    eventually,
    gradient_jpeg,
    lookup_replies,
    officer,
    reply,
    stranger_user,
    tom_hanks,
)
from tests.fakebotapi import FakeBotApi


# --- 1. access requests -------------------------------------------------------------------------
async def test_an_unknown_user_asks_for_access_and_an_admin_approves(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    user = stranger_user(fake, "Olga")
    fake.push_message(user, "/start")

    told = await reply(fake, user, "sent to the administrators")
    assert told["reply_to_message"]["text"] == "/start"
    stored = await service.gallery.users.get(user["id"])
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

    stored = await service.gallery.users.get(user["id"])
    assert stored is not None and stored.status == "approved" and stored.decided_by == "tg:1"
    audit = await service.gallery.audit.recent(20)
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

    stored = await service.gallery.users.get(user["id"])
    assert stored is not None and stored.status == "rejected"
    decided = fake.message(ADMIN, request["message_id"])
    assert decided is not None and "Decision: rejected by Ada" in body(decided)

    # a rejected user is refused from then on
    since = len(fake.sent)
    fake.push_message(user, "/start")
    await reply(fake, user, "Access denied.", since=since)


# --- 2. photo lookups ----------------------------------------------------------------------------
async def test_a_photo_of_an_enrolled_person_gets_a_strong_candidate_with_evidence(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    alice = enrolled.people["Alice"]
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
    # what the score means for this enrolled, in plain words, from the shipped calibration: a
    # 98% match is rarer among strangers than anything a calibration can vouch for
    stored_first = (await service.gallery.lookups.get(lookup_id)).faces[0].candidates[0]  # type: ignore[union-attr]
    assert (
        stored_first.false_candidate_rate is not None and stored_first.false_candidate_rate < 1e-9
    )
    identities = (await service.bands.current()).identities
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
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)

    lookup_id, replies = await lookup_replies(fake, user, enrolled.t1)

    overview = replies[0]
    assert "photo" in overview and body(overview).startswith("6 faces found")
    assert decodes_as_image(overview["_file"])[0] >= 640
    found = candidates(replies)
    for person in enrolled.people.values():
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
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)

    lookup_id, replies = await lookup_replies(fake, user, enrolled.stranger)

    assert replies == [replies[0]]
    assert body(replies[0]).startswith("Face #1: no confident match in the gallery.\n\nLookup #")
    assert not candidates(replies)
    assert not any(p.name in body(m) for m in replies for p in enrolled.people.values())
    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done" and not stored.faces[0].candidates


# --- 3. feedback and history ---------------------------------------------------------------------
async def test_confirming_a_candidate_stores_feedback_and_shows_it(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    boris = enrolled.people["Boris"]
    user = await officer(fake, service, "Halyna")
    lookup_id, replies = await lookup_replies(fake, user, boris.query)
    first = candidates(replies)[0]
    confirm = dict(buttons(first))["✅ Confirm"]

    fake.push_callback(user, first, confirm)
    edited = await fake.wait_for(
        lambda m: m is first and "Confirmed by Halyna" in body(m), timeout=15
    )

    stored = await service.gallery.lookups.get(lookup_id)
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
    tom = (await service.gallery.identities.named("Tom Hanks"))[0]
    assert tom.external_ref == "TH-1" and tom.face_count == 1

    # a photo with /enroll as its caption adds to the same identity
    since = len(fake.sent)
    fake.push_message(admin, photo=tom_hanks(mirror=True), caption="/enroll Tom Hanks | TH-1")
    done = await reply(fake, admin, "Added a reference face", since=since)
    assert f"(identity #{tom.id}," in body(done)
    assert "new identity" not in body(done)
    refreshed = await service.gallery.identities.get(tom.id)
    assert refreshed is not None and refreshed.face_count == 2

    # a name shared by several identities is not guessed
    twins = [
        await service.gallery.identities.create("Jordan Twin", "test", external_ref=ref)
        for ref in ("JT-1", "JT-2")
    ]
    since = len(fake.sent)
    fake.push_message(admin, photo=tom_hanks(scale=1.5), caption="/enroll Jordan Twin")
    asked = await reply(fake, admin, "Several identities are named Jordan Twin", since=since)
    for twin in twins:
        assert f"#{twin.id} Jordan Twin [{twin.external_ref}]" in body(asked)
        unchanged = await service.gallery.identities.get(twin.id)
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
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)
    since = len(fake.sent)
    fake.push_message(user, photo=enrolled.stranger, caption="/enroll Someone | X-1")
    await reply(fake, user, "This command is for administrators.", since=since)
    assert not await service.gallery.identities.named("Someone")


# --- 5. unapproved users -------------------------------------------------------------------------
async def test_a_pending_user_gets_no_lookup(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    user = stranger_user(fake)
    fake.push_message(user, "/start")
    await reply(fake, user, "sent to the administrators")

    since = len(fake.sent)
    fake.push_message(user, photo=enrolled.people["Alice"].query)
    refusal = await reply(fake, user, "still waiting for an administrator", since=since)

    assert body(refusal) == "Your access request is still waiting for an administrator."
    assert fake.calls_of("getFile") == []
    assert (user["id"], "typing") not in fake.chat_actions
    assert await service.gallery.lookups.recent(user_id=user["id"]) == []
    to_user = fake.messages_to(user["id"])
    assert all("photo" not in m and "reply_markup" not in m for m in to_user)
    assert not any("Alice" in body(m) for m in to_user)


# --- 6. forged callbacks -------------------------------------------------------------------------
async def test_forged_callbacks_change_nothing(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    pending = stranger_user(fake, "Waiting")
    await service.gallery.users.seen(pending["id"], "Waiting", None, None, "en")
    owner = await officer(fake, service, "Owner")
    lookup_id, replies = await lookup_replies(fake, owner, enrolled.people["Carla"].query)
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
    status = await service.gallery.users.get(pending["id"])
    assert status is not None and status.status == "pending"
    stored = await service.gallery.lookups.get(lookup_id)
    assert stored is not None and stored.faces[0].candidates[0].verdict is None
    shown = fake.message(owner["id"], candidates(replies)[0]["message_id"])
    assert shown is not None and "Confirmed" not in body(shown)
    assert fake.messages_to(pending["id"]) == []  # the pending user was not told anything


# --- 7. duplicate updates ------------------------------------------------------------------------
async def test_a_redelivered_update_gives_one_lookup(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    user = await officer(fake, service)
    since = len(fake.sent)
    update = fake.push_message(user, photo=enrolled.people["Dmytro"].query)
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
    assert len(await service.gallery.lookups.recent(user_id=user["id"])) == 1


async def test_many_photos_at_once_all_get_answers_with_inference_off_the_event_loop(
    fake: FakeBotApi,
    bot: BotRunner,
    service: FaceFind,
    enrolled: Enrolled,
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
    people = list(enrolled.people.values())
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
    assert len(await service.gallery.lookups.recent(user_id=burst["id"], limit=20)) == 10


# --- 8. files that are not usable photos -------------------------------------------------------
async def test_a_pdf_is_not_an_image(fake: FakeBotApi, bot: BotRunner, service: FaceFind) -> None:
    user = await officer(fake, service)
    fake.push_message(user, document=(images.PDF_BYTES, "report.pdf", "application/pdf"))
    await reply(fake, user, "This file is not an image I can read.")
    assert fake.calls_of("getFile") == []
    assert await service.gallery.lookups.recent(user_id=user["id"]) == []


async def test_a_damaged_jpeg_is_reported_as_damaged(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(fake, service)
    broken = images.truncated(enrolled.t1, keep=0.3)
    fake.push_message(user, document=(broken, "IMG_0001.jpg", "image/jpeg"))
    await reply(fake, user, "This image is damaged and cannot be read.")
    [listed] = await service.gallery.lookups.recent(user_id=user["id"])
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
    [listed] = await service.gallery.lookups.recent(user_id=user["id"])
    stored = await answered(service, listed.id)
    assert stored.status == "no_face" and f"(lookup #{stored.id})" in body(advice)
