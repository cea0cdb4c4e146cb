"""What the handlers share: replies within Telegram's limits, button data and images read from
updates, the admin check (the service's rule), and a lookup's outcome in words."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import PurePath
from typing import Any

from telegram import Message, Update
from telegram.constants import MessageLimit

from bot.context import BotContext
from bot.texts import t
from facefind.access.rules import may_administer
from facefind.user_input import parse_id

# iPhones send photos as HEIC files; some clients name them .heif, or send no MIME type
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}
CLIP_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".gif"}

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(handler: Handler) -> Handler:
    """Run the handler only for a sender who is an approved admin right now."""

    @wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
        if not may_administer(context.sender):
            context.state.metrics.refused.labels("not_admin").inc()
            if update.callback_query is not None:
                await update.callback_query.answer(t(context.lang, "not_allowed"), show_alert=True)
            else:
                await reply(update, t(context.lang, "admin_only"))
            return
        await handler(update, context)

    return wrapper


def image_of(message: Message) -> tuple[str, int | None] | None:
    """(file id, size) of the photo or image document in a message (HEIC/HEIF included, by
    MIME type or by suffix); None if neither. A GIF is a clip."""
    if message.photo:
        largest = message.photo[-1]
        return largest.file_id, largest.file_size
    doc = message.document
    if doc is None or message.animation is not None or clip_of(message) is not None:
        return None
    suffix = PurePath(doc.file_name or "").suffix.lower()
    if (doc.mime_type or "").startswith("image/") or suffix in IMAGE_SUFFIXES:
        return doc.file_id, doc.file_size
    return None


def clip_of(message: Message) -> tuple[str, int | None, str] | None:
    """(file id, size, media) of a video, video note, GIF animation, or a video or GIF sent as
    a file; None if the message holds none. Media: video | video_note | animation."""
    if message.video_note is not None:
        return message.video_note.file_id, message.video_note.file_size, "video_note"
    if message.animation is not None:
        return message.animation.file_id, message.animation.file_size, "animation"
    if message.video is not None:
        return message.video.file_id, message.video.file_size, "video"
    doc = message.document
    if doc is None:
        return None
    mime = (doc.mime_type or "").lower()
    suffix = PurePath(doc.file_name or "").suffix.lower()
    if mime == "image/gif" or (suffix == ".gif" and not mime.startswith("video/")):
        return doc.file_id, doc.file_size, "animation"
    if mime.startswith("video/") or suffix in CLIP_SUFFIXES:
        return doc.file_id, doc.file_size, "video"
    return None


def parse_callback(data: str | None, kinds: dict[str, str]) -> tuple[str, int] | None:
    """'prefix:kind:id' button data to (meaning of kind, id); None for anything else, since
    callback data comes from the client and can be forged (fb:c:99999999999999999999)."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[1] not in kinds:
        return None
    found = parse_id(parts[2])
    return (kinds[parts[1]], found) if found is not None else None


def lookup_outcome(lang: str, status: str, top: str | None) -> str:
    if status != "done":
        return t(lang, f"lookup_status_{status}")
    return top or t(lang, "no_candidates")


async def reply(update: Update, text: str, **kwargs: object) -> None:
    """Answer the update's message; a text over Telegram's limit goes as several messages."""
    message = update.effective_message
    if message is None:
        return
    parts = split_text(text)
    for number, part in enumerate(parts, 1):
        extra = kwargs if number == len(parts) else {}  # buttons go under the last part
        await message.reply_text(part, do_quote=True, **extra)  # type: ignore[arg-type]


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut a text into parts Telegram accepts, at line ends where possible.

    Telegram counts UTF-16 code units, so an emoji counts twice. /users passes the limit at
    about a hundred users, /lookups with a page of group photos.
    """

    def size(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while size(line) > limit:  # one line too long for a message: cut it
            cut = limit
            while size(line[:cut]) > limit:
                cut -= 1
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if current and size(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip() or not parts:
        parts.append(current)
    return parts
