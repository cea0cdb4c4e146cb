"""The bot's process: BotRunner starts and stops everything around an opened service (the
inbox, the lookup worker, the servers, the background loops), and `run_bot` runs it until a
signal."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application, webhook_path
from bot.context import BotState
from bot.delivery.inbox import Inbox, bot_id_of
from bot.delivery.lookup_jobs import lookup_queue, lookup_worker
from bot.delivery.notify import RequestNotifier, tell_admins
from bot.handlers.menus import publish_commands
from bot.outages import AdminRoster, supervise_embedded
from bot.server import health_app, start_site, webhook_app
from facefind.access.actors import Requester
from facefind.access.witness import Witness
from facefind.runtime.allocator import tune_allocator
from facefind.runtime.logs import add_secrets
from facefind.runtime.settings import Settings, SettingsError, parse_listen
from facefind.runtime.supervisor import EmbeddedSupervisor, fresh_connections
from facefind.runtime.task_queue import QueueWorker, worker_name
from facefind.service import FaceFind
from gallery import Gallery, database_unavailable, outage_text
from gallery.instance import BotLock, BotLockHeld

logger = logging.getLogger(__name__)

RETENTION_EVERY = 24 * 3600.0
# The witness file follows the audit log this often: rows younger than this could be cut from
# the log's end unseen by the file (the daily check-point to admins covers the file itself).
WITNESS_EVERY = 60.0
CHECKPOINT_EVERY = timedelta(hours=24)
# handled updates hold message texts and file ids: gone a day after they were handled
INBOX_KEPT_FOR = timedelta(days=1)


class BotRunner:
    """Starts and stops everything the bot needs around an already opened FaceFind service."""

    def __init__(self, settings: Settings, service: FaceFind) -> None:
        self.settings = settings
        self.service = service
        self.state = BotState(settings=settings, service=service)
        self.state.metrics.watch_queue(
            lambda: service.inference.queued, lambda: service.inference.running
        )
        self.app = build_application(settings, self.state)
        self.state.requests = RequestNotifier(
            self.app.bot, service.gallery, settings.request_digest_seconds
        )
        self.witness = Witness.of(settings)
        self._alarms: set[str] = set()
        self._checking = asyncio.Lock()  # one check at a time: a check-point is sent once
        self.queue = lookup_queue(service, settings)
        self.inbox = Inbox(
            self.app, service.gallery, self.state.metrics, in_flight=settings.updates_in_flight
        )
        self.state.queue = self.queue
        self.state.inbox = self.inbox
        self.worker: QueueWorker | None = None
        self.roster = AdminRoster(service.gallery, settings.admin_ids)
        self.supervisor: EmbeddedSupervisor | None = None
        self._queue_open = False
        self.http_port: int | None = None
        self.webhook_port: int | None = None
        self._runners: list[web.AppRunner] = []
        self._webhook_runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.webhook_secret = settings.webhook_secret or secrets.token_urlsafe(32)
        add_secrets(self.webhook_secret)

    async def start(self) -> None:
        settings = self.settings
        host, port = parse_listen(settings.http_listen)
        runner, self.http_port = await start_site(health_app(self.state), host, port)
        self._runners.append(runner)
        await self.app.initialize()
        await self.queue.open_async()
        self._queue_open = True
        await self.service.users.ensure_admins(settings.admin_ids)
        await publish_commands(
            self.app.bot,
            await self.service.gallery.users.admins(),
            console_app=self.service.web_sessions.webapp_url,
        )
        await self.app.start()
        if settings.in_process_worker:
            # the in-process worker: it answers lookups, and resumes those a previous run left
            self.worker = lookup_worker(
                self.queue, self.service, self.app.bot, self.state.metrics, settings
            )
            self.worker.start()
        else:
            logger.info("lookups are left to `facefind worker` processes")
        if settings.webhook_url:
            assert settings.telegram_bot_token is not None
            path = webhook_path(settings.telegram_bot_token)
            add_secrets(path)
            whost, wport = parse_listen(settings.webhook_listen)
            self._webhook_runner, self.webhook_port = await start_site(
                webhook_app(self.app, self.state, path, self.webhook_secret), whost, wport
            )
            public = settings.webhook_url.rstrip("/") + path
            await self.app.bot.set_webhook(
                public, secret_token=self.webhook_secret, allowed_updates=Update.ALL_TYPES
            )
            logger.info("webhook mode: listening on %s:%s", whost, self.webhook_port)
        else:
            await self.app.bot.delete_webhook()
            logger.info("polling mode")
        self.inbox.start(polling=not settings.webhook_url)
        await self.roster.refresh()
        self.supervisor = supervise_embedded(
            self.service, self.database_back, bot=self.app.bot, roster=self.roster
        )
        self.state.ready = True
        self._tasks.append(asyncio.create_task(self._retention_loop()))
        self._tasks.append(asyncio.create_task(self._audit_loop()))
        me = self.app.bot.username
        logger.info("bot @%s is running; health on port %s", me, self.http_port)

    async def stop(self) -> None:
        """Stop taking updates, let running lookups finish and answer, then close."""
        self.state.ready = False
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor = None
        await self.inbox.stop_taking()
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
            self._webhook_runner = None
        await self.inbox.drain()
        if self.worker is not None:
            await self.worker.stop()  # waits for the lookups it is running
            self.worker = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.app.running:
            await self.app.stop()
        if self.state.requests is not None:
            await self.state.requests.close()
        await self.app.shutdown()
        if self._queue_open:
            await self.queue.close_async()
            self._queue_open = False
        await advance_at_stop(self.witness, self.service.gallery)
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []

    async def database_back(self) -> None:
        """The database answers again: fresh connections, and the held updates, the messages
        Telegram kept and the lookup worker are taken up at once."""
        await fresh_connections(self.service.gallery, self.queue if self._queue_open else None)
        if self.worker is not None:
            self.worker.wake()
        self.inbox.wake()

    async def _retention_loop(self) -> None:
        settings = self.settings
        while True:
            try:
                report = await self.service.eraser.purge(
                    Requester.system(),
                    retention_days=settings.retention_days or None,  # 0: keep
                    grace_days=settings.forget_grace_days,
                )
                if report.crops or report.file_ids or report.erased or report.sightings:
                    logger.info(
                        "retention: purged %d face crops, %d file ids, %d sightings; erased %d "
                        "identities",
                        report.crops,
                        report.file_ids,
                        report.sightings,
                        len(report.erased),
                    )
                gone = await self.service.gallery.inbox.purge_handled(
                    datetime.now(UTC) - INBOX_KEPT_FOR
                )
                if gone:
                    logger.info("inbox: deleted %d handled update(s)", gone)
            except Exception as exc:
                log_failure("retention purge", exc)
            try:
                # what was deferred is placed again, groups that are one person merged
                await self.service.unknown.nightly(Requester.system())
            except Exception as exc:
                log_failure("sightings' nightly pass", exc)
            await asyncio.sleep(RETENTION_EVERY)

    async def _audit_loop(self) -> None:
        while True:
            try:
                await self.check_audit()
            except Exception as exc:
                log_failure("audit witness update", exc)
            await self.roster.refresh()  # who to tell, should the database stop
            await asyncio.sleep(WITNESS_EVERY)

    async def check_audit(self) -> None:
        """Move the witness forward, raise the alarm when the log does not continue what it
        saw, and send admins the day's check-point."""
        async with self._checking:
            await self._check_audit()

    async def _check_audit(self) -> None:
        verdict = await self.witness.advance(self.service.gallery)
        if not verdict.ok:
            logger.error("audit log: %s", verdict.message)
            if verdict.message not in self._alarms:  # once per process and problem
                self._alarms.add(verdict.message)
                await tell_admins(
                    self.app.bot, self.service.gallery, "audit_alarm", problem=verdict.message
                )
            return
        head = verdict.check.head if verdict.check else None
        gallery = self.service.gallery
        last = await gallery.audit.last_of("audit.checkpoint_sent")
        if head is None or (last is not None and datetime.now(UTC) - last < CHECKPOINT_EVERY):
            return
        told = await tell_admins(
            self.app.bot,
            gallery,
            "audit_checkpoint",
            rows=head.rows,
            row=head.last_id,
            seal=head.last_hash[:32],
            date=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        )
        if told:
            await gallery.audit.append(
                "system",
                "audit.checkpoint_sent",
                f"audit:{head.last_id}",
                {"rows": head.rows, "seal": head.last_hash, "admins": told},
            )


def log_failure(what: str, exc: Exception) -> None:
    """A background task's failure: one line when the database is away, else a traceback."""
    if database_unavailable(exc):
        logger.warning("%s: database unavailable (%s)", what, outage_text(exc))
    else:
        logger.error("%s failed", what, exc_info=exc)


def process_start(stop: asyncio.Event | None) -> asyncio.Event:
    """What a long-running process (the bot, a worker) does first: the allocator tuned before
    the first photo is decoded, and SIGINT/SIGTERM set the returned `stop`."""
    stop = stop or asyncio.Event()
    tune_allocator()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def advance_at_stop(witness: Witness, gallery: Gallery) -> None:
    """Let the witness learn this run's last rows; a failure is one warning, not a crash."""
    try:
        await witness.advance(gallery)
    except Exception as exc:
        logger.warning("could not update the audit witness at stop: %s", exc)


# What runs beside the bot in its process, given the service and the started bot (the composition
# root starts the console so): entered once the bot runs, left before it stops.
Alongside = Callable[[FaceFind, BotRunner], contextlib.AbstractAsyncContextManager[None]]


async def serve(
    settings: Settings, stop: asyncio.Event | None = None, *, alongside: Alongside | None = None
) -> None:
    """Run the bot until SIGINT/SIGTERM (or `stop` is set), and `alongside` with it."""
    stop = process_start(stop)
    service = await FaceFind.open(settings, actor="system")
    try:
        assert settings.telegram_bot_token is not None and service.dsn is not None
        bot_id = bot_id_of(settings.telegram_bot_token)
        # one process runs a bot: a second one would handle the same updates
        lock = BotLock(service.dsn, bot_id, worker_name())
        await lock.acquire()
        keeper = asyncio.create_task(lock.hold(stop.set), name="bot lock")
        try:
            # whoever held this bot's updates before is gone: they are handled here, now
            if released := await service.gallery.inbox.release(bot_id):
                logger.info("inbox: %d update(s) of a previous run are handled now", released)
            runner = BotRunner(settings, service)
            try:
                await runner.start()
                beside = alongside(service, runner) if alongside else contextlib.nullcontext()
                async with beside:
                    await stop.wait()
                    logger.info("stopping: finishing lookups in progress")
            finally:
                await runner.stop()  # also undoes a start that failed half-way
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await lock.release()
        if lock.lost is not None:
            raise lock.lost
    finally:
        await service.close()


def run_with_bot_api(
    settings: Settings, main: Callable[[Settings], Coroutine[Any, Any, None]], what: str
) -> int:
    """Run `main` (the bot, or a worker: `what`) until it stops; a token the Bot API refuses
    or a Bot API out of reach is one clear line and exit status 1, not a traceback."""
    if not settings.telegram_bot_token:
        raise SettingsError(
            f"TELEGRAM_BOT_TOKEN is not set: {what} talks to Telegram through it (create a bot "
            "with @BotFather and put its token in the environment or in .env; see README)"
        )
    try:
        asyncio.run(main(settings))
    except BotLockHeld as exc:
        logger.error(
            "another `facefind run` is running this bot on this database: %s. Two would handle "
            "the same updates, so this one does not run: stop that one first. To answer lookups "
            "on more machines, run `facefind worker` there instead.",
            exc,
        )
        return 1
    except InvalidToken:
        logger.error("the Bot API at %s rejected TELEGRAM_BOT_TOKEN", settings.telegram_api_url)
        return 1
    except NetworkError as exc:
        logger.error("cannot reach the Bot API at %s: %s", settings.telegram_api_url, exc)
        return 1
    return 0


def run_bot(settings: Settings, *, alongside: Alongside | None = None) -> int:
    """`facefind run`: the bot, and what the composition root runs `alongside` it."""
    return run_with_bot_api(settings, functools.partial(serve, alongside=alongside), "the bot")
