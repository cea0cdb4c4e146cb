"""End-to-end: the gate. Access requests and the admin's answer, unapproved users, forged
callbacks."""

from __future__ import annotations

from bot.runner import BotRunner
from facefind.service import FaceFind
from tests.botkit import (
    ADMIN,
    JSON,
    Enrolled,
    body,
    buttons,
    candidates,
    eventually,
    lookup_replies,
    officer,
    reply,
    stranger_user,
)
from tests.fakebotapi import FakeBotApi


# --- access requests -------------------------------------------------------------------------
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


# --- unapproved users -------------------------------------------------------------------------
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


# --- forged callbacks -------------------------------------------------------------------------
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
