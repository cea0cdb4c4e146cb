"""Albums (Telegram media groups): each photo comes as its own update with the same
media_group_id. Every part is recorded; the handler of the last part to arrive waits until no
other came for FACEFIND_ALBUM_WAIT_SECONDS, then takes the album: as one lookup of all its
photos, or, with an /enroll caption on one of them, as an enrollment of all of them.

Waiting is durable: a part's update is marked handled only when its handler returns (the
inbox), so a process that dies while waiting handles it again at its next start, and the album
is taken then. A part that comes after its album was taken is a photo of its own."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Update
from telegram.ext import filters

from bot.context import BotContext
from bot.delivery.replies import chat_action, reasons_text
from bot.delivery.telegram_io import FileTooBig, download
from bot.handlers import officer
from bot.handlers.admin_gallery import bad_input_text, parse_enroll
from bot.handlers.common import clip_of, image_of, reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.access.rules import may_administer
from facefind.enroll.photo import IdentitySpec, clean_spec
from facefind.errors import (
    AmbiguousFaces,
    AmbiguousIdentity,
    EnrollRefused,
    FaceFindError,
    FaceIndexOutOfRange,
    NoFaceFound,
    PoorReference,
)
from facefind.runtime.task_queue import defer_lookup
from facefind.user_input import BadInput
from gallery import Identity
from gallery.albums import Album
from recognition import ImageError

logger = logging.getLogger(__name__)


class InAlbum(filters.MessageFilter):
    """A message that is part of a media group."""

    def filter(self, message: object) -> bool:
        return bool(getattr(message, "media_group_id", None))


IN_ALBUM = InAlbum(name="InAlbum")
# waits for an album to be quiet, by the handler of its last part (the clock of the database
# may run a little apart from this process's)
TRIES = 5


def enroll_caption(album: Album) -> str | None:
    """The /enroll caption of one of the album's photos (Telegram puts an album's caption on
    one of them), if any."""
    for part in album.parts:
        if part.caption and part.caption.lstrip().lower().startswith("/enroll"):
            return part.caption
    return None


async def album_part(update: Update, context: BotContext) -> None:
    """Record a photo of an album; the album is answered once, when it is complete."""
    message = update.effective_message
    assert message is not None and context.sender is not None
    found = image_of(message)
    if found is None:
        # a video of a mixed album, or a file that is not an image: on its own
        if clip_of(message) is not None:
            await officer.clip(update, context)
        else:
            await reply(update, t(context.lang, "not_image"))
        return
    state = context.state
    albums = context.service.gallery.albums
    added = await albums.add_part(
        chat_id=message.chat_id,
        media_group_id=str(message.media_group_id),
        user_id=context.sender.id,
        language=context.lang,
        message_id=message.message_id,
        update_id=update.update_id,
        file_id=found[0],
        file_size=found[1],
        caption=message.caption,
    )
    album = added.album
    if album.taken_at is not None:
        if added.new:  # after the album was taken: a photo of its own
            limit = state.settings.limits.max_image_bytes
            await officer.record_lookup(update, context, found[0], found[1], "photo", limit)
        else:  # handled again after a crash: finish what the taking started
            await resume(update, context, album)
        return
    wait = timedelta(seconds=state.settings.album_wait)
    for _ in range(TRIES):
        await asyncio.sleep(wait.total_seconds())
        now = await albums.get(album.id)
        if now is None or now.taken_at is not None:
            return  # taken by the handler of another of its parts
        latest = max(now.parts, key=lambda p: (p.arrived_at, p.message_id))
        if latest.message_id != message.message_id:
            return  # a later part's handler takes it
        if await take(update, context, now, wait):
            return
    logger.warning("album %s could not be taken after %d tries", album.id, TRIES)


async def take(update: Update, context: BotContext, album: Album, wait: timedelta) -> bool:
    """Take the album as one lookup or one enrollment; False when it cannot be taken yet."""
    message = update.effective_message
    assert message is not None and context.sender is not None
    state = context.state
    service = context.service
    requester = Requester.telegram(context.sender.id)
    purpose = "enroll" if enroll_caption(album) is not None else "lookup"
    if purpose == "lookup":
        limit = state.settings.rate_limit_per_hour
        if limit and await service.identifier.lookups_in_last_hour(context.sender.id) >= limit:
            state.metrics.refused.labels("rate_limited").inc()
            purpose = "refused"
    taken = await service.gallery.albums.take(
        album,
        taker=message.message_id,
        purpose=purpose,
        wait=wait,
        actor=requester.actor,
        update_id=update.update_id,
    )
    if not taken:
        return False
    await resume(update, context, await service.gallery.albums.get(album.id) or album)
    return True


async def resume(update: Update, context: BotContext, album: Album) -> None:
    """What follows the take: the lookup's job queued (again: harmless), the enrollment done
    and answered by the handler that took it, a refusal told."""
    message = update.effective_message
    assert message is not None
    if album.purpose == "lookup" and album.lookup_id is not None:
        await defer_lookup(context.state.queue, album.lookup_id)
    elif album.taken_by != message.message_id or album.done_at is not None:
        return
    elif album.purpose == "refused":
        limit = context.state.settings.rate_limit_per_hour
        await reply(update, t(context.lang, "rate_limited", limit=limit))
        await context.service.gallery.albums.done(album.id)
    elif album.purpose == "enroll":
        await enroll_album(update, context, album)
        await context.service.gallery.albums.done(album.id)


async def enroll_album(update: Update, context: BotContext, album: Album) -> None:
    """Enroll every photo of an album for the identity its caption names; one reply."""
    lang = context.lang
    if not may_administer(context.sender):
        await reply(update, t(lang, "admin_only"))
        return
    assert context.sender is not None
    parsed = parse_enroll(enroll_caption(album) or "")
    if parsed is None or parsed[2] is not None:
        await reply(update, t(lang, "enroll_usage"))  # a face number cannot hold for every photo
        return
    name, ref, _ = parsed
    try:
        target: Identity | IdentitySpec = clean_spec(IdentitySpec(name, ref))
    except BadInput as exc:
        await reply(update, bad_input_text(lang, exc))
        return
    service = context.service
    requester = Requester.telegram(context.sender.id)
    limit = context.state.settings.limits.max_image_bytes
    problems: list[str] = []
    enrolled = 0
    message = update.effective_message
    assert message is not None
    async with chat_action(context.bot, message.chat_id):
        for n, part in enumerate(album.parts, start=1):
            problem = None
            try:
                if part.file_id is None:
                    raise FileTooBig(None, limit)
                data = await download(context.bot, part.file_id, part.file_size, limit)
                result = await service.enroller.enroll(data, target, requester)
                target = result.identity  # the next photos go to the same identity
                if result.face_id is None:
                    problem = t(lang, "album_enroll_already")
                else:
                    enrolled += 1
                    context.state.metrics.enrollments.inc()
            except (FileTooBig, ImageError, FaceFindError) as exc:
                problem = enroll_problem(lang, exc)
            if problem:
                problems.append(t(lang, "album_enroll_photo", n=n, problem=problem))
    if isinstance(target, Identity):
        head = t(
            lang,
            "album_enroll_done",
            ok=enrolled,
            n=len(album.parts),
            name=target.display_name,
            ref=t(lang, "ref", ref=target.external_ref) if target.external_ref else "",
            identity_id=target.id,
        )
    else:
        head = t(lang, "album_enroll_none", n=len(album.parts))
    await reply(update, "\n".join([head, *problems]))


def enroll_problem(lang: str, exc: Exception) -> str:
    """Why one photo of an album was not enrolled, in the words the single /enroll uses."""
    if isinstance(exc, FileTooBig):
        return t(lang, "file_too_big" if exc.code == "file_too_big" else f"image_{exc.code}")
    if isinstance(exc, ImageError):
        return t(lang, f"image_{exc.code}")
    if isinstance(exc, NoFaceFound):
        return t(lang, "enroll_no_face")
    if isinstance(exc, AmbiguousFaces):
        return t(lang, "enroll_ambiguous_faces", n=exc.count)
    if isinstance(exc, FaceIndexOutOfRange):
        return t(lang, "enroll_face_index", index=exc.index, count=exc.count)
    if isinstance(exc, EnrollRefused):
        return t(lang, "enroll_refused", reasons=reasons_text(lang, exc.reasons))
    if isinstance(exc, PoorReference):
        return t(lang, "enroll_poor", reasons=reasons_text(lang, exc.flags))
    if isinstance(exc, AmbiguousIdentity):
        return t(lang, "enroll_ambiguous_identity", name=exc.name, items="")
    logger.warning("album enrollment: %s", exc)
    return t(lang, "error_generic")
