"""The lookup job: download, identify and answer one recorded lookup, in any worker process.

Nothing here depends on the bot's process: a job needs the service, a `Bot` (built from the
settings) and the metrics, handed to the worker as its context. The job reads the lookup's
state and continues from there (received -> analysed -> reply delivered), so a retry, a
duplicate job or a job taken over from a dead worker never does the work twice.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import procrastinate
from procrastinate.job_context import JobContext
from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.delivery.alerts import AlertSender
from bot.delivery.notify import tell_admins, user_label
from bot.delivery.outbox import deliver, reply_context
from bot.delivery.replies import chat_action
from bot.delivery.telegram_io import DEFAULT_POLICY, FileTooBig, RetryPolicy, download, transient
from bot.metrics import Metrics
from facefind.access.actors import Requester
from facefind.runtime.settings import Settings
from facefind.runtime.task_queue import (
    LOOKUP_QUEUE,
    LOOKUP_TASK,
    Backoff,
    QueueWorker,
    job_run,
    open_queue,
    worker_name,
)
from facefind.service import FaceFind
from gallery import Lookup
from recognition import ImageError
from recognition.types import VideoLimits

logger = logging.getLogger(__name__)

CONTEXT_KEY = "facefind"
OPEN = ("pending", "replying")
# the error of a lookup closed because its worker kept dying while running it
CRASHED = "worker_crashed"


class PermanentDeliveryError(Exception):
    """Telegram refused the reply for good (the user blocked the bot, the chat is gone)."""


@dataclass
class LookupJobs:
    """What a lookup job needs, shared by the jobs of one worker."""

    service: FaceFind
    bot: Bot
    metrics: Metrics
    attempts: int
    max_image_bytes: int  # FACEFIND_MAX_IMAGE_BYTES: a download stops past it
    crash_limit: int = 2
    policy: RetryPolicy = DEFAULT_POLICY
    worker: str = field(default_factory=worker_name)
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    max_faces: int = 10  # FACEFIND_MAX_FACES, as the reply names it
    sightings_to_officers: bool = True
    alerts: AlertSender | None = None

    async def run(
        self, lookup_id: int, done_before: int, run: tuple[str, int | None] | None = None
    ) -> None:
        """One run of a lookup's job (`run`: its mark and its worker); `done_before` runs of it
        happened already."""
        last = done_before + 1 >= self.attempts
        try:
            await self._advance(lookup_id, run)
        except Exception as exc:
            if not last and not isinstance(exc, PermanentDeliveryError):
                logger.warning(
                    "lookup %s: run %d of %d failed (%s); it will be retried",
                    lookup_id,
                    done_before + 1,
                    self.attempts,
                    exc,
                )
                raise
            logger.error("lookup %s: giving up after run %d", lookup_id, done_before + 1)
            await self._give_up(lookup_id, exc)

    async def _advance(self, lookup_id: int, run: tuple[str, int | None] | None = None) -> None:
        gallery = self.service.gallery
        lookup = await gallery.lookups.get(lookup_id)
        if lookup is None or lookup.status not in OPEN or lookup.chat_id is None:
            return  # answered already: a duplicate or late job
        if lookup.crashes >= self.crash_limit:
            await self._stop_crashing(lookup)
            return
        # a lookup a worker died under may be what killed it: such lookups run one at a time
        # (across every process), so the next death is not blamed on the others
        alone: contextlib.AbstractAsyncContextManager[None] = (
            gallery.jobs.one_at_a_time() if lookup.crashes else contextlib.nullcontext()
        )
        async with alone:
            if run is not None:
                await gallery.jobs.mark_run(lookup_id, *run)
            await self._continue(lookup)

    async def _continue(self, lookup: Lookup) -> None:
        """Take an open lookup on from where it is: analyse it, then deliver its reply."""
        if lookup.status == "pending":
            await self._analyse(lookup)
            analysed = await self.service.gallery.lookups.get(lookup.id)
            if analysed is None:
                return
            lookup = analysed
        if lookup.status == "replying":
            await self._alert(lookup)
            await self._deliver(lookup)

    async def _alert(self, lookup: Lookup) -> None:
        """The lookup's watchlist alerts (raised once, whichever run gets here), sent at once;
        what cannot be sent now is left to the housekeeping's sweep, never to the reply."""
        try:
            if await self.service.identifier.raise_alerts(lookup.id) and self.alerts:
                await self.alerts.send_due()
        except Exception as exc:
            logger.warning(
                "lookup %s: watchlist alerts left to the next sweep (%s)", lookup.id, exc
            )

    async def _files(self, lookup: Lookup) -> tuple[list[tuple[str | None, int | None]], int]:
        """The Telegram files a lookup analyses, with their announced sizes, and the byte limit
        of each."""
        if lookup.media == "album":
            album = await self.service.gallery.albums.of_lookup(lookup.id)
            parts = album.parts if album is not None else ()
            return [(p.file_id, p.file_size) for p in parts], self.max_image_bytes
        if lookup.media == "photo":
            return [(lookup.file_id, None)], self.max_image_bytes
        return [(lookup.file_id, None)], self.video_limits.max_bytes

    async def _analyse(self, lookup: Lookup) -> None:
        service = self.service
        assert lookup.user_id is not None and lookup.chat_id is not None
        requester = Requester.telegram(lookup.user_id)
        user = await service.gallery.users.get(lookup.user_id)
        if user is None or not user.is_approved:
            # access withdrawn while the photo waited: its photo is not even downloaded
            await service.identifier.fail_lookup(
                lookup.id, requester, "access_withdrawn", reply_owed=True
            )
            return
        files, limit = await self._files(lookup)
        if not files or any(file_id is None for file_id, _ in files):
            await service.identifier.fail_lookup(
                lookup.id, requester, "download_failed", reply_owed=True
            )
            return
        await service.gallery.lookups.handled_by(lookup.id, self.worker)
        async with chat_action(self.bot, lookup.chat_id, ChatAction.TYPING):
            try:
                data = [
                    await download(self.bot, file_id, size, limit, self.policy)
                    for file_id, size in files
                    if file_id is not None
                ]
            except FileTooBig as exc:
                await service.identifier.fail_lookup(
                    lookup.id, requester, exc.code, reply_owed=True
                )
                return
            except TelegramError as exc:
                if transient(exc):
                    raise  # Telegram unreachable: the job is retried later
                logger.warning("download of lookup %s failed: %s", lookup.id, exc)
                await service.identifier.fail_lookup(
                    lookup.id, requester, "download_failed", reply_owed=True
                )
                return
            try:
                # the decoded photo lives only inside identify: it is released before any
                # reply is sent, and the reply is rebuilt from what identify stored
                identifier = service.identifier
                if lookup.media == "album":
                    await identifier.identify_album(
                        data, requester, lookup_id=lookup.id, reply_owed=True
                    )
                elif lookup.media == "photo":
                    await identifier.identify(
                        data[0], requester, lookup_id=lookup.id, reply_owed=True
                    )
                else:
                    await identifier.identify_clip(
                        data[0], requester, lookup_id=lookup.id, reply_owed=True
                    )
            except ImageError:
                pass  # recorded on the lookup, with the reply that explains it
            del data

    async def _deliver(self, lookup: Lookup) -> None:
        ctx = await reply_context(
            self.service,
            lookup,
            sightings_to_officers=self.sightings_to_officers,
            max_faces=self.max_faces,
            video=self.video_limits,
        )
        try:
            status = await deliver(self.bot, self.service, lookup, ctx)
        except TelegramError as exc:
            if transient(exc):
                raise
            raise PermanentDeliveryError(str(exc)) from exc
        if status is not None:
            self.metrics.lookups.labels(status).inc()
            self.metrics.lookup_seconds.observe(
                (datetime.now(UTC) - lookup.created_at).total_seconds()
            )

    async def _stop_crashing(self, lookup: Lookup) -> None:
        """Its worker died under this lookup's job `crash_limit` times: the photo is not tried
        again. One not analysed yet is closed as an error whose reply tells the user; one whose
        reply was being delivered is given up. Admins are told, once."""
        gallery = self.service.gallery
        details = {"crashes": lookup.crashes, "last_worker": lookup.handled_by}
        if lookup.status == "pending":
            if await gallery.jobs.abandon(lookup.id, CRASHED, "system", details):
                logger.error(
                    "lookup %s: its worker died %d times while running it; closed as an error",
                    lookup.id,
                    lookup.crashes,
                )
                await self._tell_admins(lookup)
            closed = await gallery.lookups.get(lookup.id)
            if closed is not None and closed.status == "replying":
                await self._deliver(closed)
        elif lookup.error == CRASHED and lookup.outcome == "error":
            await self._deliver(lookup)  # closed already: its reply is still owed
        elif await gallery.replies.undelivered(lookup.id, "system", CRASHED):
            logger.error(
                "lookup %s: its worker died %d times while delivering its reply; given up",
                lookup.id,
                lookup.crashes,
            )
            self.metrics.undelivered.inc()
            self.metrics.lookups.labels("undelivered").inc()
            await self._tell_admins(lookup)

    async def _tell_admins(self, lookup: Lookup) -> None:
        gallery = self.service.gallery
        user = await gallery.users.get(lookup.user_id) if lookup.user_id is not None else None
        await tell_admins(
            self.bot,
            gallery,
            "lookup_crashed_admin",
            id=lookup.id,
            user=user_label(user) if user is not None else "?",
            crashes=lookup.crashes,
            worker=lookup.handled_by or "?",
        )

    async def _give_up(self, lookup_id: int, exc: BaseException) -> None:
        """The last run failed: close the lookup so it is not left open, and count it."""
        gallery = self.service.gallery
        lookup = await gallery.lookups.get(lookup_id)
        if lookup is None or lookup.status not in OPEN:
            return
        if lookup.status == "pending" and lookup.user_id is not None:
            # the analysis never finished: tell the user it failed, if Telegram lets us
            await self.service.identifier.fail_lookup(
                lookup_id, Requester.telegram(lookup.user_id), "internal_error", reply_owed=True
            )
            try:
                await self._advance(lookup_id)
                return
            except Exception as again:
                exc = again
        reason = type(exc).__name__
        if await gallery.replies.undelivered(lookup_id, "system", reason):
            self.metrics.undelivered.inc()
            self.metrics.lookups.labels("undelivered").inc()
            logger.error("lookup %s: reply undelivered (%s)", lookup_id, exc)


def register_lookup_task(queue: procrastinate.App, settings: Settings) -> None:
    """Teach a procrastinate app how to run lookup jobs, with the reply retry schedule."""
    backoff = Backoff(settings.reply_attempts, settings.reply_backoff, settings.reply_backoff_max)

    async def lookup(context: JobContext, lookup_id: int) -> None:
        jobs: LookupJobs = context.additional_context[CONTEXT_KEY]
        started = time.perf_counter()
        run = (job_run(context.job), context.job.worker_id)
        await jobs.run(lookup_id, context.job.attempts, run)
        logger.debug("lookup %s job ran in %.2fs", lookup_id, time.perf_counter() - started)

    queue.task(name=LOOKUP_TASK, queue=LOOKUP_QUEUE, pass_context=True, retry=backoff)(lookup)


def lookup_queue(service: FaceFind, settings: Settings) -> procrastinate.App:
    """The lookup queue (not yet open), its task registered: the same for the bot and for
    `facefind worker`."""
    assert service.dsn is not None, "open the service with FaceFind.open"
    queue = open_queue(
        service.dsn,
        # the worker's jobs, its listener and heartbeat, and the handlers queueing jobs
        max_connections=settings.lookups_at_once + 4,
        acquire_timeout=settings.db_acquire_timeout,
    )
    register_lookup_task(queue, settings)
    return queue


def lookup_worker(
    queue: procrastinate.App, service: FaceFind, bot: Bot, metrics: Metrics, settings: Settings
) -> QueueWorker:
    """A worker (not yet started) that answers lookup jobs with this Bot API client."""
    # FACEFIND_WEB_URL, when set: a button to the lookup in the console
    alerts = AlertSender(
        bot, service, web_url=settings.web_url if settings.console_enabled else None
    )
    jobs = LookupJobs(
        service,
        bot,
        metrics,
        attempts=settings.reply_attempts,
        max_image_bytes=settings.limits.max_image_bytes,
        crash_limit=settings.lookup_crash_limit,
        video_limits=settings.video_limits,
        max_faces=settings.limits.max_faces,
        sightings_to_officers=settings.sightings_to_officers,
        alerts=alerts,
    )
    return QueueWorker(
        queue,
        service.gallery,
        concurrency=settings.lookups_at_once,
        heartbeat=settings.job_heartbeat,
        context={CONTEXT_KEY: jobs},
        chores=[alerts.sweep],  # alerts left over, and bursts' counts once their window ends
    )
