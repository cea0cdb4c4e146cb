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

from bot.app import application_builder
from bot.context import BotState
from bot.delivery.lookup_jobs import lookup_queue, lookup_worker
from bot.outages import supervise_embedded
from bot.runner import advance_at_stop, process_start, run_with_bot_api
from bot.server import health_app, start_site
from facefind.access.witness import Witness
from facefind.runtime.settings import Settings, parse_listen
from facefind.runtime.supervisor import EmbeddedSupervisor, fresh_connections
from facefind.runtime.task_queue import QueueWorker, worker_name
from facefind.service import FaceFind

logger = logging.getLogger(__name__)


async def serve_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Answer lookup jobs until SIGINT/SIGTERM (or `stop`); running lookups finish first."""
    stop = process_start(stop)
    app = application_builder(settings).build()  # a Bot API client: no handlers, no polling
    service = await FaceFind.open(settings, actor="system")
    queue = lookup_queue(service, settings)
    state = BotState(settings=settings, service=service)
    state.metrics.watch_queue(lambda: service.inference.queued, lambda: service.inference.running)
    witness = Witness.of(settings)
    health = None
    worker: QueueWorker | None = None
    supervisor: EmbeddedSupervisor | None = None
    try:
        await app.initialize()  # getMe: the token works
        await queue.open_async()
        host, port = parse_listen(settings.http_listen)
        health, bound = await start_site(health_app(state), host, port)
        worker = lookup_worker(queue, service, app.bot, state.metrics, settings)
        worker.start()
        running = worker

        async def database_back() -> None:
            await fresh_connections(service.gallery, queue)
            running.wake()

        # the bot beside it tells the admins; a worker restarts the server and says so in its log
        supervisor = supervise_embedded(service, database_back)
        state.ready = True
        logger.info("worker %s is taking lookups; health on port %s", worker_name(), bound)
        await stop.wait()
        logger.info("stopping: finishing lookups in progress")
    finally:
        state.ready = False
        if supervisor is not None:
            await supervisor.stop()
        if worker is not None:
            await worker.stop()
        with contextlib.suppress(Exception):
            await queue.close_async()
        await advance_at_stop(witness, service.gallery)
        if health is not None:
            await health.cleanup()
        await app.shutdown()
        await service.close()


def run_worker(settings: Settings) -> int:
    return run_with_bot_api(
        settings, serve_worker, "a worker (it downloads photos and sends replies)"
    )
