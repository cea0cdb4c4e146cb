"""End-to-end: administrator commands for users: listing, approving, revoking, digests of
access requests, promotion, two admins at once, ADMIN_IDS; a long user list arrives whole."""

from __future__ import annotations

import pytest

from bot.runner import BotRunner
from facefind.service import FaceFind
from tests.botkit import (
    ADMIN,
    JSON,
    Enrolled,
    StartBot,
    body,
    buttons,
    eventually,
    lookup_replies,
    new_user_id,
    officer,
    reply,
    send,
    stranger_user,
)
from tests.fakebotapi import FakeBotApi

# --- administrator commands ------------------------------------------------------------------


async def test_admin_lists_approves_and_revokes_users(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
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
    await lookup_replies(fake, user, enrolled.people["Boris"].query)

    since = len(fake.sent)
    fake.push_message(admin, f"/revoke {user['id']}")
    done = await reply(fake, admin, f"User {user['id']}", since=since)
    assert body(done).endswith("officer, revoked.")
    await reply(fake, user, "Your access has been revoked.", since=since)

    files_before = len(fake.calls_of("getFile"))
    since = len(fake.sent)
    fake.push_message(user, photo=enrolled.people["Boris"].query)
    await reply(fake, user, "Access denied.", since=since)  # the gate answered: nothing follows
    assert len(fake.calls_of("getFile")) == files_before
    assert len(await service.gallery.lookups.recent(user_id=user["id"])) == 1

    usage = await send(fake, admin, "/approve nobody", "Usage: /approve <user id>")
    assert usage["reply_to_message"]["text"] == "/approve nobody"
    await send(fake, admin, "/approve 999999999", "No user with id 999999999")


async def test_a_digest_of_access_requests_has_a_decision_row_per_user(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, admin: JSON
) -> None:
    runner = await start_bot(request_digest_seconds=3600)
    first, second, third = (stranger_user(fake, name) for name in ("Yana", "Zenon", "Vira"))
    since = len(fake.sent)
    fake.push_message(first, "/start")
    await reply(fake, admin, f"User id: {first['id']}", since=since)
    for user in (second, third):  # within the window: they wait for the digest
        fake.push_message(user, "/start")
        await reply(fake, user, "sent to the administrators", since=since)
    notifier = runner.state.requests
    assert notifier is not None
    await eventually(lambda: notifier.waiting == 2)
    await notifier.flush()  # what the window's end does
    digest = await reply(fake, admin, "more access requests", since=since)
    assert buttons(digest) == [
        (f"✅ Approve {second['id']} · Zenon Tester", f"acc:da:{second['id']}"),
        (f"❌ Reject {second['id']}", f"acc:dr:{second['id']}"),
        (f"✅ Approve {third['id']} · Vira Tester", f"acc:da:{third['id']}"),
        (f"❌ Reject {third['id']}", f"acc:dr:{third['id']}"),
    ]
    rows = digest["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in rows] == [2, 2]  # one row per user

    since = len(fake.sent)
    fake.push_callback(admin, digest, f"acc:da:{second['id']}")
    await reply(fake, second, "Your access has been approved", since=since)
    approved = await service.gallery.users.get(second["id"])
    assert approved is not None and approved.status == "approved"
    assert approved.decided_by == f"tg:{ADMIN}"
    waiting = await service.gallery.users.get(third["id"])
    assert waiting is not None and waiting.status == "pending"
    edited = fake.message(ADMIN, digest["message_id"])
    assert edited is not None
    assert f"{second['id']}: approved by Ada (@ada_admin)." in body(edited)
    assert f"{third['id']} · Vira Tester" in body(edited)  # the list is still there
    assert [d for _, d in buttons(edited)] == [f"acc:da:{third['id']}", f"acc:dr:{third['id']}"]

    since = len(fake.sent)
    fake.push_callback(admin, edited, f"acc:dr:{third['id']}")
    await reply(fake, third, "Your access request was rejected", since=since)
    rejected = await service.gallery.users.get(third["id"])
    assert rejected is not None and rejected.status == "rejected"
    closed = fake.message(ADMIN, digest["message_id"])
    assert closed is not None and "reply_markup" not in closed
    assert f"{third['id']}: rejected by Ada (@ada_admin)." in body(closed)


async def test_admin_promotes_and_demotes_but_not_themselves(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    user = await officer(fake, service, "Roman")
    scope = {"type": "chat", "chat_id": user["id"]}

    done = await send(fake, admin, f"/promote {user['id']}", f"User {user['id']}")
    assert body(done).endswith("admin, approved.")
    assert "pending" in [c["command"] for c in fake.commands_for(scope)]
    promoted = await service.gallery.users.get(user["id"])
    assert promoted is not None and promoted.is_admin
    # the new admin can use admin commands
    await send(fake, user, "/pending", "")

    done = await send(fake, admin, f"/demote {user['id']}", f"User {user['id']}")
    assert body(done).endswith("officer, approved.")
    assert fake.commands_for(scope) == []
    await send(fake, user, "/pending", "This command is for administrators.")

    await send(fake, admin, f"/demote {ADMIN}", "You cannot do that to yourself")
    me = await service.gallery.users.get(ADMIN)
    assert me is not None and me.is_admin
    # an officer cannot use the admin commands at all
    await send(fake, user, f"/promote {user['id']}", "This command is for administrators.")


async def second_admin(
    fake: FakeBotApi, service: FaceFind, name: str, language: str = "en"
) -> JSON:
    """Another approved admin, made so by ADMIN."""
    user = await officer(fake, service, name, language=language)
    await service.gallery.users.set_role(user["id"], "admin", f"tg:{ADMIN}")
    return user


async def decisions_on(service: FaceFind, user_id: int) -> list[tuple[str, str]]:
    rows = await service.gallery.pool.fetch(
        "SELECT actor, action FROM audit_log WHERE target = $1 AND action <> 'user.request_access' "
        "ORDER BY id",
        f"user:{user_id}",
    )
    return [(r["actor"], r["action"]) for r in rows]


async def test_two_admins_pressing_on_one_request_at_once_one_decides_the_other_is_told(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    other = await second_admin(fake, service, "Bohdan")
    await send(fake, admin, "/status", "")  # Ada is known by name
    asker = stranger_user(fake, "Marta")
    fake.push_message(asker, "/start")
    mine = await reply(fake, admin, f"User id: {asker['id']}")
    theirs = await reply(fake, other, f"User id: {asker['id']}")

    since, answered_before = len(fake.sent), len(fake.callback_answers)
    approve = fake.push_callback(admin, mine, f"acc:a:{asker['id']}")
    reject = fake.push_callback(other, theirs, f"acc:r:{asker['id']}")
    await eventually(lambda: len(fake.callback_answers) >= answered_before + 2)
    answers = {a["callback_query_id"]: a for a in fake.callback_answers[answered_before:]}

    stored = await service.gallery.users.get(asker["id"])
    assert stored is not None and stored.status in ("approved", "rejected")
    labels = {ADMIN: "Ada (@ada_admin)", other["id"]: f"Bohdan (@user{other['id']})"}
    pressed = {"approved": (approve, admin), "rejected": (reject, other)}
    won, winner = pressed[stored.status]
    lost, _ = pressed["rejected" if stored.status == "approved" else "approved"]
    assert stored.decided_by == f"tg:{winner['id']}"
    assert answers[won["callback_query"]["id"]]["text"] == stored.status
    told = answers[lost["callback_query"]["id"]]
    assert told["text"] == f"Already decided: {stored.status} by {labels[winner['id']]}."
    assert told["show_alert"] is True
    # one decision audited, the asker told once, both copies of the request show it
    assert await decisions_on(service, asker["id"]) == [
        (f"tg:{winner['id']}", f"user.{stored.status}")
    ]
    notices = [m for m in fake.sent[since:] if m["chat"]["id"] == asker["id"]]
    assert len(notices) == 1
    for who, request in ((admin, mine), (other, theirs)):
        shown = fake.message(who["id"], request["message_id"])
        assert shown is not None and "reply_markup" not in shown
        assert f"Decision: {stored.status} by {labels[winner['id']]}." in body(shown)


async def test_a_late_reject_or_revoke_command_says_who_decided_and_changes_nothing(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    other = await second_admin(fake, service, "Bohdan")
    await send(fake, admin, "/status", "")
    user = await officer(fake, service, "Roksana")  # approved by Ada
    done = await send(fake, other, f"/reject {user['id']}", "Already decided by Ada (@ada_admin)")
    assert body(done) == (
        f"Already decided by Ada (@ada_admin): user {user['id']} (Roksana (@user{user['id']})) is "
        "officer, approved. Nothing changed."
    )
    stored = await service.gallery.users.get(user["id"])
    assert stored is not None and stored.status == "approved" and stored.decided_by == f"tg:{ADMIN}"

    asker = stranger_user(fake, "Taras")
    fake.push_message(asker, "/start")
    await reply(fake, admin, f"User id: {asker['id']}")
    await send(fake, other, f"/revoke {asker['id']}", f"Nothing to change: user {asker['id']}")
    assert await decisions_on(service, asker["id"]) == []


async def test_revoking_or_demoting_an_admin_listed_in_admin_ids_says_it_will_not_last(
    fake: FakeBotApi,
    start_bot: StartBot,
    service: FaceFind,
    admin: JSON,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listed = await officer(fake, service, "Lina")
    runner = await start_bot(admin_ids=(ADMIN, listed["id"]))
    promoted = await service.gallery.users.get(listed["id"])
    assert promoted is not None and promoted.is_admin
    note = (
        f"⚠ User {listed['id']} is listed in ADMIN_IDS and will be made an approved admin again "
        "at the bot's next start. To make this last, remove them from ADMIN_IDS."
    )
    done = await send(fake, admin, f"/revoke {listed['id']}", f"User {listed['id']}")
    assert body(done).endswith("admin, revoked.\n\n" + note)

    # the next start makes them admin again, and the log says whose decision it undid
    await runner.stop()
    caplog.clear()
    runner = await start_bot(admin_ids=(ADMIN, listed["id"]))
    again = await service.gallery.users.get(listed["id"])
    assert again is not None and again.is_admin
    assert (
        f"ADMIN_IDS makes user {listed['id']} an approved admin again, undoing the last decision "
        f"on them (admin, revoked, by tg:{ADMIN}" in caplog.text
    )
    assert "remove them from ADMIN_IDS to keep it" in caplog.text

    # a Ukrainian admin demotes them: the same warning, in Ukrainian
    ukrainian = await second_admin(fake, service, "Олена", language="uk")
    done = await send(fake, ukrainian, f"/demote {listed['id']}", f"Користувач {listed['id']}")
    assert f"⚠ Користувач {listed['id']} є в ADMIN_IDS" in body(done)
    assert "вилучіть його з ADMIN_IDS" in body(done)
    # a user who is not listed: no such note
    plain = await second_admin(fake, service, "Petro")
    done = await send(fake, admin, f"/demote {plain['id']}", f"User {plain['id']}")
    assert "ADMIN_IDS" not in body(done)
    # making someone admin who was never decided on is what ADMIN_IDS is for: no warning
    newcomer = new_user_id()
    await service.gallery.users.seen(newcomer, "Nina", None, None, "en")
    await runner.stop()
    caplog.clear()
    await start_bot(admin_ids=(ADMIN, newcomer))
    made = await service.gallery.users.get(newcomer)
    assert made is not None and made.is_admin
    assert "ADMIN_IDS makes user" not in caplog.text


async def test_a_long_user_list_arrives_whole_in_several_messages(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, admin: JSON
) -> None:
    many = [new_user_id() for _ in range(120)]
    for uid in many:
        await service.gallery.users.seen(uid, "Officer", f"Number {uid}", f"officer_{uid}", "en")
        await service.gallery.users.set_status(uid, "approved", "test")

    since = len(fake.sent)
    fake.push_message(admin, "/users")
    await reply(fake, admin, f"{many[-1]} · officer · approved · Officer Number", since=since)

    listing = "\n".join(body(m) for m in fake.messages_to(ADMIN)[-10:] if "Officer" in body(m))
    for uid in many:
        assert f"{uid} · officer · approved · Officer Number {uid} (@officer_{uid})" in listing
