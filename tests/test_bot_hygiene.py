"""The bot against bad input, admin views on the record, erasure and the audit check-point.

Run as the outside drive ran: 20-digit ids everywhere, NUL and bidi overrides in names, year
9999, LIKE wildcards, a flood of access requests. Each bad input gets one clear reply and no
"Something went wrong". Fixtures (the bot as its runtime role, four enrolled people) come
from tests/botkit.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bot.runner import BotRunner
from facefind.access.witness import Witness, verify
from facefind.service import FaceFind
from tests.botkit import (
    ADMIN,
    JSON,
    Enrolled,
    StartBot,
    body,
    bot_settings,
    buttons,
    candidates,
    decodes_as_image,
    eventually,
    lookup_replies,
    officer,
    reply,
    send,
    stranger_user,
)
from tests.fakebotapi import FakeBotApi

HUGE = "99999999999999999999"  # 20 digits: more than a PostgreSQL bigint holds


def errors(fake: FakeBotApi, chat_id: int) -> list[JSON]:
    return [m for m in fake.messages_to(chat_id) if "Something went wrong" in body(m)]


async def test_twenty_digit_ids_get_a_usage_reply_in_every_command(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    user = await officer(fake, service)
    lookup_id, replies = await lookup_replies(fake, user, enrolled.people["Boris"].query)
    failures = bot.state.metrics.errors._value.get()
    for command, answer in (
        (f"/lookup {HUGE}", "Usage: /lookup N"),
        (f"/lookups {HUGE}", "Usage: /lookups"),
        (f"/identity {HUGE}", f"No identity matches “{HUGE}”"),
        (f"/identity #{HUGE}", f"No identity matches “#{HUGE}”"),
        (f"/approve {HUGE}", "Usage: /approve <user id>"),
        (f"/revoke {HUGE}", "Usage: /revoke <user id>"),
        (f"/forget {HUGE}", "Usage: /forget ID"),
        (f"/restore {HUGE}", "Usage: /restore ID"),
    ):
        since = len(fake.sent)
        fake.push_message(admin, command)
        answered = await reply(fake, admin, answer, since=since)
        assert answered["reply_to_message"]["text"] == command
    # /enroll #ID on a photo, and the same from an officer's own /lookup
    since = len(fake.sent)
    fake.push_message(admin, photo=enrolled.people["Alice"].query, caption=f"/enroll #{HUGE}")
    await reply(fake, admin, f"No active identity #{HUGE}", since=since)
    await send(fake, user, f"/lookup #{HUGE}", "Usage: /lookup N")
    # forged buttons with a huge id: a refusal, nothing else
    answers = len(fake.callback_answers)
    message = candidates(replies)[0]
    fake.push_callback(user, message, f"fb:c:{HUGE}", check_button=False)
    fake.push_callback(admin, message, f"acc:a:{HUGE}", check_button=False)
    await eventually(lambda: len(fake.callback_answers) >= answers + 2)
    assert {a["text"] for a in fake.callback_answers[answers:]} == {
        "You are not allowed to do that."
    }
    assert errors(fake, ADMIN) == [] and errors(fake, user["id"]) == []
    assert bot.state.metrics.errors._value.get() == failures
    assert lookup_id > 0


async def test_names_are_cleaned_and_limited_when_enrolling(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    carla = enrolled.people["Carla"].query
    since = len(fake.sent)
    fake.push_message(admin, photo=carla, caption="/enroll Nul\x00Name | r\u202e1")
    done = await reply(fake, admin, "Added a reference face to", since=since, timeout=60)
    assert "NulName [r1]" in body(done)
    assert [i.display_name for i in await service.gallery.identities.named("NulName")] == [
        "NulName"
    ]

    since = len(fake.sent)
    fake.push_message(admin, photo=carla, caption="/enroll " + "x" * 5000)
    refused = await reply(fake, admin, "too long", since=since)
    assert body(refused) == "The name is too long: at most 200 characters."
    assert await service.gallery.identities.like("xxxxx") == []

    since = len(fake.sent)
    fake.push_message(admin, photo=carla, caption="/enroll \u202e\u2066 | ref")
    empty = await reply(fake, admin, "empty", since=since)
    assert "control and invisible characters" in body(empty)
    assert errors(fake, ADMIN) == []


async def test_identity_search_takes_wildcards_literally(
    fake: FakeBotApi, bot: BotRunner, enrolled: Enrolled, admin: JSON
) -> None:
    await send(fake, admin, "/identity %", "No identity matches “%”")
    await send(fake, admin, "/identity _", "No identity matches “_”")
    await send(fake, admin, "/identity a%s", "No identity matches “a%s”")
    # a plain part of a name still finds it
    alice = enrolled.people["Alice"]
    await send(fake, admin, "/identity lice am", f"Identity #{alice.identity_id}: Alice Ames")


async def test_dates_far_from_now_get_the_usage_reply(
    fake: FakeBotApi, bot: BotRunner, admin: JSON
) -> None:
    await send(fake, admin, "/export 9999-01-01 9999-12-31", "Usage: /export FROM TO")
    await send(fake, admin, "/export 2024-01-01 9999-12-31", "Usage: /export FROM TO")
    await send(fake, admin, "/lookups 9999-12-31", "Usage: /lookups")
    await send(fake, admin, "/lookups 1900-01-01", "Usage: /lookups")
    assert errors(fake, ADMIN) == []


async def test_a_flood_of_access_requests_reaches_admins_as_one_digest(
    fake: FakeBotApi, start_bot: StartBot, admin: JSON
) -> None:
    runner = await start_bot(request_digest_seconds=3600)
    since = len(fake.sent)
    strangers = [stranger_user(fake, f"Flood{n}") for n in range(6)]
    for user in strangers:
        fake.push_message(user, "/start")
    for user in strangers:  # each of them is answered as before
        await reply(fake, user, "sent to the administrators", since=since)
    notifier = runner.state.requests
    assert notifier is not None
    await eventually(lambda: notifier.waiting == 5)
    requests = [m for m in fake.messages_to(ADMIN)[-10:] if "Access request" in body(m)]
    assert len([m for m in fake.sent[since:] if m["chat"]["id"] == ADMIN]) == 1
    first = requests[-1]
    assert buttons(first)[0][1].startswith("acc:a:")

    await notifier.flush()  # the window ends
    digest = await reply(fake, admin, "more access requests", since=since)
    assert body(digest).startswith("5 more access requests since")
    listed = re.findall(r"^(\d+) · Flood\d Tester", body(digest), re.MULTILINE)
    first_id = int(buttons(first)[0][1].split(":")[2])
    assert sorted(int(i) for i in listed) == sorted(
        u["id"] for u in strangers if u["id"] != first_id
    )
    assert "/pending" in body(digest)
    assert len([m for m in fake.sent[since:] if m["chat"]["id"] == ADMIN]) == 2


async def test_admin_views_are_audited_and_admins_are_marked(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    # an officer who calls himself "Ada" (with an override to hide the rest) and "· admin"
    impostor = await officer(fake, service, "Ada\u202e · 🛡 ADMIN")
    await send(fake, admin, "/pending", "")
    listing = await send(fake, admin, "/users", "Users:")
    lines = body(listing).splitlines()
    assert f"{ADMIN} · 🛡 ADMIN · approved · Ada (@ada_admin)" in lines
    mine = next(line for line in lines if line.startswith(f"{impostor['id']} · "))
    assert mine.startswith(f"{impostor['id']} · officer · approved · Ada")
    assert "\u202e" not in body(listing)
    views = [
        a
        for a in await service.gallery.audit.recent(10)
        if a["action"] == "users.list" and a["actor"] == f"tg:{ADMIN}"
    ]
    assert [v["details"]["status"] for v in views[:2]] == [None, "pending"]


async def test_forgetting_in_the_bot_erases_and_restoring_works_within_the_grace_period(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    await start_bot(forget_grace_days=7)
    temp = await service.gallery.identities.create("Grace Person", "test")
    told = await send(fake, admin, f"/forget {temp.id}", f"Identity #{temp.id} (Grace Person)")
    assert f"/restore {temp.id} undoes this" in body(told)
    await send(fake, admin, f"/restore {temp.id}", f"Identity #{temp.id} (Grace Person) was rest")
    restored = await service.gallery.identities.get(temp.id)
    assert restored is not None and not restored.deleted
    await send(fake, admin, f"/restore {temp.id}", "is not forgotten")


async def test_a_match_on_a_face_without_a_picture_is_answered(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    """Bulk imports store no crop; a match on one must not break the reply."""
    query = enrolled.people["Dmytro"].query
    analysis, _ = await service.analysis.analyze(query)
    imported = await service.gallery.identities.create("Imported Twin", "test")
    embedding = np.asarray(analysis.faces[0].embedding, dtype=np.float32)[None, :]
    await service.gallery.faces.import_embeddings(
        service.model,
        [imported.id],
        embedding,
        actor="test",
        recipe=service.analyzer.embedding_recipe,
    )
    try:
        user = await officer(fake, service)
        _, replies = await lookup_replies(fake, user, query)
        shown = [m for m in candidates(replies) if "Imported Twin" in body(m)]
        assert len(shown) == 1
        assert decodes_as_image(shown[0]["_file"])[0] > 224  # the pair, with a blank right half
        assert errors(fake, user["id"]) == []
    finally:
        await service.gallery.identities.forget(imported.id, "test", erase=True)


async def test_admins_get_a_daily_check_point_that_verify_accepts(
    fake: FakeBotApi, fresh_dsn: str, tmp_path: Path, admin: JSON
) -> None:
    settings = bot_settings(fake, fresh_dsn, tmp_path)
    own = await FaceFind.open(settings, actor="test")
    runner = BotRunner(settings, own)
    try:
        await runner.start()
        message = await reply(fake, admin, "Audit log check-point", timeout=60)
        found = re.search(r"verify --head (\d+):([0-9a-f]{32})", body(message))
        assert found is not None
        # within the day: no second message
        since = len(fake.sent)
        await runner.check_audit()
        assert [m for m in fake.sent[since:] if "check-point" in body(m)] == []
    finally:
        await runner.stop()
    try:
        expect = (int(found[1]), found[2])
        verdict = await verify(own.gallery, Witness.of(settings), expect=expect)
        assert verdict.ok, verdict.message
        forged = await verify(own.gallery, Witness.of(settings), expect=(expect[0], "f" * 32))
        assert not forged.ok and "not the ffff" in forged.message
    finally:
        await own.close()
