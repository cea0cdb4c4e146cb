"""End-to-end: administrator commands for the gallery: enrollment by reply and by caption (not
for officers), an identity shown with its faces, forgotten."""

from __future__ import annotations

from bot.runner import BotRunner
from facefind.service import FaceFind
from tests import images
from tests.botkit import (
    JSON,
    Enrolled,
    body,
    candidates,
    decodes_as_image,
    lookup_replies,
    officer,
    reply,
    send,
    tom_hanks,
)
from tests.fakebotapi import FakeBotApi


# --- enrollment by an administrator -----------------------------------------------------------
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


async def test_admin_shows_an_identity_with_its_faces(
    fake: FakeBotApi, bot: BotRunner, enrolled: Enrolled, admin: JSON
) -> None:
    alice = enrolled.people["Alice"]
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
    temp = await service.gallery.identities.create("Temporary Person", "test")
    await send(
        fake, admin, f"/forget {temp.id}", f"Identity #{temp.id} (Temporary Person) was removed"
    )
    forgotten = await service.gallery.identities.get(temp.id)
    assert forgotten is not None and forgotten.deleted
    await send(fake, admin, f"/forget {temp.id}", f"No active identity #{temp.id}")
    card = await send(fake, admin, f"/identity {temp.id}", f"Identity #{temp.id}")
    assert "Forgotten:" in body(card)
