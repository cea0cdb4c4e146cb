"""End-to-end: the real bot against the fake Bot API, the embedded PostgreSQL and real models.
An officer's photo lookups, feedback and history, duplicate updates, many photos at once, and
files that are not usable photos."""

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
)
from tests.fakebotapi import FakeBotApi


# --- photo lookups ----------------------------------------------------------------------------
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
    # (the module's earlier photos showed this face too: the reply may say it was seen before)
    assert body(replies[0]).startswith("Face #1: no confident match in the gallery.\n")
    assert f"\n\nLookup #{lookup_id} · faces: 1." in body(replies[0])
    assert not candidates(replies)
    assert not any(p.name in body(m) for m in replies for p in enrolled.people.values())
    stored = await answered(service, lookup_id)
    assert stored is not None and stored.status == "done" and not stored.faces[0].candidates


# --- feedback and history ---------------------------------------------------------------------
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


# --- duplicate updates ------------------------------------------------------------------------
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
    summary = await reply(fake, user, "Lookup #", since=since, timeout=60)
    found = re.search(r"Lookup #(\d+)", body(summary))
    assert found is not None
    # its reply finished: a lookup still answering takes a re-delivery as its own (queued
    # again, harmlessly), and says nothing of it
    await answered(service, int(found[1]))

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


# --- files that are not usable photos -------------------------------------------------------
async def test_a_pdf_is_not_an_image(fake: FakeBotApi, bot: BotRunner, service: FaceFind) -> None:
    user = await officer(fake, service)
    fake.push_message(user, document=(images.PDF_BYTES, "report.pdf", "application/pdf"))
    await reply(fake, user, "This file is not an image or a clip I can read.")
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
