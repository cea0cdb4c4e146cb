"""The bot's side of an outage of its embedded PostgreSQL: supervised, woken, admins told."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from telegram import Bot
from telegram.error import TelegramError

from bot.texts import language_of, t
from facefind.runtime.supervisor import EmbeddedSupervisor
from facefind.service import FaceFind
from gallery import Gallery, database_unavailable, outage_text

logger = logging.getLogger(__name__)


class AdminRoster:
    """The admins and their languages as last read from the database, to reach them while it is
    down (ADMIN_IDS, in English, until it was read once)."""

    def __init__(self, gallery: Gallery, admin_ids: Iterable[int]) -> None:
        self.gallery = gallery
        self._admins: dict[int, str | None] = dict.fromkeys(admin_ids)

    async def refresh(self) -> None:
        """Read the admins again; the last list stays when that fails."""
        try:
            admins = await self.gallery.users.admins()
        except Exception as exc:
            if database_unavailable(exc):
                logger.info("admins not re-read: database unavailable (%s)", outage_text(exc))
            else:
                logger.warning("admins not re-read", exc_info=exc)
            return
        self._admins = {a.id: a.language for a in admins}

    async def tell(self, bot: Bot, key: str, **values: object) -> list[int]:
        """Send every admin the text `key` in their language; the ids reached."""
        await self.refresh()
        told: list[int] = []
        for admin_id, language in self._admins.items():
            try:
                await bot.send_message(admin_id, t(language_of(language), key, **values))
                told.append(admin_id)
            except TelegramError as exc:
                logger.warning("could not reach admin %s: %s", admin_id, exc)
        return told


def supervise_embedded(
    service: FaceFind,
    wake: Callable[[], Awaitable[None]],
    *,
    bot: Bot | None = None,
    roster: AdminRoster | None = None,
) -> EmbeddedSupervisor | None:
    """A started supervisor of the embedded server when this process started it (None with
    DATABASE_URL): `wake` runs whenever the server is back; with a bot and a roster, admins
    are told after repeated failed starts, and again once it runs."""
    pgdata = service.embedded
    if pgdata is None:
        return None

    supervisor = EmbeddedSupervisor(pgdata, on_back=wake)
    if bot is not None and roster is not None:

        async def failing(tries: int, reason: str) -> None:
            log = pgdata / "log"
            await roster.tell(bot, "database_down", tries=tries, reason=reason, log=log)

        async def recovered(tries: int) -> None:
            await roster.tell(bot, "database_back", tries=tries)

        supervisor.on_failing, supervisor.on_recovered = failing, recovered
    supervisor.start()
    return supervisor
