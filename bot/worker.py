"""`facefind worker`: a process that answers lookups from the queue, on this machine or another.

The bot stores every update and queues one job per lookup (bot/inbox.py, facefind/queue.py);
any number of worker processes take those jobs. A worker needs what a job needs: the database,
the models, the Bot API (to download the photo and deliver the reply) and the audit key. It
takes no updates itself. Run the bot with FACEFIND_IN_PROCESS_WORKER=false to leave every lookup
to the workers, or keep its own worker and add more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.app import application_builder, run_with_bot_api
from bot.context import BotState
from bot.lookup_jobs import CONTEXT_KEY, LookupJobs, register_lookup_task
from bot.server import health_app, start_site
from facefind.audit import Witness
from facefind.memory import tune_allocator
from facefind.queue import QueueWorker, open_queue, worker_name
from facefind.service import FaceFind
from facefind.settings import Settings, parse_listen

logger = logging.getLogger(__name__)


async def serve_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Answer lookup jobs until SIGINT/SIGTERM (or `stop`); running lookups finish first."""
    stop = stop or asyncio.Event()
    tune_allocator()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = application_builder(settings).build()  # a Bot API client: no handlers, no polling
    service = await FaceFind.open(settings, actor="system")
    assert service.dsn is not None
    queue = open_queue(
        service.dsn,
        max_connections=settings.lookups_at_once + 4,
        acquire_timeout=settings.db_acquire_timeout,
    )
    register_lookup_task(queue, settings)
    state = BotState(settings=settings, service=service)
    state.metrics.watch_queue(lambda: service.inference.queued, lambda: service.inference.running)
    witness = Witness.of(settings)
    health = None
    worker: QueueWorker | None = None
    try:
        await app.initialize()  # getMe: the token works
        await queue.open_async()
        host, port = parse_listen(settings.http_listen)
        health, bound = await start_site(health_app(state), host, port)
        jobs = LookupJobs(service, app.bot, state.metrics, attempts=settings.reply_attempts)
        worker = QueueWorker(
            queue,
            service.gallery,
            concurrency=settings.lookups_at_once,
            heartbeat=settings.job_heartbeat,
            context={CONTEXT_KEY: jobs},
        )
        worker.start()
        state.ready = True
        logger.info("worker %s is taking lookups; health on port %s", worker_name(), bound)
        await stop.wait()
        logger.info("stopping: finishing lookups in progress")
    finally:
        state.ready = False
        if worker is not None:
            await worker.stop()
        with contextlib.suppress(Exception):
            await queue.close_async()
        try:
            await witness.advance(service.gallery)
        except Exception as exc:
            logger.warning("could not update the audit witness at stop: %s", exc)
        if health is not None:
            await health.cleanup()
        await app.shutdown()
        await service.close()


def run_worker(settings: Settings) -> int:
    return run_with_bot_api(
        settings, serve_worker, "a worker (it downloads photos and sends replies)"
    )
