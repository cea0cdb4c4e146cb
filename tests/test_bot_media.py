"""What phones send, through the real bot and the fake Bot API: an album is one lookup with one
reply and an /enroll caption enrolls all its photos, a round video note is answered with the
person's best frame, an iPhone's HEIC file is answered, a crowd photo says how many faces were
not searched, and an edited message gets a note instead of silence. One bot for the module."""

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
    candidates,
    lookup_replies,
    officer,
    reply,
    running_bot,
)
from tests.fakebotapi import JSON, FakeBotApi
from tests.media import clip_bytes, heic_bytes, on_canvas, still_frames


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture(scope="module")
async def running(
    api: FakeBotApi, service: FaceFind, enrolled: Enrolled, module_dsn: str, data_dir: Path
) -> AsyncIterator[BotRunner]:
    """The bot, with a short wait for an album's parts."""
    async with running_bot(api, service, module_dsn, data_dir, album_wait=0.3) as runner:
        yield runner


def variants(
    analysis_image: np.ndarray, bbox: tuple[float, float, float, float], n: int
) -> list[bytes]:
    """`n` different photos of one face, as a phone's burst would give: other crops, sizes."""
    return [
        images.to_jpeg(
            images.resize(images.crop_around(analysis_image, bbox, 0.7 + 0.15 * k), 0.9 - 0.1 * k),
            88 - 4 * k,
        )
        for k in range(n)
    ]


async def t1_face(
    service: FaceFind, index: int
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    t1 = images.read_image(images.T1)
    analysis, _ = await service.analysis.analyze(images.read_bytes(images.T1))
    return t1, analysis.faces[index - 1].bbox


def push_album(
    fake: FakeBotApi, user: JSON, photos: list[bytes], group: str, caption: str | None = None
) -> None:
    for k, photo in enumerate(photos):
        fake.push_message(
            user, photo=photo, caption=caption if k == 0 else None, media_group_id=group
        )


async def test_an_album_of_three_photos_is_one_lookup_with_one_reply(
    api: FakeBotApi, running: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    boris = enrolled.people["Boris"]
    t1, bbox = await t1_face(service, boris.face_index)
    user = await officer(api, service)
    since = len(api.sent)
    push_album(api, user, variants(t1, bbox, 3), "album-boris")
    summary = await reply(api, user, "Lookup #", since=since, timeout=60)
    assert "an album of 3 photos · people: 1" in body(summary)
    replies = [m for m in api.sent[since:] if m["chat"]["id"] == user["id"]]
    [candidate] = candidates(replies)
    assert boris.name in body(candidate)
    assert "Face #1 is in 3 of the album's photos" in body(candidate)
    # one lookup for the three messages, and one reply: no second "Lookup #"
    rows = await service.gallery.pool.fetch(
        "SELECT id, media FROM lookups WHERE chat_id = $1", user["id"]
    )
    assert [r["media"] for r in rows] == ["album"]
    assert sum("Lookup #" in body(m) for m in replies) == 1


async def test_an_album_with_an_enroll_caption_enrolls_every_photo(
    api: FakeBotApi, running: BotRunner, service: FaceFind
) -> None:
    admin = api.user(ADMIN, "Ada", "ada_admin")
    tom = images.read_image(images.TOM_HANKS)
    photos = [
        images.to_jpeg(images.resize(tom, 0.95), 90),
        images.to_jpeg(images.flip(tom), 85),
        images.to_jpeg(tom, 75),
    ]
    since = len(api.sent)
    push_album(api, admin, photos, "album-tom", caption="/enroll Tom Hanks | REF-TH")
    done = await reply(api, admin, "Album:", since=since, timeout=60)
    assert "3 of 3 photos enrolled for Tom Hanks [REF-TH]" in body(done)
    [identity] = await service.gallery.identities.named("Tom Hanks")
    assert len(await service.gallery.faces.of_identity(identity.id)) == 3


async def test_a_video_note_of_a_face_is_answered_with_its_best_frame(
    api: FakeBotApi, running: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    carla = enrolled.people["Carla"]
    t1, bbox = await t1_face(service, carla.face_index)
    square = on_canvas(images.crop_around(t1, bbox, 0.6), 240, 240)
    note = clip_bytes(still_frames(square, seconds=1.5, fps=10, drift_px=6))
    user = await officer(api, service)
    lookup_id, replies = await lookup_replies(api, user, clip=("video_note", note))
    frame = next(m for m in replies if "the best frame" in body(m))
    assert "photo" in frame and frame["caption"].startswith("Face #1: the best frame, at 0:")
    [candidate] = candidates(replies)
    assert carla.name in body(candidate)
    assert "a clip · people: 1" in body(replies[-1])
    stored = await service.gallery.lookups.get(lookup_id)
    assert stored is not None and stored.media == "video_note" and stored.faces[0].has_frame


async def test_an_iphone_heic_file_is_answered_by_mime_type_and_by_suffix(
    api: FakeBotApi, running: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    dmytro = enrolled.people["Dmytro"]
    t1, bbox = await t1_face(service, dmytro.face_index)
    heic = heic_bytes(images.crop_around(t1, bbox, 0.8), orientation=6)
    user = await officer(api, service)
    for name, mime in (
        ("IMG_0042.HEIC", "image/heic"),
        ("IMG_0043.heic", "application/octet-stream"),
    ):
        _, replies = await lookup_replies(api, user, document=(heic, name, mime))
        [candidate] = candidates(replies)
        assert dmytro.name in body(candidate)


async def test_a_crowd_photo_says_how_many_faces_were_not_searched(
    api: FakeBotApi, running: BotRunner, service: FaceFind
) -> None:
    t1 = images.read_image(images.T1)
    crowd = images.to_jpeg(np.hstack([t1, t1]), 90)  # 12 faces; FACEFIND_MAX_FACES is 10
    user = await officer(api, service)
    lookup_id, replies = await lookup_replies(api, user, crowd)
    assert "2 more faces were found but not searched (at most 10 a photo" in body(replies[-1])
    stored = await service.gallery.lookups.get(lookup_id)
    assert stored is not None and stored.faces_left_out == 2 and len(stored.faces) == 10


async def test_an_edited_message_is_answered_with_a_note(
    api: FakeBotApi, running: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    user = await officer(api, service)
    since = len(api.sent)
    sent = api.push_message(user, photo=enrolled.people["Alice"].query)["message"]
    summary = await reply(api, user, "Lookup #", since=since, timeout=60)
    lookup_id = body(summary).split("Lookup #")[1].split(" ")[0]
    since = len(api.sent)
    api.push_edit(sent, caption="who is this?")
    note = await reply(api, user, "You edited a message I already answered", since=since)
    assert f"(lookup #{lookup_id})" in body(note) and "send the photo again" in body(note)
    # a command edited is not run again
    command = api.push_message(user, "/history")["message"]
    await reply(api, user, "Your last lookups", since=since)
    since = len(api.sent)
    api.push_edit(command, text="/help")
    await reply(api, user, "Edited commands are not run again", since=since)
    assert not any("How to use" in body(m) or "Send a photo" in body(m) for m in api.sent[since:])
    # and the photo was looked up once
    count = await service.gallery.pool.fetchval(
        "SELECT count(*) FROM lookups WHERE chat_id = $1", user["id"]
    )
    assert count == 1
