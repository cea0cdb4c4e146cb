"""The durable inbox: updates are stored before Telegram is told they arrived, then handled once.

Polling: our own loop replaces PTB's Updater, which confirms an update (with the next
getUpdates) before its handlers have run. Here a batch is stored in one transaction first; only
then is the offset advanced. A batch that cannot be stored is left unconfirmed, so Telegram
sends it again, and its senders are told once that the service is temporarily unavailable.
Webhook: server.py stores the update before answering 200 (503 when it cannot: Telegram
retries).

Each stored update is leased to the process handling it (renewed while it runs), handed to PTB's
`process_update` by a bounded number of tasks and marked handled when its handlers finish: two
processes never handle one update at once, and one whose process died is taken once its lease
runs out (at once by the next `facefind run`, which holds the bot's lock). An update whose
handling met a database outage is held and handled again once the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence

from telegram import ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application

from bot.metrics import Metrics
from bot.texts import language_of, t
from facefind.runtime.task_queue import worker_name
from gallery import Gallery, database_unavailable, outage_text

logger = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits for updates
MAX_BACKOFF = 10.0  # Telegram keeps what we do not confirm; no need to wait long
# seconds an update stays leased to the process handling it, renewed every third of it; a process
# that dies leaves its updates to another one after this long at most
LEASE_SECONDS = 60.0


def bot_id_of(token: str) -> int:
    """Update ids are a sequence per bot: the token's numeric part names the bot."""
    return int(token.split(":", 1)[0])


class Inbox:
    def __init__(
        self,
        app: Application,
        gallery: Gallery,
        metrics: Metrics,
        *,
        in_flight: int,
        lease: float = LEASE_SECONDS,
    ) -> None:
        self.app = app
        self.gallery = gallery
        self.metrics = metrics
        self.lease = lease
        # this inbox's name on the updates it holds (a process could run two)
        self.claimer = f"{worker_name()}/{secrets.token_hex(3)}"
        self._slots = asyncio.Semaphore(in_flight)
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[int] = set()  # met a database outage: handle again later
        self._told: set[int] = set()  # senders told about the outage, once per update
        self._retry = asyncio.Event()
        self._back = asyncio.Event()  # set (then replaced) when the database is back
        self._loops: list[asyncio.Task[None]] = []

    @property
    def bot_id(self) -> int:
        return bot_id_of(self.app.bot.token)

    # --- life cycle ---------------------------------------------------------------------------
    def start(self, *, polling: bool) -> None:
        self._retry.set()  # updates a previous run stored but did not handle
        self._loops.append(asyncio.create_task(self._redispatch_loop(), name="inbox retries"))
        self._loops.append(asyncio.create_task(self._renew_loop(), name="inbox leases"))
        if polling:
            self._loops.append(asyncio.create_task(self._poll_loop(), name="polling"))

    def wake(self) -> None:
        """The database is back: store what Telegram kept and handle the held updates now, not
        when the loops' backoff ends."""
        self._retry.set()
        self._back.set()
        self._back = asyncio.Event()

    async def _pause(self, seconds: float) -> bool:
        """Wait `seconds`, less if the database comes back meanwhile; whether it did."""
        back = self._back
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(back.wait(), seconds)
        return back.is_set()

    async def stop_taking(self) -> None:
        """Stop fetching and retrying; an interrupted long poll leaves its updates unconfirmed."""
        for task in self._loops:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []

    async def drain(self) -> None:
        """Wait for the updates being handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- storing --------------------------------------------------------------------------------
    async def receive(self, updates: Sequence[Update]) -> None:
        """Store updates (raising if the database cannot take them) and hand them to PTB."""
        # claimed before they are stored, so the retry loop cannot hand them out as well
        claimed = self._claim([u.update_id for u in updates])
        try:
            unhandled = set(await self._store(updates))
        except BaseException:
            self._in_flight.difference_update(claimed)
            raise
        for update in updates:
            if update.update_id not in claimed:
                continue  # being handled already
            if update.update_id in unhandled:
                await self._start(update)
            else:
                self._in_flight.discard(update.update_id)
                logger.info(
                    "update %s was received before: handled already, or by another process",
                    update.update_id,
                )

    async def _store(self, updates: Sequence[Update]) -> list[int]:
        """Store a batch; if the database refuses it for what it holds (not an outage), store
        the updates one by one, and hand one that cannot be stored at all to the handlers as it
        is rather than let it block every update after it."""
        try:
            return await self.gallery.inbox.store(
                self.bot_id, [(u.update_id, u.to_dict()) for u in updates], self.claimer, self.lease
            )
        except Exception as exc:
            if database_unavailable(exc):
                raise
            if len(updates) > 1:
                return [i for u in updates for i in await self._store([u])]
            logger.error(
                "update %s cannot be stored; handled without the inbox",
                updates[0].update_id,
                exc_info=exc,
            )
            return [updates[0].update_id]

    async def refuse(self, updates: Sequence[Update], exc: BaseException) -> None:
        """Updates that could not be stored: tell each sender once; Telegram keeps them."""
        if database_unavailable(exc):
            logger.warning(
                "database unavailable (%s): %d update(s) left with Telegram",
                outage_text(exc),
                len(updates),
            )
        else:
            logger.error("storing %d update(s) failed", len(updates), exc_info=exc)
        for update in updates:
            await self.tell_unavailable(update)

    # --- handling -------------------------------------------------------------------------------
    def _claim(self, update_ids: Sequence[int]) -> set[int]:
        """Mark updates as being handled here; returns those that were not already."""
        claimed = {i for i in update_ids if i not in self._in_flight}
        self._in_flight.update(claimed)
        return claimed

    async def _start(self, update: Update) -> None:
        """Handle a claimed update in a task of its own."""
        await self._slots.acquire()  # backpressure: at most `in_flight` handlers at once
        task = asyncio.create_task(self._handle(update), name=f"update {update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, update: Update) -> None:
        update_id = update.update_id
        try:
            await self.app.process_update(update)
            if update_id in self._held:
                self._held.discard(update_id)
                self._retry.set()
                return
            await self.gallery.inbox.mark_handled(self.bot_id, update_id)
            self._told.discard(update_id)
        except Exception as exc:
            # handled, but not recorded as such: it is handled again at the next start
            logger.warning("update %s: could not mark it handled: %s", update_id, exc)
        finally:
            self._in_flight.discard(update_id)
            self._slots.release()

    async def hold(self, update: object) -> None:
        """A handler met a database outage: tell the sender once, handle the update again when
        the database is back."""
        if not isinstance(update, Update):
            return
        self.metrics.held.inc()
        self._held.add(update.update_id)
        await self.tell_unavailable(update)

    async def tell_unavailable(self, update: Update) -> None:
        if update.update_id in self._told or update.edited_message is not None:
            return
        chat, user = update.effective_chat, update.effective_user
        if chat is None or chat.type != ChatType.PRIVATE or user is None or user.is_bot:
            return
        self._told.add(update.update_id)
        text = t(language_of(user.language_code), "temporarily_unavailable")
        try:
            if update.callback_query is not None:
                await update.callback_query.get_bot().answer_callback_query(
                    update.callback_query.id, text[:200], show_alert=True
                )
            else:
                message = update.effective_message
                await self.app.bot.send_message(
                    chat.id,
                    text,
                    reply_parameters=ReplyParameters(
                        message.message_id, allow_sending_without_reply=True
                    )
                    if message
                    else None,
                )
        except TelegramError as exc:
            logger.warning("could not tell user %s about the outage: %s", user.id, exc)

    # --- loops ----------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        """getUpdates, store, then confirm by asking for the next offset."""
        bot = self.app.bot
        offset: int | None = None
        backoff = 1.0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=Update.ALL_TYPES
                )
            except Exception as exc:
                # a network error, Telegram's 5xx, another instance polling (Conflict), a
                # revoked token (InvalidToken): the loop must outlive all of them
                if isinstance(exc, TelegramError):
                    logger.warning("getUpdates failed (%s); again in %.0fs", exc, backoff)
                else:
                    logger.exception("getUpdates failed; again in %.0fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if not updates:
                backoff = 1.0
                continue
            try:
                await self.receive(updates)
            except Exception as exc:
                await self.refuse(updates, exc)
                back = await self._pause(backoff)
                backoff = 1.0 if back else min(backoff * 2, MAX_BACKOFF)
                continue  # same offset: Telegram sends them again
            backoff = 1.0
            offset = updates[-1].update_id + 1

    async def _redispatch_loop(self) -> None:
        """Handle stored updates nobody handles: held ones, a crashed run's, and those whose
        lease ran out in another process."""
        backoff = 1.0
        while True:
            with contextlib.suppress(TimeoutError):
                # now and then even unasked: another process's lease may have run out
                await asyncio.wait_for(self._retry.wait(), timeout=self.lease / 2)
            try:
                rows = await self.gallery.inbox.claim(
                    self.bot_id, self.claimer, self.lease, self._in_flight, limit=100
                )
            except Exception as exc:
                if not database_unavailable(exc):
                    logger.exception("reading the inbox failed")
                back = await self._pause(backoff)
                backoff = 1.0 if back else min(backoff * 2, MAX_BACKOFF)
                continue
            self._retry.clear()
            backoff = 1.0
            claimed = self._claim([update_id for update_id, _ in rows])
            for update_id, payload in rows:
                if update_id in claimed:
                    logger.info("handling stored update %s", update_id)
                    await self._start(Update.de_json(payload, self.app.bot))
            if len(rows) == 100:
                self._retry.set()
            # a held update comes back at most once a second while the database flaps
            await asyncio.sleep(1.0)

    async def _renew_loop(self) -> None:
        """Keep the lease on the updates being handled here while their handlers run."""
        failing = False
        while True:
            await asyncio.sleep(self.lease / 3)
            if not self._in_flight:
                continue
            try:
                await self.gallery.inbox.renew(
                    self.bot_id, self.claimer, self.lease, list(self._in_flight)
                )
                failing = False
            except Exception as exc:
                if not failing:  # one line per outage
                    logger.warning("could not renew the lease on updates being handled: %s", exc)
                failing = True
