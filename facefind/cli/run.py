"""The long-running processes: `facefind run` (the Telegram bot, with the console beside it),
`facefind worker`, and `facefind console` alone. This is where the composition root starts the
front ends: the only imports of bot/ and console/ in facefind/."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from facefind.runtime.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.runner import Alongside, BotRunner
    from console import DecisionNotice
    from facefind.service import FaceFind

logger = logging.getLogger(__name__)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run_bot

    if not settings.console_enabled:
        logger.info("the console is off (FACEFIND_WEB_LISTEN=off)")
        return run_bot(settings)
    return run_bot(settings, alongside=_console_beside_bot(settings))


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.worker import run_worker

    return run_worker(settings)


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.console_enabled:
        raise SettingsError(
            "FACEFIND_WEB_LISTEN=off: this deployment serves no console; set it to host:port"
        )
    try:
        asyncio.run(_console_alone(settings))
    except KeyboardInterrupt:
        pass
    return 0


def _console_beside_bot(settings: Settings) -> Alongside:
    """The console inside `facefind run`: the bot's service, and the bot to tell users of the
    decisions taken in the console."""
    from bot.console_notices import decision_notice

    @contextlib.asynccontextmanager
    async def beside(service: FaceFind, runner: BotRunner) -> AsyncIterator[None]:
        notice = decision_notice(runner.app.bot, service)
        async with _serving(settings, service, notice):
            yield

    return beside


async def _console_alone(settings: Settings) -> None:
    """`facefind console`: the service and the console, until SIGINT/SIGTERM."""
    from bot.console_notices import standalone_notices
    from bot.runner import process_start
    from facefind.service import FaceFind

    stop = process_start(None)
    service = await FaceFind.open(settings, actor="system")
    try:
        async with (
            standalone_notices(settings, service) as notice,
            _serving(settings, service, notice),
        ):
            await stop.wait()
            logger.info("console: stopping")
    finally:
        await service.close()


@contextlib.asynccontextmanager
async def _serving(
    settings: Settings, service: FaceFind, notice: DecisionNotice | None
) -> AsyncIterator[None]:
    """Serve the console on FACEFIND_WEB_LISTEN while the block runs. Without FACEFIND_WEB_URL
    sign-in links name the address it listens on (known once it listens: port 0 is any)."""
    from console import bound_port, create_app, start

    app = create_app(service=service, settings=settings, notice=notice)
    try:
        runner = await start(app, settings.web_listen)
    except OSError as exc:
        raise SettingsError(
            f"the console cannot listen on FACEFIND_WEB_LISTEN={settings.web_listen}: "
            f"{exc.strerror or exc} (another process uses it? set another host:port)"
        ) from None
    host = settings.web_listen.rpartition(":")[0].strip("[]") or "0.0.0.0"
    if settings.web_url is None:
        service.web_sessions.base_url = f"http://{host}:{bound_port(runner)}"
        if host in ("0.0.0.0", "::"):
            logger.warning(
                "the console listens on every address and FACEFIND_WEB_URL is not set: sign-in "
                "links name %s, which no browser reaches; set FACEFIND_WEB_URL",
                service.web_sessions.base_url,
            )
    logger.info(
        "console listening on http://%s:%d (sign-in links name %s)",
        host,
        bound_port(runner),
        service.web_sessions.base_url,
    )
    try:
        yield
    finally:
        await runner.cleanup()


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "run", help="run the Telegram bot, and the admin console on FACEFIND_WEB_LISTEN"
    ).set_defaults(func=cmd_run)
    sub.add_parser(
        "worker",
        help="answer lookups from the queue (add workers on this or other machines; see "
        "docs/scaling.md)",
    ).set_defaults(func=cmd_worker)
    sub.add_parser(
        "console",
        help="run the admin web console alone (FACEFIND_WEB_LISTEN; see docs/console.md)",
    ).set_defaults(func=cmd_console)
