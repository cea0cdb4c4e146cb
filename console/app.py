"""The console's aiohttp application: its state, templates, guard and security headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.texts import browser_language, language_of, texts_for
from facefind.lookup_history import LookupHistory
from facefind.settings import Settings, parse_listen
from facefind.web_sessions import (
    Clock,
    Session,
    SessionRefused,
    WebSessions,
    console_base_url,
    csrf_ok,
    utc_now,
)
from gallery.console import ConsoleStore, GalleryCore

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# Telegram's web clients, which show a Mini App in a frame: the only pages that may frame ours
TELEGRAM_WEB_CLIENTS = (
    "https://web.telegram.org",
    "https://webk.telegram.org",
    "https://webz.telegram.org",
)
# the Mini App page loads Telegram's script (it hands the page initData); no other page does
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ConsoleState:
    """What every handler may use; built once by create_app."""

    sessions: WebSessions
    history: LookupHistory
    cookie_name: str
    secure: bool


STATE = web.AppKey("state", ConsoleState)
SESSION = web.RequestKey("session", Session)
LANG = web.RequestKey("lang", str)
# sources a response adds to script-src (the Mini App page: Telegram's script)
SCRIPT_SOURCES = web.ResponseKey("script_sources", tuple)


def content_security_policy(script_sources: tuple[str, ...] = ()) -> str:
    """No inline script or style anywhere, nothing from elsewhere but what a page names, and
    only Telegram's web clients may frame the console."""
    scripts = " ".join(("'self'", *script_sources))
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors " + " ".join(TELEGRAM_WEB_CLIENTS),
        )
    )


def public(handler: Handler) -> Handler:
    """Mark a page that needs no session (signing in, signed out)."""
    handler.console_public = True  # type: ignore[attr-defined]
    return handler


def is_public(handler: Any) -> bool:
    return bool(getattr(handler, "console_public", False))


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page in the reader's language, with the session's name and CSRF token when signed in."""
    lang = request.get(LANG) or browser_language(request.headers.get("Accept-Language"))
    session = request.get(SESSION)
    full = {"T": texts_for(lang), "lang": lang, "session": session, **context}
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def session_cookie_name(secure: bool) -> str:
    # __Host-: the browser keeps it only if Secure, for this host and path / (no subdomain
    # can plant or read it); over plain HTTP the prefix is not allowed
    return "__Host-facefind_console" if secure else "facefind_console"


def set_session_cookie(response: web.StreamResponse, state: ConsoleState, session: Session) -> None:
    """HttpOnly and SameSite=Strict; Secure over HTTPS. A Mini App session over HTTPS is
    SameSite=None and Partitioned instead: Telegram's web clients show the Mini App in a frame
    of their own site, where a Strict cookie is never sent; a partitioned cookie is kept for
    that frame under that site only, and forms still need the CSRF token."""
    framed = session.method == "webapp" and state.secure
    response.set_cookie(
        state.cookie_name,
        session.token,
        httponly=True,
        secure=state.secure,
        samesite="None" if framed else "Strict",
        partitioned=True if framed else None,
        path="/",
    )


def clear_session_cookie(response: web.StreamResponse, state: ConsoleState) -> None:
    response.del_cookie(state.cookie_name, path="/", secure=state.secure, httponly=True)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the sign-in ones needs a session whose user is an admin now, read from
    the database on each request; every state-changing request needs the session's CSRF
    token (form field or header)."""
    state = request.app[STATE]
    request[LANG] = browser_language(request.headers.get("Accept-Language"))
    if request.method not in SAFE_METHODS and not same_origin(request, state.sessions.base_url):
        # a form of another site posting here (sign-in pages too: no one's link is used by it)
        return render(request, "refused.html", _cross_site(), status=403)
    if is_public(handler) or request.path.startswith("/static/"):
        return await handler(request)
    try:
        session = await state.sessions.session(request.cookies.get(state.cookie_name))
    except SessionRefused as exc:
        if exc.status == 403:
            response = render(request, "refused.html", _withdrawn(), status=403)
        else:
            response = render(request, "refused.html", _need_sign_in(), status=401)
        clear_session_cookie(response, state)
        return response
    request[SESSION] = session
    request[LANG] = language_of(session.user.language)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        if not csrf_ok(session, given):
            await state.sessions.refuse_csrf(session, request.path, remote=request.remote)
            return render(request, "refused.html", _cross_site(), status=403)
    return await handler(request)


def same_origin(request: web.Request, base_url: str) -> bool:
    """Whether a request comes from the console's own pages. Browsers say where a request comes
    from in Sec-Fetch-Site, whatever the page's referrer policy; an older browser's Origin is
    compared instead ("null" under Referrer-Policy: no-referrer, which tells nothing: the CSRF
    token still guards signed-in forms). Neither header: not a browser's form."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    return origin == base_url or urlsplit(origin).netloc == request.host


def _cross_site() -> dict[str, Any]:
    return {"title_key": "forbidden_title", "text_key": "csrf_text", "how_key": None}


def _need_sign_in() -> dict[str, Any]:
    return {
        "title_key": "need_sign_in_title",
        "text_key": "need_sign_in_text",
        "how_key": "login_how",
    }


def _withdrawn() -> dict[str, Any]:
    return {"title_key": "withdrawn_title", "text_key": "withdrawn_text", "how_key": None}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, errors and static files included."""
    sources = response.get(SCRIPT_SOURCES, ())
    response.headers["Content-Security-Policy"] = content_security_policy(sources)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # no other site may embed a picture or a page's data, even by <img> or <script>
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith("/static/"):
        # pages and pictures hold personal data: never kept by a browser or a proxy
        response.headers["Cache-Control"] = "no-store"


def create_app(
    *,
    gallery: GalleryCore,
    settings: Settings,
    bot_token: str | None,
    clock: Clock = utc_now,
) -> web.Application:
    """The console over a gallery (its pool, transactions and audit). `bot_token` checks the
    Mini App's initData (None: no Mini App sign-in); `clock` is the time every expiry is
    measured by."""
    from console import auth, pages  # the handlers import this module's helpers

    base_url = console_base_url(settings.web_url, settings.web_listen)
    sessions = WebSessions(
        ConsoleStore(gallery), base_url=base_url, bot_token=bot_token, clock=clock
    )
    secure = sessions.secure_cookies
    app = web.Application(middlewares=[guard], client_max_size=1024**2)
    app[STATE] = ConsoleState(
        sessions=sessions,
        history=LookupHistory(gallery),
        cookie_name=session_cookie_name(secure),
        secure=secure,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.on_response_prepare.append(security_headers)
    auth.add_routes(app.router)
    pages.add_routes(app.router)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


async def start(app: web.Application, listen: str) -> web.AppRunner:
    """Serve the console on host:port (port 0: any free one); the runner stops it."""
    host, port = parse_listen(listen)
    # no access log: a sign-in link's token is in its path
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner listens on (after start with port 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the console is not listening on a TCP port")
