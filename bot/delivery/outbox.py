"""The outbox: a lookup's reply, rebuilt from what is stored and delivered message by message.

The reply is a list of messages whose number and order depend only on what the analysis
stored (faces, candidates, the outcome), so a retry after a crash or a Bot API outage rebuilds
the same list and starts at the first message that has not arrived (`reply_sent`). What may
change in between (retention clearing the pictures, an identity forgotten, the requester's
access revoked) changes what a message says or whether it is sent, never where it stands:

- the photo with numbered boxes always has its place (several faces); when retention cleared
  it, a short text takes that place;
- a candidate whose identity was forgotten since the analysis is withheld: its place sends
  nothing (or, for the face's last candidate when none of the face's is left, "no confident
  match"; for the reply's last message, the lookup number alone), and `reply_sent` moves past
  it all the same;
- before every message the requester's access is checked again: a requester no longer
  approved gets nothing more, and the lookup is closed without its reply, audited.

A message sent whose progress could not be recorded is sent again: a rare duplicate is the
lesser harm than a lost answer.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot

from bot.delivery.notify import user_label
from bot.delivery.replies import Target, labels, no_match_text, send_picture, send_text
from bot.delivery.reply_plan import (
    CandidateSlot,
    Comparison,
    Frame,
    OutMessage,
    Overview,
    ReplyContext,
    Seen,
    Slot,
    candidate_messages,
    compose,
    frame_caption,
    quality_reasons,
    reply_target,
)
from bot.texts import t
from facefind.service import FaceFind
from gallery import Lookup
from recognition.types import VideoLimits

__all__ = [
    "CandidateSlot",
    "Comparison",
    "OutMessage",
    "Slot",
    "compose",
    "deliver",
    "send_stored_lookup",
]

logger = logging.getLogger(__name__)


async def send_stored_lookup(bot: Bot, service: FaceFind, target: Target, lookup: Lookup) -> None:
    """Show a recorded lookup again, with its pictures where retention kept them."""
    lang = target.lang
    for face in lookup.faces:
        if face.has_frame and (
            frame := await service.gallery.lookups.frame(lookup.id, face.face_index)
        ):
            await bot.send_photo(target.chat_id, frame, caption=frame_caption(lang, face))
        if not face.candidates:
            text = no_match_text(lang, face.face_index, quality_reasons(face))
            await send_text(bot, target, text)
            continue
        for message in candidate_messages(lang, lookup, face, verdicts=True):
            if isinstance(message.picture, Comparison):
                picture = await service.analysis.comparison_picture(
                    message.picture.query_crop,
                    message.picture.face_id,
                    labels(lang, message.picture.face_id),
                )
                assert message.keyboard is not None
                await send_picture(bot, target, picture, message.text, message.keyboard)
            else:
                await send_text(bot, target, message.text, reply_markup=message.keyboard)


async def reply_context(
    service: FaceFind,
    lookup: Lookup,
    *,
    sightings_to_officers: bool = True,
    max_faces: int = 10,
    video: VideoLimits | None = None,
) -> ReplyContext:
    """What the reply tells besides the analysis, as things stand now: an album's photos, the
    earlier sightings of its faces (to an officer when FACEFIND_SIGHTINGS_TO_OFFICERS allows;
    who took them only to an admin)."""
    gallery = service.gallery
    requester = await gallery.users.get(lookup.user_id) if lookup.user_id is not None else None
    admin = requester is not None and requester.is_admin
    photos = None
    if lookup.media == "album" and (album := await gallery.albums.of_lookup(lookup.id)):
        photos = len(album.parts)
    seen: dict[int, list[Seen]] = {}
    if lookup.outcome == "done":
        names: dict[int, str] = {}
        for face, earlier in (await service.unknown.seen_before(lookup.id)).items():
            for s in earlier:
                if s.user_id is not None and s.user_id not in names:
                    who = await gallery.users.get(s.user_id)
                    names[s.user_id] = user_label(who) if who is not None else s.actor
                label = names.get(s.user_id, s.actor) if s.user_id is not None else s.actor
                seen.setdefault(face, []).append(Seen(s.created_at, label, s.lookup_id))
    return ReplyContext(
        photos=photos,
        seen=seen,
        show_seen=sightings_to_officers or admin,
        show_who=admin,
        max_faces=max_faces,
        video=video or VideoLimits(),
    )


async def deliver(
    bot: Bot, service: FaceFind, lookup: Lookup, ctx: ReplyContext | None = None
) -> str | None:
    """Send the messages of the reply that have not arrived yet, recording each one; returns
    the lookup's final status (None when it was not waiting for its reply)."""
    gallery = service.gallery
    target = reply_target(lookup)
    todo = list(enumerate(compose(lookup, ctx)))[lookup.reply_sent :]
    if not todo:
        return await gallery.replies.delivered(lookup.id)
    check = await gallery.replies.check(lookup.id)
    if not check.allowed:
        return await withdraw(service, lookup)
    # render the remaining pictures at once (off the event loop), then send them in order
    wanted = {
        number: message.picture
        for number, slot in todo
        if isinstance(slot, CandidateSlot)
        and (message := slot.render(check.withheld)) is not None
        and isinstance(message.picture, Comparison)
    }
    rendered = dict(
        zip(
            wanted,
            await asyncio.gather(*(comparison(service, target, p) for p in wanted.values())),
            strict=True,
        )
    )
    for number, slot in todo:
        if number != todo[0][0]:
            # access and identities checked again before every message: a revoke or a forget
            # while the reply goes out stops what has not gone yet
            check = await gallery.replies.check(lookup.id)
            if not check.allowed:
                return await withdraw(service, lookup)
        message = slot.render(check.withheld) if isinstance(slot, CandidateSlot) else slot
        if message is not None:
            await send(bot, service, target, lookup, message, rendered.get(number))
        if isinstance(slot, CandidateSlot) and slot.candidate.identity_id in check.withheld:
            await gallery.audit.append(
                "system",
                "lookup.candidate_withheld",
                f"lookup:{lookup.id}",
                {"candidate": slot.candidate.id, "identity": slot.candidate.identity_id},
            )
        await gallery.replies.progress(lookup.id, number + 1)
    return await gallery.replies.delivered(lookup.id)


async def send(
    bot: Bot,
    service: FaceFind,
    target: Target,
    lookup: Lookup,
    message: OutMessage,
    picture: bytes | None,
) -> None:
    """Send one message of a reply; a picture not rendered beforehand is rendered now."""
    if isinstance(message.picture, Overview):
        # read when its turn comes: retention may have cleared it since the run began
        overview = await service.gallery.lookups.overview(lookup.id)
        if overview is None:
            text = t(target.lang, "overview_purged", n=len(lookup.faces))
            await send_text(bot, target, text)
            return
        await bot.send_photo(
            target.chat_id,
            overview,
            caption=message.text,
            reply_parameters=target.reply_parameters(),
        )
    elif isinstance(message.picture, Frame):
        face = message.picture.face_index
        frame = await service.gallery.lookups.frame(lookup.id, face)
        if frame is None:  # cleared by retention since the analysis
            await send_text(bot, target, t(target.lang, "clip_frame_purged", index=face))
            return
        await bot.send_photo(
            target.chat_id,
            frame,
            caption=message.text,
            reply_parameters=target.reply_parameters(),
        )
    elif isinstance(message.picture, Comparison):
        assert message.keyboard is not None
        if picture is None:
            picture = await comparison(service, target, message.picture)
        await send_picture(bot, target, picture, message.text, message.keyboard)
    else:
        await send_text(bot, target, message.text, reply_markup=message.keyboard)


async def comparison(service: FaceFind, target: Target, picture: Comparison) -> bytes:
    return await service.analysis.comparison_picture(
        picture.query_crop, picture.face_id, labels(target.lang, picture.face_id)
    )


async def withdraw(service: FaceFind, lookup: Lookup) -> str | None:
    """The requester is no longer approved: nothing more is sent, the lookup is closed."""
    if await service.gallery.replies.withdrawn(lookup.id, "system", "access_withdrawn"):
        logger.info("lookup %s: access withdrawn, its reply is not sent", lookup.id)
        return "error"
    return None
