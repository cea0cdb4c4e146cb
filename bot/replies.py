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
from facefind.bands import rarity_text

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


def rate_text(lang: str, rate: float | None, identities: int | None) -> str | None:
    """The candidate's score in plain words: how many people who are not enrolled would score
    as high against this gallery (facefind.bands.rarity_text, in the reader's language)."""
    return rarity_text(
        rate,
        identities,
        about=t(lang, "candidate_rate"),
        fewer=t(lang, "candidate_rate_rare"),
        number=lambda n: number(lang, n),
    )


def candidate_caption(
    lang: str,
    candidate: ShownCandidate,
    *,
    index: int,
    total: int,
    quality_reasons: Sequence[str],
    identities: int | None,
    verdict_line: str | None = None,
) -> str:
    name = candidate.display_name
    if getattr(candidate, "identity_deleted", False) and not getattr(
        candidate, "identity_erased", False
    ):
        name += t(lang, "identity_forgotten_mark")  # erased names say so themselves
    text = t(
        lang,
        "candidate",
        index=index,
        rank=candidate.rank,
        total=total,
        name=name,
        ref=t(lang, "ref", ref=candidate.external_ref) if candidate.external_ref else "",
        pct=round(candidate.similarity * 100),
        band=t(lang, f"band_{candidate.band}"),
        face_id=candidate.face_id,
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
