"""Reply pieces for lookups: captions, buttons, chat actions, stored lookups shown again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ChatAction

from bot.texts import number, t
from facefind.scoring.bands import rarity_text
from gallery import Lookup

logger = logging.getLogger(__name__)

FEEDBACK_SEPARATOR = "\n―\n"
CHAT_ACTION_EVERY = 4.0  # Telegram shows an action for about 5 seconds


@dataclass(frozen=True)
class Target:
    """Where replies go: a chat, the message they answer, and the reader's language."""

    chat_id: int
    reply_to: int | None
    lang: str

    def reply_parameters(self) -> ReplyParameters | None:
        if self.reply_to is None:
            return None
        return ReplyParameters(message_id=self.reply_to, allow_sending_without_reply=True)


@contextlib.asynccontextmanager
async def chat_action(
    bot: Bot, chat_id: int, action: str = ChatAction.TYPING
) -> AsyncIterator[None]:
    """Keep a chat action visible while the block runs."""

    async def loop() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, action)
            except Exception as exc:  # cosmetic: never fail a lookup over it
                logger.debug("chat action failed: %s", exc)
            await asyncio.sleep(CHAT_ACTION_EVERY)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_text(bot: Bot, target: Target, text: str, **kwargs: object) -> Message:
    return await bot.send_message(
        target.chat_id,
        text,
        reply_parameters=target.reply_parameters(),
        **kwargs,  # type: ignore[arg-type]
    )


async def send_picture(
    bot: Bot, target: Target, picture: bytes, caption: str, keyboard: InlineKeyboardMarkup
) -> Message:
    return await bot.send_photo(
        target.chat_id,
        picture,
        caption=caption,
        reply_markup=keyboard,
        reply_parameters=target.reply_parameters(),
    )


def no_match_text(lang: str, index: int, quality_reasons: Sequence[str]) -> str:
    text = t(lang, "no_match", index=index)
    if quality_reasons:
        text += "\n" + low_quality_text(lang, index, quality_reasons)
    return text


def low_quality_text(lang: str, index: int, quality_reasons: Sequence[str]) -> str:
    return t(lang, "low_quality", index=index, reasons=reasons_text(lang, quality_reasons))


def reasons_text(lang: str, reasons: Sequence[str]) -> str:
    return ", ".join(
        t(lang, f"reason_{r}") if f"reason_{r}" in _REASON_KEYS else r for r in reasons
    )


_REASON_KEYS = {"reason_small", "reason_low_score", "reason_blurry", "reason_pose"}


def labels(lang: str, face_id: int) -> tuple[str, str]:
    """The words under the two faces of a comparison picture."""
    return t(lang, "label_query"), t(lang, "label_reference", face_id=face_id)


def feedback_keyboard(lang: str, candidate_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "btn_confirm"), callback_data=f"fb:c:{candidate_id}"),
                InlineKeyboardButton(t(lang, "btn_not_this"), callback_data=f"fb:r:{candidate_id}"),
            ]
        ]
    )


class ShownCandidate(Protocol):
    """What a caption shows; both fresh and stored candidates have it."""

    @property
    def rank(self) -> int: ...
    @property
    def display_name(self) -> str: ...
    @property
    def external_ref(self) -> str | None: ...
    @property
    def similarity(self) -> float: ...
    @property
    def band(self) -> str: ...
    @property
    def face_id(self) -> int: ...
    @property
    def false_candidate_rate(self) -> float | None: ...
    @property
    def low_quality_ref(self) -> bool: ...
    @property
    def held_by_face(self) -> int | None: ...


def rate_text(lang: str, rate: float | None, identities: int | None) -> str | None:
    """The candidate's score in plain words: how many people who are not enrolled would score
    as high against this gallery (facefind.scoring.bands.rarity_text, in the reader's language)."""
    return rarity_text(
        rate,
        identities,
        about=t(lang, "candidate_rate"),
        fewer=t(lang, "candidate_rate_rare"),
        number=lambda n: number(lang, n),
    )


def holder_score(lookup: Lookup, lead: ShownCandidate) -> float | None:
    """A lead's score on the face that holds its identity (None for a face's own candidate)."""
    for face in lookup.faces:
        if face.face_index == lead.held_by_face:
            for c in face.candidates:
                if c.identity_id == getattr(lead, "identity_id", None) and c.held_by_face is None:
                    return c.similarity
    return None


def candidate_caption(
    lang: str,
    candidate: ShownCandidate,
    *,
    index: int,
    total: int,
    quality_reasons: Sequence[str],
    identities: int | None,
    verdict_line: str | None = None,
    held_there: float | None = None,
) -> str:
    """A candidate's caption; for a lead (`held_by_face`, `held_there` its score on that face)
    one that says it is not this face's candidate. `total`: the face's own candidates."""
    name = candidate.display_name
    if getattr(candidate, "identity_deleted", False) and not getattr(
        candidate, "identity_erased", False
    ):
        name += t(lang, "identity_forgotten_mark")  # erased names say so themselves
    values = {
        "index": index,
        "name": name,
        "ref": t(lang, "ref", ref=candidate.external_ref) if candidate.external_ref else "",
        "pct": round(candidate.similarity * 100),
        "face_id": candidate.face_id,
    }
    if candidate.held_by_face is not None:
        text = lead_text(lang, candidate, values, held_there)
        if total == 0:  # the face has no candidate of its own
            text = t(lang, "no_match", index=index) + "\n" + text
    else:
        text = t(
            lang,
            "candidate",
            rank=candidate.rank,
            total=total,
            band=t(lang, f"band_{candidate.band}"),
            **values,
        )
        if rate := rate_text(lang, candidate.false_candidate_rate, identities):
            text += "\n" + rate
    if candidate.low_quality_ref:
        text += "\n" + t(lang, "candidate_low_quality_ref")
    if quality_reasons:
        text += "\n" + low_quality_text(lang, index, quality_reasons)
    if verdict_line:
        text += FEEDBACK_SEPARATOR + verdict_line
    return text


def lead_text(
    lang: str, lead: ShownCandidate, values: dict[str, object], held_there: float | None
) -> str:
    """An identity another face of the photo holds, shown on this face as a lead: the same
    person cannot be two faces, so it is never worded as a second match."""
    other = lead.held_by_face
    if held_there is None:
        held = t(lang, "lead_held", other=other)
    else:
        there, here = round(held_there * 100), round(lead.similarity * 100)
        key = "lead_held_better" if there > here else "lead_held_score"
        held = t(lang, key, other=other, other_pct=there)
    return t(lang, "lead", held=held, **values)
