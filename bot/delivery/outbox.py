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
from dataclasses import dataclass, replace

from telegram import Bot, InlineKeyboardMarkup

from bot.delivery.replies import (
    Target,
    candidate_caption,
    feedback_keyboard,
    holder_score,
    labels,
    no_match_text,
    send_picture,
    send_text,
)
from bot.texts import language_of, t
from facefind.service import FaceFind
from gallery import Lookup, StoredCandidate, StoredLookupFace

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


@dataclass(frozen=True)
class CandidateSlot:
    """The place of one candidate in a reply. What it sends is decided when its turn comes:
    the candidate's picture and caption, or, when its identity was forgotten after the
    analysis, what stands in for it."""

    lang: str
    lookup: Lookup
    face: StoredLookupFace
    candidate: StoredCandidate
    summary: str | None = None  # the lookup number and its caveats, when this is the reply's last

    def render(self, withheld: frozenset[int]) -> OutMessage | None:
        """The message for this place now; None sends nothing (the place still counts).
        Withheld candidates are left out of the others' numbering too ("candidate 1 of 1")."""
        face = self.face
        shown = [c for c in face.candidates if c.identity_id not in withheld]
        if self.candidate in shown:
            rank, total = numbering(shown, self.candidate)
            message = candidate_message(self.lang, self.lookup, face, self.candidate, rank, total)
            if self.summary is None:
                return message
            return replace(message, text=message.text + "\n\n" + self.summary)
        parts = []
        if self.candidate is face.candidates[-1] and not shown:
            parts.append(no_match_text(self.lang, face.face_index, quality_reasons(face)))
        if self.summary is not None:
            parts.append(self.summary)
        return OutMessage("\n\n".join(parts)) if parts else None


Slot = OutMessage | CandidateSlot


def reply_target(lookup: Lookup) -> Target:
    assert lookup.chat_id is not None
    return Target(lookup.chat_id, lookup.message_id, language_of(lookup.language))


def compose(lookup: Lookup) -> list[Slot]:
    """The reply to a photo, in as few messages as Telegram allows: numbered boxes (several
    faces), one picture per candidate, then the faces without a match and the lookup number
    (in the last picture's caption when every face has a candidate). One place per message,
    from what the analysis stored only: the same list on every run."""
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
    out: list[Slot] = []
    if len(lookup.faces) > 1:
        out.append(OutMessage(t(lang, "faces_found", n=len(lookup.faces)), Overview()))
    unmatched: list[str] = []
    for face in lookup.faces:
        if not face.candidates:
            unmatched.append(no_match_text(lang, face.face_index, quality_reasons(face)))
            continue
        out += [CandidateSlot(lang, lookup, face, cand) for cand in face.candidates]
    if unmatched:
        out.append(OutMessage("\n\n".join([*unmatched, summary])))
    else:
        last = out[-1]
        assert isinstance(last, CandidateSlot)
        out[-1] = replace(last, summary=summary)
    return out


def quality_reasons(face: StoredLookupFace) -> tuple[str, ...]:
    return () if face.quality.get("ok", True) else tuple(face.quality.get("reasons", ()))


def candidate_messages(
    lang: str, lookup: Lookup, face: StoredLookupFace, *, verdicts: bool = False
) -> list[OutMessage]:
    """One message per candidate of a face (see candidate_message); `verdicts` adds the
    feedback already given (a lookup shown again)."""
    return [
        candidate_message(
            lang, lookup, face, cand, *numbering(face.candidates, cand), verdicts=verdicts
        )
        for cand in face.candidates
    ]


def numbering(shown: list[StoredCandidate], cand: StoredCandidate) -> tuple[int, int]:
    """`cand`'s place among the candidates shown of its face, and how many of them are the
    face's own: own candidates first ("candidate 1 of 2"), then the leads that another face
    holds, numbered on from there."""
    own = [c for c in shown if c.held_by_face is None]
    leads = [c for c in shown if c.held_by_face is not None]
    rank = own.index(cand) + 1 if cand in own else len(own) + leads.index(cand) + 1
    return rank, len(own)


def candidate_message(
    lang: str,
    lookup: Lookup,
    face: StoredLookupFace,
    cand: StoredCandidate,
    rank: int,
    total: int,
    *,
    verdicts: bool = False,
) -> OutMessage:
    """A candidate as "candidate `rank` of `total`" (`total`: the face's own candidates shown):
    the comparison picture with its caption and the feedback buttons, or the caption alone once
    retention purged the query face."""
    caption = candidate_caption(
        lang,
        replace(cand, rank=rank),
        index=face.face_index,
        total=total,
        held_there=holder_score(lookup, cand),
        quality_reasons=quality_reasons(face),
        identities=lookup.bands.get("identities"),
        verdict_line=(
            t(lang, f"feedback_{cand.verdict}", who="—") if verdicts and cand.verdict else None
        ),
    )
    keyboard = feedback_keyboard(lang, cand.id)
    if face.crop_jpeg is None:  # purged before the reply could be delivered
        text = t(lang, "lookup_crop_purged", index=face.face_index) + "\n\n" + caption
        return OutMessage(text, None, keyboard)
    return OutMessage(caption, Comparison(face.crop_jpeg, cand.face_id), keyboard)


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
                picture = await service.analysis.comparison_picture(
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
    target = reply_target(lookup)
    todo = list(enumerate(compose(lookup)))[lookup.reply_sent :]
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
