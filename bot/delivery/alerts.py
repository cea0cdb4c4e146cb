"""Watchlist alerts to the people an entry names: each message claimed from the database, sent
once, retried with backoff when Telegram fails, withheld when its identity was forgotten or its
recipient is no longer an admin (gallery/alert_deliveries.py). Any process with a Bot API client
sends them: the lookup job right after the lookup that raised them, and every worker's
housekeeping for what is left (a crash, a flood limit, a burst's count once its window ends)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.delivery.notify import user_label
from bot.delivery.replies import labels, rate_text
from bot.delivery.telegram_io import transient
from bot.texts import language_of, t
from facefind.service import FaceFind
from gallery.watchlist_records import AlertDetails, Delivery

logger = logging.getLogger(__name__)

# a message Telegram keeps refusing is given up (withheld) after this many tries
MAX_TRIES = 12
CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption


@dataclass
class AlertSender:
    """Sends the alert messages that are due; one sweep at a time in a process."""

    bot: Bot
    service: FaceFind
    web_url: str | None = None  # FACEFIND_WEB_URL: the console, for a button to the lookup
    _sweeping: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sweep(self) -> int:
        """Close the bursts whose window is over, then send every message due; how many
        were sent."""
        await self.service.watchlist.close_bursts()
        return await self.send_due()

    async def send_due(self) -> int:
        sent = 0
        async with self._sweeping:
            while batch := await self.service.gallery.alerts.claim(20):
                for delivery in batch:
                    sent += await self._send(delivery)
        return sent

    async def _send(self, d: Delivery) -> int:
        gallery = self.service.gallery
        alerts = gallery.alerts
        if d.forgotten:
            await alerts.withhold(d.alert_id, d.user_id, d.kind, "system", "identity forgotten")
            return 0
        if not await alerts.may_receive(d.user_id):
            await alerts.withhold(d.alert_id, d.user_id, d.kind, "system", "not an admin now")
            return 0
        details = await gallery.watchlists.alert_details(d.alert_id)
        recipient = await gallery.users.get(d.user_id)
        if details is None or recipient is None:
            await alerts.withhold(d.alert_id, d.user_id, d.kind, "system", "gone")
            return 0
        lang = language_of(recipient.language)
        try:
            if d.kind == "count":
                await self._send_count(d.user_id, lang, details)
            else:
                await self._send_alert(d.user_id, lang, details)
        except TelegramError as exc:
            tries = await alerts.failed(d.alert_id, d.user_id, d.kind, str(exc)[:500])
            if not transient(exc) or tries >= MAX_TRIES:
                logger.warning("alert %s to %s given up: %s", d.alert_id, d.user_id, exc)
                await alerts.withhold(d.alert_id, d.user_id, d.kind, "system", "undeliverable")
            else:
                logger.info(
                    "alert %s to %s failed (%s); tried again later", d.alert_id, d.user_id, exc
                )
            return 0
        await alerts.sent(d.alert_id, d.user_id, d.kind)
        return 1

    async def _send_alert(self, chat_id: int, lang: str, a: AlertDetails) -> None:
        gallery = self.service.gallery
        lookup = await gallery.lookups.get(a.lookup_id)
        face = cand = None
        for f in lookup.faces if lookup else []:
            for c in f.candidates:
                if c.id == a.candidate_id:
                    face, cand = f, c
        who = await gallery.users.get(a.looked_by) if a.looked_by is not None else None
        rate = rate_text(
            lang, a.false_candidate_rate, lookup.bands.get("identities") if lookup else None
        )
        values = {
            "band": t(lang, f"band_{a.band}"),
            "pct": round(a.similarity * 100),
            "lookup_id": a.lookup_id,
            "who": user_label(who) if who is not None else a.looked_actor,
            "when": f"{a.looked_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            "rate": f"{rate}\n" if rate else "",
            "face_id": cand.face_id if cand else "—",
        }
        free = {"reason": a.reason, "name": a.display_name, "ref": a.external_ref or ""}
        text = fitted(lang, values, free)
        keyboard = self._keyboard(lang, a)
        if face is None or cand is None or face.crop_jpeg is None:
            await self.bot.send_message(
                chat_id, text + "\n" + t(lang, "alert_no_picture"), reply_markup=keyboard
            )
            return
        picture = await self.service.analysis.comparison_picture(
            face.crop_jpeg, cand.face_id, labels(lang, cand.face_id)
        )
        await self.bot.send_photo(chat_id, picture, caption=text, reply_markup=keyboard)

    async def _send_count(self, chat_id: int, lang: str, a: AlertDetails) -> None:
        lookups = await self.service.gallery.watchlists.burst_lookups(a.id)
        text = t(
            lang,
            "alert_count",
            name=a.display_name,
            count=len(lookups),
            lookup_id=a.lookup_id,
            lookups=", ".join(f"/lookup {n}" for n in lookups),
        )
        await self.bot.send_message(chat_id, text)

    def _keyboard(self, lang: str, a: AlertDetails) -> InlineKeyboardMarkup:
        rows = [
            [
                InlineKeyboardButton(
                    t(lang, "btn_open_lookup", id=a.lookup_id), callback_data=f"lk:{a.lookup_id}"
                )
            ]
        ]
        if self.web_url:
            url = f"{self.web_url.rstrip('/')}/lookups/{a.lookup_id}"
            rows[0].append(InlineKeyboardButton(t(lang, "btn_console"), url=url))
        if a.candidate_id is not None:
            rows.append(
                [
                    InlineKeyboardButton(
                        t(lang, "btn_confirm"), callback_data=f"fb:c:{a.candidate_id}"
                    ),
                    InlineKeyboardButton(
                        t(lang, "btn_not_this"), callback_data=f"fb:r:{a.candidate_id}"
                    ),
                ]
            )
        return InlineKeyboardMarkup(rows)


def fitted(lang: str, values: dict[str, object], free: dict[str, str]) -> str:
    """The alert's caption within Telegram's 1,024 characters: the reason, then the name, then
    the reference (what admins typed, up to 500 and 200 characters) shortened with an ellipsis
    while it is too long."""

    def caption() -> str:
        ref = t(lang, "ref", ref=free["ref"]) if free["ref"] else ""
        return t(lang, "alert", name=free["name"], ref=ref, reason=free["reason"], **values)

    text = caption()
    for key in ("reason", "name", "ref"):
        over = _length(text) - CAPTION_LIMIT
        if over <= 0:
            break
        kept = max(0, len(free[key]) - over - 1)
        free[key] = free[key][:kept] + "…" if free[key] else ""
        text = caption()
    return text


def _length(text: str) -> int:
    """As Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
