"""A lookup's reply planned as places, one per message, from what the analysis stored: the same
list on every run of its job (the outbox sends it, bot/delivery/outbox.py). What may change in
between (sightings purged, who may read what) changes what a message says, never where it
stands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from telegram import InlineKeyboardMarkup

from bot.delivery.replies import (
    Target,
    candidate_caption,
    feedback_keyboard,
    holder_score,
    no_match_text,
)
from bot.delivery.telegram_io import TELEGRAM_DOWNLOAD_LIMIT
from bot.texts import language_of, t
from bot.texts.words import ago, day, listing, times
from gallery import Lookup, StoredCandidate, StoredLookupFace
from recognition.types import VideoLimits

# error codes of a lookup that get no reply at all (the user may not be told anything)
SILENT_ERRORS = frozenset({"access_withdrawn"})
# error codes with a text of their own; image errors are "image_<code>" ("clip_<code>" for a
# clip)
ERROR_TEXTS = {
    "file_too_big": "file_too_big",
    "download_failed": "download_failed",
    "worker_crashed": "lookup_crashed",
}
IMAGE_ERRORS = frozenset(
    {
        "empty",
        "too_large",
        "too_many_pixels",
        "unsupported",
        "corrupt",
        "bad_image",
        "too_long",
        "too_many_frames",
    }
)
CLIPS = frozenset({"video", "video_note", "animation"})
# earlier sightings named one by one to admins (the reply stays within a caption's length)
SEEN_LISTED = 10


@dataclass(frozen=True)
class Comparison:
    """A picture to render when it is sent: the query face beside the matched reference."""

    query_crop: bytes
    face_id: int


@dataclass(frozen=True)
class Overview:
    """The stored photo with numbered boxes."""


@dataclass(frozen=True)
class Frame:
    """A clip's stored best frame of one of its people."""

    face_index: int


@dataclass(frozen=True)
class OutMessage:
    text: str  # the text, or the picture's caption
    picture: Comparison | Overview | Frame | None = None
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Seen:
    """An earlier sighting of a face, as a reply tells it."""

    when: datetime
    who: str  # who took it (shown to admins only)
    lookup_id: int


@dataclass(frozen=True)
class ReplyContext:
    """What a reply tells besides the analysis, read when it is sent: an album's photos, the
    earlier sightings of its faces and who may read what of them, the limits it names."""

    photos: int | None = None  # an album's photos
    seen: Mapping[int, Sequence[Seen]] = field(default_factory=dict)  # by face
    show_seen: bool = True  # FACEFIND_SIGHTINGS_TO_OFFICERS, or an admin's lookup
    show_who: bool = False  # who took them and in which lookup: admins only
    max_faces: int = 10
    video: VideoLimits = field(default_factory=VideoLimits)
    now: datetime | None = None


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
    extra: str | None = None  # a line about the face (an album's photos), after the caption

    def render(self, withheld: frozenset[int]) -> OutMessage | None:
        """The message for this place now; None sends nothing (the place still counts).
        Withheld candidates are left out of the others' numbering too ("candidate 1 of 1")."""
        face = self.face
        shown = [c for c in face.candidates if c.identity_id not in withheld]
        tail = [p for p in (self.extra, self.summary) if p]
        if self.candidate in shown:
            rank, total = numbering(shown, self.candidate)
            message = candidate_message(self.lang, self.lookup, face, self.candidate, rank, total)
            if not tail:
                return message
            return replace(message, text="\n\n".join([message.text, *tail]))
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


def compose(lookup: Lookup, ctx: ReplyContext | None = None) -> list[Slot]:
    """The reply to a lookup, in as few messages as Telegram allows: numbered boxes (a photo
    with several faces) or each person's best frame (a clip), one picture per candidate, then
    the faces without a match and the lookup number (in the last picture's caption when every
    face has a candidate). One place per message, from what the analysis stored only."""
    ctx = ctx or ReplyContext()
    lang = language_of(lookup.language)
    if lookup.outcome == "error":
        text = error_text(lang, lookup, ctx)
        return [OutMessage(text)] if text else []
    if not lookup.faces:
        key = {"photo": "no_face", "album": "no_face_album"}.get(lookup.media, "no_face_clip")
        return [OutMessage(t(lang, key, id=lookup.id))]
    summary = summary_text(lang, lookup, ctx)
    out: list[Slot] = []
    if lookup.media == "photo" and len(lookup.faces) > 1:
        out.append(OutMessage(t(lang, "faces_found", n=len(lookup.faces)), Overview()))
    unmatched: list[str] = []
    for face in lookup.faces:
        seen = seen_text(lang, ctx.seen.get(face.face_index, ()), ctx)
        extra = person_text(lang, lookup, face)
        if lookup.media in CLIPS:
            out.append(OutMessage(frame_caption(lang, face), Frame(face.face_index)))
        if not face.candidates:
            text = no_match_text(lang, face.face_index, quality_reasons(face))
            unmatched.append("\n".join(p for p in (text, extra, seen) if p))
            continue
        if seen:  # a face with leads only: its sightings are told with the lookup's end
            unmatched.append(t(lang, "no_match", index=face.face_index) + "\n" + seen)
        out += [CandidateSlot(lang, lookup, face, cand, extra=extra) for cand in face.candidates]
    if unmatched:
        out.append(OutMessage("\n\n".join([*unmatched, summary])))
    else:
        last = out[-1]
        assert isinstance(last, CandidateSlot)
        out[-1] = replace(last, summary=summary)
    return out


def error_text(lang: str, lookup: Lookup, ctx: ReplyContext) -> str | None:
    code = lookup.error or "internal_error"
    if code in SILENT_ERRORS:
        return None
    if lookup.media in CLIPS and (code in IMAGE_ERRORS or code == "file_too_big"):
        v = ctx.video
        return t(
            lang,
            "clip_too_large" if code == "file_too_big" else f"clip_{code}",
            # a bot downloads at most 20 MB from Telegram, whatever the limit says
            mb=min(v.max_bytes, TELEGRAM_DOWNLOAD_LIMIT) // (1024 * 1024),
            seconds=round(v.max_seconds),
            frames=v.max_decoded_frames,
        )
    if code in IMAGE_ERRORS:
        return t(lang, f"image_{code}")
    return t(lang, ERROR_TEXTS.get(code, "lookup_failed"), id=lookup.id)


def summary_text(lang: str, lookup: Lookup, ctx: ReplyContext) -> str:
    n = len(lookup.faces)
    if lookup.media == "album":
        text = t(lang, "summary_album", id=lookup.id, n=n, photos=ctx.photos or "?")
    elif lookup.media in CLIPS:
        text = t(lang, "summary_clip", id=lookup.id, n=n)
    else:
        text = t(lang, "summary", id=lookup.id, n=n)
    if lookup.faces_left_out:
        if lookup.media in CLIPS:
            note = t(lang, "people_left_out", n=lookup.faces_left_out, limit=ctx.video.max_people)
        else:
            note = t(lang, "faces_left_out", n=lookup.faces_left_out, limit=ctx.max_faces)
        text = note + "\n\n" + text
    return text


def person_text(lang: str, lookup: Lookup, face: StoredLookupFace) -> str | None:
    """Where an album's person was found (a clip's is told with its frame)."""
    if lookup.media != "album":
        return None
    return t(
        lang, "album_person", index=face.face_index, n=face.seen_in, photo=face.photo_index + 1
    )


def frame_caption(lang: str, face: StoredLookupFace) -> str:
    seconds = int(face.time_s or 0)
    return t(
        lang,
        "clip_frame",
        index=face.face_index,
        time=f"{seconds // 60}:{seconds % 60:02d}",
        n=face.seen_in,
    )


def seen_text(lang: str, seen: Sequence[Seen], ctx: ReplyContext) -> str | None:
    """ "The same face was photographed 2 times before: 3 days ago and yesterday", and, for
    admins, who took each and in which lookup."""
    if not seen or not ctx.show_seen:
        return None
    now = ctx.now or datetime.now(UTC)
    days = list(dict.fromkeys(ago(lang, s.when, now) for s in seen))
    if len(days) <= 3:
        text = t(lang, "seen_before", times=times(lang, len(seen)), when=listing(lang, days))
    else:
        text = t(
            lang, "seen_before_last", times=times(lang, len(seen)), when=listing(lang, days[-3:])
        )
    if ctx.show_who:
        lines = [
            t(lang, "seen_by", when=f"{day(s.when)} {s.when:%H:%M}", who=s.who, id=s.lookup_id)
            for s in seen[-SEEN_LISTED:]
        ]
        text += "\n" + "\n".join(lines)
    return text


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
