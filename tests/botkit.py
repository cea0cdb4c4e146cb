"""The bot's end-to-end kit, shared by the test_bot* modules (registered in conftest): four
t1.jpg people enrolled, the bot started against the fake Bot API, and helpers to talk as
users and read what the bot sent."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.runner import BotRunner
from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import Lookup
from recognition import Analysis
from tests import images
from tests.conftest import db_settings
from tests.fakebotapi import JSON, FakeBotApi

ADMIN = 1

# Every test talks as users of its own, so tests sharing the module's gallery stay independent.
_user_ids = itertools.count(5001)


def new_user_id() -> int:
    """A Telegram user id no other test of the run uses."""
    return next(_user_ids)


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
class Enrolled:
    t1: bytes
    people: dict[str, Person]  # by first name
    stranger: bytes  # a face that is in no identity


@pytest.fixture(scope="module")
async def enrolled(service: FaceFind) -> Enrolled:
    """Four t1.jpg people enrolled from crops; t1 faces #3 (turned away) and #6 left out."""
    t1 = images.read_bytes(images.T1)
    analysis, _ = await service.analysis.analyze(t1)
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
        result = await service.enroller.enroll(
            face_crop(analysis, index, margin=0.6), spec, requester
        )
        assert result.face_id is not None
        query = face_crop(analysis, index, margin=0.9, scale=0.75, quality=70)
        people[first] = Person(spec.name, ref, result.identity.id, index, query)
    # a second reference face, so /identity has an album to show
    closer = face_crop(analysis, 1, margin=0.4, scale=1.25)
    second = await service.enroller.enroll(closer, IdentitySpec("Alice Ames", "REF-1"), requester)
    assert second.identity.id == people["Alice"].identity_id and second.face_id is not None
    stranger = face_crop(analysis, 6, margin=0.9, scale=0.75, quality=70)
    return Enrolled(t1, people, stranger)


# --- the bot ----------------------------------------------------------------------------------
StartBot = Callable[..., Awaitable[BotRunner]]


def bot_settings(fake: FakeBotApi, dsn: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a bot on `dsn` that talks to the fake Bot API, with ADMIN as its admin."""
    values: dict[str, Any] = {
        "telegram_bot_token": fake.token,
        "telegram_api_url": fake.url,
        "admin_ids": (ADMIN,),
        "http_listen": "127.0.0.1:0",
    }
    return Settings(**db_settings(dsn, data_dir), **(values | overrides))


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeBotApi, service: FaceFind, dsn: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[BotRunner]:
    """A BotRunner polling the fake Bot API (settings as `bot_settings` makes them), stopped
    when the block ends: a module's one bot."""
    runner = BotRunner(bot_settings(fake, dsn, data_dir, **overrides), service)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def start_bot(
    fake: FakeBotApi, service: FaceFind, enrolled: Enrolled, module_dsn: str, data_dir: Path
) -> AsyncIterator[StartBot]:
    """Start a BotRunner in polling mode (or as the overrides say); stopped after the test."""
    runners: list[BotRunner] = []

    async def start(**overrides: Any) -> BotRunner:
        settings = bot_settings(fake, module_dsn, data_dir, **overrides)
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
    uid = new_user_id()
    user = fake.user(uid, first_name, f"user{uid}", language)
    await service.gallery.users.seen(uid, first_name, None, f"user{uid}", language)
    await service.gallery.users.set_status(uid, "approved", f"tg:{ADMIN}")
    return user


def stranger_user(fake: FakeBotApi, first_name: str = "Ivan", *, language: str = "en") -> JSON:
    uid = new_user_id()
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
        stored = await service.gallery.lookups.get(lookup_id)
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


async def send(fake: FakeBotApi, user: JSON, text: str, contains: str) -> JSON:
    since = len(fake.sent)
    fake.push_message(user, text)
    return await reply(fake, user, contains, since=since)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
