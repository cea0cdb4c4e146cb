"""The console's protections: a session whose user is an admin now on every page, CSRF on every
change, same-site posts only, the session cookie, and the security headers of every response."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from console.texts import browser_language, language_of
from console.web import (
    LANG,
    SCRIPT_SOURCES,
    SESSION,
    STATE,
    ConsoleState,
    Handler,
    is_public,
    refused_page,
)
from facefind.access.web_sessions import Session, SessionRefused, csrf_ok

logger = logging.getLogger(__name__)

# Telegram's web clients, which show a Mini App in a frame: the only pages that may frame ours
TELEGRAM_WEB_CLIENTS = (
    "https://web.telegram.org",
    "https://webk.telegram.org",
    "https://webz.telegram.org",
)
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    if framed:
        add_partitioned_cookie(response, state.cookie_name, session.token)
        return
    response.set_cookie(
        state.cookie_name,
        session.token,
        httponly=True,
        secure=state.secure,
        samesite="Strict",
        path="/",
    )


def add_partitioned_cookie(response: web.StreamResponse, name: str, value: str) -> None:
    """A Mini App's session cookie (or its removal): HttpOnly, Secure, SameSite=None and
    Partitioned. Written out: Python's http.cookies knows the Partitioned attribute only from
    3.14 (aiohttp's set_cookie(partitioned=True) raises CookieError before it); a session token
    is URL-safe base64, nothing in it needs quoting."""
    response.headers.add(
        hdrs.SET_COOKIE, f"{name}={value}; HttpOnly; Path=/; SameSite=None; Secure; Partitioned"
    )


def clear_session_cookie(response: web.StreamResponse, state: ConsoleState) -> None:
    """Remove the session cookie, of either kind: over HTTPS a Mini App's partitioned cookie
    is removed only by a Set-Cookie that is partitioned too."""
    response.del_cookie(state.cookie_name, path="/", secure=state.secure, httponly=True)
    if state.secure:
        add_partitioned_cookie(response, state.cookie_name, '""; Max-Age=0')


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the sign-in ones needs a session whose user is an admin now, read from
    the database on each request; every state-changing request needs the session's CSRF
    token (form field or header)."""
    state = request.app[STATE]
    request[LANG] = browser_language(request.headers.get("Accept-Language"))
    if request.method not in SAFE_METHODS and not same_origin(request, state.sessions.base_url):
        # a form of another site posting here (sign-in pages too: no one's link is used by it)
        return refused_page(request, "forbidden_title", "csrf_text", 403)
    if is_public(handler) or request.path.startswith("/static/"):
        return await handler(request)
    try:
        session = await state.sessions.session(request.cookies.get(state.cookie_name))
    except SessionRefused as exc:
        if exc.status == 403:
            response = refused_page(request, "withdrawn_title", "withdrawn_text", 403)
        else:
            response = refused_page(
                request, "need_sign_in_title", "need_sign_in_text", 401, "login_how"
            )
        clear_session_cookie(response, state)
        return response
    request[SESSION] = session
    request[LANG] = language_of(session.user.language)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in FORMS:
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        if not csrf_ok(session, given):
            await state.sessions.refuse_csrf(session, request.path, remote=request.remote)
            return refused_page(request, "forbidden_title", "csrf_text", 403)
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
