"""Signing in and out: the one-time link's page, the Mini App, sign-out."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from console.guard import clear_session_cookie, set_session_cookie
from console.web import SCRIPT_SOURCES, SESSION, STATE, public, render, see_other
from facefind.access.web_sessions import SignInRefused

# the Mini App page loads Telegram's script (it hands the page initData); no other page does
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
# the largest initData Telegram sends is a few kilobytes
MAX_INIT_DATA = 16 * 1024


def _refused(reason: str) -> dict[str, Any]:
    return {
        "title_key": "login_refused_title",
        "text_key": f"login_refused_{reason}",
        "how_key": None if reason == "not_admin" else "login_how",
    }


@public
async def login_page(request: web.Request) -> web.Response:
    """Show the link's sign-in button; using it takes a POST, so that link previews and
    scanners that fetch the link do not use it up."""
    token = request.match_info["token"]
    state = (await request.app[STATE].sessions.link_state(token)).state
    if state != "valid":
        return render(request, "refused.html", _refused(state), status=401)
    return render(request, "login.html", {"token": token})


@public
async def login(request: web.Request) -> web.Response:
    """Use a one-time link: a session cookie, then the home page."""
    state = request.app[STATE]
    try:
        session = await state.sessions.sign_in_with_link(
            request.match_info["token"], remote=request.remote
        )
    except SignInRefused as exc:
        return render(request, "refused.html", _refused(exc.reason), status=exc.status)
    response = see_other("/")
    set_session_cookie(response, state, session)
    return response


@public
async def webapp_page(request: web.Request) -> web.Response:
    """The Mini App's page: Telegram's script hands it initData, ours posts it to
    /auth/webapp."""
    response = render(request, "webapp.html", {"telegram_script": TELEGRAM_SCRIPT})
    response[SCRIPT_SOURCES] = ("https://telegram.org",)
    return response


@public
async def webapp_sign_in(request: web.Request) -> web.Response:
    """Check Telegram's initData: 200 with a session cookie for an admin, 401 for data that
    is not Telegram's (forged, stale, malformed), 403 for anyone else."""
    state = request.app[STATE]
    if request.content_length is not None and request.content_length > MAX_INIT_DATA:
        return web.json_response({"ok": False, "reason": "too_large"}, status=413)
    init_data = ""
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("init_data"), str):
            init_data = body["init_data"]
    else:
        field = (await request.post()).get("init_data")
        init_data = field if isinstance(field, str) else ""
    try:
        session = await state.sessions.sign_in_with_init_data(init_data, remote=request.remote)
    except SignInRefused as exc:
        return web.json_response({"ok": False, "reason": exc.reason}, status=exc.status)
    response = web.json_response({"ok": True, "next": "/"})
    set_session_cookie(response, state, session)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the session (the guard checked its CSRF token), then the signed-out page."""
    state = request.app[STATE]
    await state.sessions.sign_out(request[SESSION], remote=request.remote)
    response = see_other("/signed-out")
    clear_session_cookie(response, state)
    return response


@public
async def signed_out(request: web.Request) -> web.Response:
    return render(request, "signed_out.html", {})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/login/{token}", login_page, name="login_page")
    router.add_post("/login/{token}", login, name="login")
    router.add_get("/app", webapp_page, name="webapp")
    router.add_post("/auth/webapp", webapp_sign_in, name="webapp_sign_in")
    router.add_post("/logout", logout, name="logout")
    router.add_get("/signed-out", signed_out, name="signed_out")
