"""The console's aiohttp application: its pages, templates, guard and security headers, and the
server that runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console import (
    audit,
    auth,
    home,
    identities,
    identity_actions,
    lookup_page,
    lookups,
    status,
    unknown,
    users,
    watchlist,
)
from console.guard import guard, security_headers, session_cookie_name
from console.web import STATE, ConsoleState, DecisionNotice
from facefind.runtime.settings import Settings, parse_listen
from facefind.service import FaceFind

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# The page areas, in the menu's order: each module has its routes (`add_routes`) and, when it
# is a menu entry, its NAV item. A new area is a module of its own added here.
PAGES: tuple[ModuleType, ...] = (
    home,
    lookups,
    lookup_page,
    identities,
    identity_actions,
    users,
    watchlist,
    unknown,
    audit,
    status,
)
# links and sessions ended this long ago are deleted (the audit log keeps every sign-in)
PURGE_EVERY = 24 * 3600.0


def create_app(
    *, service: FaceFind, settings: Settings, notice: DecisionNotice | None = None
) -> web.Application:
    """The console over the service. `notice` tells a user in Telegram of a decision on them
    (the composition root provides it; None: the console says they were not told)."""
    sessions = service.web_sessions
    secure = sessions.secure_cookies
    nav = tuple(item for page in PAGES if (item := getattr(page, "NAV", None)) is not None)
    # an upload is a photo: as large as a photo may be, and a little more for the form
    max_size = settings.limits.max_image_bytes + 1024**2
    app = web.Application(middlewares=[guard], client_max_size=max_size)
    app[STATE] = ConsoleState(
        service=service,
        settings=settings,
        cookie_name=session_cookie_name(secure),
        secure=secure,
        nav=nav,
        notice=notice,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_housekeeping)
    auth.add_routes(app.router)
    for page in PAGES:
        page.add_routes(app.router)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Forget sign-in links and sessions long over, daily, while the console runs."""

    async def loop() -> None:
        while True:
            try:
                links, ended = await app[STATE].sessions.purge()
                if links or ended:
                    logger.info("console: forgot %d old sign-in links, %d sessions", links, ended)
            except Exception as exc:
                logger.warning("console: could not forget old sessions: %s", exc)
            await asyncio.sleep(PURGE_EVERY)

    task = asyncio.create_task(loop(), name="console housekeeping")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def start(app: web.Application, listen: str) -> web.AppRunner:
    """Serve the console on host:port (port 0: any free one); the runner stops it."""
    host, port = parse_listen(listen)
    # no access log: a sign-in link's token is in its path
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner listens on (after start with port 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the console is not listening on a TCP port")
