"""The outbox: a lookup's reply, rebuilt from what is stored and delivered message by message.

The reply is a list of messages that depends only on the stored lookup (faces, candidates,
query crops, the overview picture, the outcome and the reader's language), so a retry after a
crash or a Bot API outage rebuilds the same list and starts at the first message that has not
arrived (`reply_sent`). A message sent whose progress could not be recorded is sent again: a
rare duplicate is the lesser harm than a lost answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup

from bot.replies import (
    Target,
    candidate_caption,
    feedback_keyboard,
    labels,
    no_match_text,
    send_picture,
    send_text,
)
from bot.texts import language_of, t
from facefind.service import FaceFind
from gallery import Lookup, StoredLookupFace

logger = logging.getLogger(__name__)

# error codes of a lookup that get no reply at all (the user may not be told anything)
SILENT_ERRORS = frozenset({"access_withdrawn"})
# error codes with a text of their own; image errors are "image_<code>"
ERROR_TEXTS = {
    "file_too_big": "file_too_big",
    "download_failed": "download_failed",
    "worker_crashed": "lookup_crashed",
}
IMAGE_ERRORS = frozenset(
    {"empty", "too_large", "too_many_pixels", "unsupported", "corrupt", "bad_image"}
)


@dataclass(frozen=True)
class Comparison:
    """A picture to render when it is sent: the query face beside the matched reference."""

    query_crop: bytes
    face_id: int


@dataclass(frozen=True)
class Overview:
    """The stored photo with numbered boxes."""


@dataclass(frozen=True)
class OutMessage:
    text: str  # the text, or the picture's caption
    picture: Comparison | Overview | None = None
    keyboard: InlineKeyboardMarkup | None = None


def reply_target(lookup: Lookup) -> Target:
    assert lookup.chat_id is not None
    return Target(lookup.chat_id, lookup.message_id, language_of(lookup.language))


def compose(lookup: Lookup, *, has_overview: bool) -> list[OutMessage]:
    """The reply to a photo, in as few messages as Telegram allows: numbered boxes (several
    faces), one picture per candidate, then the faces without a match and the lookup number
    (in the last picture's caption when every face has a candidate)."""
    lang = language_of(lookup.language)
    if lookup.outcome == "error":
        code = lookup.error or "internal_error"
        if code in SILENT_ERRORS:
            return []
        if code in IMAGE_ERRORS:
            return [OutMessage(t(lang, f"image_{code}"))]
        return [OutMessage(t(lang, ERROR_TEXTS.get(code, "lookup_failed"), id=lookup.id))]
    if not lookup.faces:
        return [OutMessage(t(lang, "no_face", id=lookup.id))]
    summary = t(lang, "summary", id=lookup.id, n=len(lookup.faces))
    out: list[OutMessage] = []
    if len(lookup.faces) > 1 and has_overview:
        out.append(OutMessage(t(lang, "faces_found", n=len(lookup.faces)), Overview()))
    unmatched: list[str] = []
    for face in lookup.faces:
        if not face.candidates:
            unmatched.append(no_match_text(lang, face.face_index, quality_reasons(face)))
            continue
        out += candidate_messages(lang, lookup, face)
    if unmatched:
        out.append(OutMessage("\n\n".join([*unmatched, summary])))
    elif out and out[-1].keyboard is not None:
        last = out[-1]
        out[-1] = OutMessage(last.text + "\n\n" + summary, last.picture, last.keyboard)
    return out


def quality_reasons(face: StoredLookupFace) -> tuple[str, ...]:
    return () if face.quality.get("ok", True) else tuple(face.quality.get("reasons", ()))


def candidate_messages(
    lang: str, lookup: Lookup, face: StoredLookupFace, *, verdicts: bool = False
) -> list[OutMessage]:
    """One message per candidate of a face: the comparison picture with its caption and the
    feedback buttons, or the caption alone once retention purged the query face. `verdicts`
    adds the feedback already given (a lookup shown again)."""
    out = []
    for cand in face.candidates:
        caption = candidate_caption(
            lang,
            cand,
            index=face.face_index,
            total=len(face.candidates),
            quality_reasons=quality_reasons(face),
            identities=lookup.bands.get("identities"),
            verdict_line=(
                t(lang, f"feedback_{cand.verdict}", who="—") if verdicts and cand.verdict else None
            ),
        )
        keyboard = feedback_keyboard(lang, cand.id)
        if face.crop_jpeg is None:  # purged before the reply could be delivered
            text = t(lang, "lookup_crop_purged", index=face.face_index) + "\n\n" + caption
            out.append(OutMessage(text, None, keyboard))
        else:
            out.append(OutMessage(caption, Comparison(face.crop_jpeg, cand.face_id), keyboard))
    return out


async def send_stored_lookup(bot: Bot, service: FaceFind, target: Target, lookup: Lookup) -> None:
    """Show a recorded lookup again, with its pictures where retention kept them."""
    lang = target.lang
    for face in lookup.faces:
        if not face.candidates:
            text = no_match_text(lang, face.face_index, quality_reasons(face))
            await send_text(bot, target, text)
            continue
        for message in candidate_messages(lang, lookup, face, verdicts=True):
            if isinstance(message.picture, Comparison):
                picture = await service.comparison_picture(
                    message.picture.query_crop,
                    message.picture.face_id,
                    labels(lang, message.picture.face_id),
                )
                assert message.keyboard is not None
                await send_picture(bot, target, picture, message.text, message.keyboard)
            else:
                await send_text(bot, target, message.text, reply_markup=message.keyboard)


async def deliver(bot: Bot, service: FaceFind, lookup: Lookup) -> str | None:
    """Send the messages of the reply that have not arrived yet, recording each one; returns
    the lookup's final status (None when it was not waiting for its reply)."""
    gallery = service.gallery
    overview = await gallery.lookup_overview(lookup.id) if len(lookup.faces) > 1 else None
    messages = compose(lookup, has_overview=overview is not None)
    target = reply_target(lookup)
    todo = list(enumerate(messages))[lookup.reply_sent :]
    # render the remaining pictures at once (off the event loop), then send them in order
    pictures = await asyncio.gather(
        *(
            service.comparison_picture(
                m.picture.query_crop, m.picture.face_id, labels(target.lang, m.picture.face_id)
            )
            for _, m in todo
            if isinstance(m.picture, Comparison)
        )
    )
    rendered = iter(pictures)
    for number, message in todo:
        if isinstance(message.picture, Overview):
            assert overview is not None
            await bot.send_photo(
                target.chat_id,
                overview,
                caption=message.text,
                reply_parameters=target.reply_parameters(),
            )
        elif isinstance(message.picture, Comparison):
            assert message.keyboard is not None
            await send_picture(bot, target, next(rendered), message.text, message.keyboard)
        else:
            await send_text(bot, target, message.text, reply_markup=message.keyboard)
        await gallery.reply_progress(lookup.id, number + 1)
    return await gallery.reply_delivered(lookup.id)
