"""Telling admins: a notice to every admin, and access requests (the first at once with its
buttons, a flood as digests).

Anyone can write to the bot, so anyone could make it message every admin once per account they
own. The first request after a quiet `window` goes out at once (with Approve / Reject); later
ones wait until the window since the last message has passed and then go out together, as one
digest per admin listing ids and names (the first DIGEST_LINES, each with its own Approve / Reject
row) and a count of the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.texts import language_of, t
from facefind.user_input import strip_unsafe
from gallery import Gallery, User

logger = logging.getLogger(__name__)

DIGEST_LINES = 20  # 2 buttons a line: well within Telegram's 100 buttons a message
BUTTON_NAME_CHARS = 24  # Telegram cuts a long button label anyway; the id stays whole


async def tell_admins(bot: Bot, gallery: Gallery, key: str, **values: object) -> list[int]:
    """Send every approved admin the text `key` in their language; the ids reached."""
    told: list[int] = []
    for admin in await gallery.users.admins():
        try:
            await bot.send_message(admin.id, t(language_of(admin.language), key, **values))
            told.append(admin.id)
        except TelegramError as exc:  # one admin who blocked the bot must not stop the rest
            logger.warning("could not reach admin %s: %s", admin.id, exc)
    return told


def person_name(user: User) -> str:
    """The Telegram name as shown to admins: no character can reorder or hide text."""
    return strip_unsafe(" ".join(p for p in (user.first_name, user.last_name) if p)) or "?"


def user_label(user: User) -> str:
    """Name and @username, as other people see them in the bot."""
    return person_name(user) + (f" (@{user.username})" if user.username else "")


def request_text(lang: str, user: User) -> str:
    username = f"@{user.username}" if user.username else "—"
    return t(lang, "admin_new_request", name=person_name(user), username=username, id=user.id)


def request_keyboard(lang: str, user_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "btn_approve"), callback_data=f"acc:a:{user_id}"),
                InlineKeyboardButton(t(lang, "btn_reject"), callback_data=f"acc:r:{user_id}"),
            ]
        ]
    )


def digest_keyboard(lang: str, users: list[User]) -> InlineKeyboardMarkup:
    """One Approve / Reject row per listed user; `da` / `dr` tell the handler that the message
    is a digest, whose other rows must stay."""
    rows = []
    for user in users:
        name = person_name(user)
        if len(name) > BUTTON_NAME_CHARS:
            name = name[: BUTTON_NAME_CHARS - 1] + "…"
        rows.append(
            [
                InlineKeyboardButton(
                    t(lang, "btn_approve_user", id=user.id, name=name),
                    callback_data=f"acc:da:{user.id}",
                ),
                InlineKeyboardButton(
                    t(lang, "btn_reject_user", id=user.id), callback_data=f"acc:dr:{user.id}"
                ),
            ]
        )
    return InlineKeyboardMarkup(rows)


class RequestNotifier:
    """At most one access-request message per admin per `window` seconds."""

    def __init__(self, bot: Bot, gallery: Gallery, window: float) -> None:
        self.bot = bot
        self.gallery = gallery
        self.window = window
        self._last_sent: float | None = None
        self._waiting: list[User] = []
        self._more = 0  # requests beyond the listed ones
        self._since: datetime | None = None
        self._timer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Requests held for the next digest."""
        return len(self._waiting) + self._more

    async def request(self, user: User) -> None:
        """A new user asked for access."""
        now = time.monotonic()
        quiet = self._last_sent is None or now - self._last_sent >= self.window
        if quiet and not self._waiting:
            self._last_sent = now
            await self._send_each(
                lambda lang: request_text(lang, user), lambda lang: request_keyboard(lang, user.id)
            )
            return
        if len(self._waiting) < DIGEST_LINES:
            self._waiting.append(user)
        else:
            self._more += 1
        self._since = self._since or datetime.now(UTC)
        if self._timer is None:
            last = self._last_sent if self._last_sent is not None else now
            self._timer = asyncio.create_task(self._flush_after(last + self.window - now))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Send the waiting requests as one digest per admin now."""
        waiting, more, since = self._waiting, self._more, self._since
        self._waiting, self._more, self._since = [], 0, None
        if not waiting:
            return
        self._last_sent = time.monotonic()

        def digest(lang: str) -> str:
            lines = [
                t(lang, "admin_digest", n=len(waiting) + more, since=f"{since:%H:%M} UTC"),
                *(
                    t(
                        lang,
                        "admin_digest_line",
                        id=u.id,
                        name=person_name(u),
                        username=f"@{u.username}" if u.username else "—",
                    )
                    for u in waiting
                ),
            ]
            if more:
                lines.append(t(lang, "admin_digest_more", n=more))
            lines.append(t(lang, "admin_digest_hint"))
            return "\n".join(lines)

        await self._send_each(digest, lambda lang: digest_keyboard(lang, waiting))

    async def close(self) -> None:
        """On shutdown: what is waiting goes out now rather than never."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.flush()

    async def _send_each(
        self,
        text_for: Callable[[str], str],
        markup_for: Callable[[str], InlineKeyboardMarkup],
    ) -> None:
        for admin in await self.gallery.users.admins():
            lang = language_of(admin.language)
            try:
                await self.bot.send_message(admin.id, text_for(lang), reply_markup=markup_for(lang))
            except TelegramError as exc:  # an admin who blocked the bot must not block the others
                logger.warning("could not notify admin %s: %s", admin.id, exc)
