"""aiohttp servers: /healthz and /metrics (private), and the Telegram webhook (public).

The two never share a listener: the webhook's is published to the internet, and /healthz tells
the gallery's size, its bands and the queue's counts, which are nobody else's business. The
public listener answers the webhook path only (404 for anything else).
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.context import BotState

logger = logging.getLogger(__name__)

STATE = web.AppKey("state", BotState)
PTB_APP = web.AppKey("ptb", Application)
SECRET = web.AppKey("secret", str)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and the models are loaded; 503 otherwise."""
    state = request.app[STATE]
    database = False
    try:
        database = await state.service.gallery.db.ping()
    except Exception as exc:
        logger.warning("health check: database unreachable: %s", exc)
    models = state.service.analyzer is not None
    ok = database and models and state.ready
    body: dict[str, object] = {
        "status": "ok" if ok else "unavailable",
        "database": database,
        "models": models,
        "model": state.service.model,
        "bot": state.ready,
        # the outbox and the inbox: None while the database does not answer
        "lookups_open": None,
        "undelivered": None,
        "inbox_unhandled": None,
    }
    if database:
        # the gallery's size and the bands in force for it (they follow the size)
        try:
            body["gallery"] = (await state.service.bands.current()).as_dict()
        except Exception as exc:
            logger.warning("health check: cannot read the gallery's size: %s", exc)
        gallery = state.service.gallery
        try:
            body["lookups_open"] = await gallery.lookups.count_open()
            body["undelivered"] = await gallery.lookups.count_undelivered()
            body["inbox_unhandled"] = await gallery.inbox.count_unhandled()
        except Exception as exc:
            logger.warning("health check: counts unavailable: %s", exc)
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def health_app(state: BotState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def webhook(request: web.Request) -> web.Response:
    """Check the secret header, store the update, then answer 200; 503 when it cannot be
    stored, so that Telegram delivers it again."""
    expected = request.app[SECRET]
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("webhook call with a wrong secret token from %s", request.remote)
        return web.Response(status=403, text="forbidden")
    try:
        data = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.Response(status=400, text="bad request")
    ptb = request.app[PTB_APP]
    update = Update.de_json(data, ptb.bot)
    inbox = request.app[STATE].inbox
    try:
        await inbox.receive([update])
    except Exception as exc:
        await inbox.refuse([update], exc)
        return web.Response(status=503, text="unavailable")
    return web.Response(text="ok")


def webhook_app(ptb: Application, state: BotState, path: str, secret: str) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[PTB_APP] = ptb
    app[STATE] = state
    app[SECRET] = secret
    app.router.add_post(path, webhook)
    return app


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (port 0 picks a free one); returns the runner and real port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return runner, bound
