"""End-to-end: the bot downloads only what it may keep. Files over Telegram's 20 MB or over
FACEFIND_MAX_IMAGE_BYTES are refused before a byte is read when their size is announced, and
a download that passes the limit stops there (the fake Bot API counts what it sent)."""

from __future__ import annotations

from dataclasses import replace

from bot.runner import BotRunner
from facefind.service import FaceFind
from recognition.types import Limits
from tests.botkit import StartBot, answered, body, officer, reply, tom_hanks
from tests.fakebotapi import JSON, FakeBotApi

LIMIT = 256 * 1024  # FACEFIND_MAX_IMAGE_BYTES in these tests
BIG = 12 * 1024 * 1024  # a file far over it, still under Telegram's 20 MB


def limited(max_bytes: int = LIMIT) -> Limits:
    return replace(Limits(), max_image_bytes=max_bytes)


def big_jpeg(size: int) -> bytes:
    """A file that starts like a JPEG and goes on for `size` bytes."""
    return b"\xff\xd8\xff\xe0" + bytes(size - 4)


def push_document(
    fake: FakeBotApi,
    user: JSON,
    data: bytes,
    *,
    file_size: int | None,
    size_known: bool = True,
    caption: str | None = None,
) -> None:
    file_id, unique_id = fake.add_file(
        data, file_size=file_size, file_name="big.jpg", size_known=size_known
    )
    document: JSON = {
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_name": "big.jpg",
        "mime_type": "image/jpeg",
    }
    if size_known:
        document["file_size"] = fake.files[file_id].file_size
    fake.push_message(
        user,
        document=(b"placeholder", "big.jpg", "image/jpeg"),
        caption=caption,
        extra={"document": document},
    )


async def only_lookup_error(service: FaceFind, user: JSON) -> str | None:
    [listed] = await service.gallery.lookups.recent(user_id=user["id"])
    return (await answered(service, listed.id)).error


async def test_a_document_over_20_mb_is_refused_without_downloading(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind
) -> None:
    user = await officer(fake, service)
    push_document(fake, user, b"\xff\xd8\xff" + b"0" * 1024, file_size=25 * 1024 * 1024)
    refusal = await reply(fake, user, "larger than the 20 MB")
    assert "send it as a photo" in body(refusal)
    assert fake.calls_of("getFile") == []
    assert fake.downloads == []
    assert await only_lookup_error(service, user) == "file_too_big"


async def test_an_image_announced_over_the_byte_limit_is_refused_without_downloading(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot(limits=limited())
    user = await officer(fake, service)
    push_document(fake, user, big_jpeg(BIG), file_size=None)
    await reply(fake, user, "larger than the configured limit")
    assert fake.calls_of("getFile") == []
    assert fake.downloads == []
    assert await only_lookup_error(service, user) == "too_large"


async def test_a_download_that_passes_the_byte_limit_stops_there(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    await start_bot(limits=limited())
    user = await officer(fake, service)
    # no message, getFile answer or Content-Length says how large it is: only counting the
    # bytes as they come can stop it
    push_document(fake, user, big_jpeg(BIG), file_size=None, size_known=False)
    await reply(fake, user, "larger than the configured limit")
    assert await only_lookup_error(service, user) == "too_large"
    [download] = fake.downloads  # refused for good: not tried again
    assert not download.complete
    # what the server had written when the bot hung up: the limit, and what the sockets
    # between the two held (about twice the limit here); far from the whole file
    assert LIMIT < download.sent < BIG // 8, download.sent


async def test_a_photo_within_the_byte_limit_is_downloaded_whole_and_answered(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind
) -> None:
    photo = tom_hanks()
    await start_bot(limits=limited(len(photo)))  # exactly at the limit is allowed
    user = await officer(fake, service)
    fake.push_message(user, photo=photo)
    await reply(fake, user, "Lookup #", timeout=60)
    assert [d.complete for d in fake.downloads] == [True]
    assert await only_lookup_error(service, user) is None


async def test_an_enrollment_download_stops_at_the_byte_limit_too(
    fake: FakeBotApi, start_bot: StartBot, service: FaceFind, admin: JSON
) -> None:
    await start_bot(limits=limited())
    push_document(
        fake, admin, big_jpeg(BIG), file_size=None, size_known=False, caption="/enroll Big File"
    )
    await reply(fake, admin, "larger than the configured limit")
    [download] = fake.downloads
    assert not download.complete and download.sent < BIG // 8
    assert await service.gallery.identities.named("Big File") == []
