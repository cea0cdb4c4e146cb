"""What every page of the console shares: its state, the signed-in admin, rendering in their
language inside the common layout, and the small parsers for addresses and forms."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console.texts import browser_language, texts_for
from facefind.access.actors import Requester
from facefind.access.web_sessions import Session, WebSessions
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import User

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What the composition root gives the console to tell a user in Telegram about a decision on
# them (before, after): True told, False not (Telegram refused), None nothing to tell. The
# console never talks to Telegram itself.
DecisionNotice = Callable[[User, User], Awaitable[bool | None]]


@dataclass(frozen=True)
class NavItem:
    """An entry of the menu every page shows: its address and its text key."""

    area: str
    path: str
    text_key: str
    summary_key: str


@dataclass(frozen=True)
class ConsoleState:
    """What every handler may use; built once by create_app."""

    service: FaceFind
    settings: Settings
    cookie_name: str
    secure: bool
    nav: tuple[NavItem, ...]
    notice: DecisionNotice | None = None

    @property
    def sessions(self) -> WebSessions:
        return self.service.web_sessions


STATE = web.AppKey("state", ConsoleState)
SESSION = web.RequestKey("session", Session)
LANG = web.RequestKey("lang", str)
# sources a response adds to script-src (the Mini App page: Telegram's script)
SCRIPT_SOURCES = web.ResponseKey("script_sources", tuple)

_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def public(handler: Handler) -> Handler:
    """Mark a page that needs no session (signing in, signed out)."""
    handler.console_public = True  # type: ignore[attr-defined]
    return handler


def is_public(handler: Any) -> bool:
    return bool(getattr(handler, "console_public", False))


def state_of(request: web.Request) -> ConsoleState:
    return request.app[STATE]


def service_of(request: web.Request) -> FaceFind:
    return request.app[STATE].service


def requester(request: web.Request) -> Requester:
    """The signed-in admin as the service knows them (their record as read for this request)."""
    return request[SESSION].requester


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page in the reader's language, with the session's name and CSRF token when signed in,
    the menu, and the notice an action left in the address (?notice=...)."""
    lang = request.get(LANG) or browser_language(request.headers.get("Accept-Language"))
    texts = texts_for(lang)
    notice = request.query.get("notice", "")
    error = request.query.get("error", "")
    full = {
        "T": texts,
        "lang": lang,
        "session": request.get(SESSION),
        "nav_items": request.app[STATE].nav,
        # an action's outcome, named in the address it sent the browser to (never free text)
        "notice_text": texts.get(f"notice_{notice}") if notice.isidentifier() else None,
        "error_text": texts.get(f"error_{error}") if error.isidentifier() else None,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def refused_page(
    request: web.Request, title_key: str, text_key: str, status: int, how_key: str | None = None
) -> web.Response:
    return render(
        request,
        "refused.html",
        {"title_key": title_key, "text_key": text_key, "how_key": how_key},
        status=status,
    )


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def done(path: str, notice: str) -> web.Response:
    """After an action: back to the page, which names what was done (`notice_<key>`)."""
    return see_other(with_query(path, notice=notice))


def failed(path: str, error: str) -> web.Response:
    """After an action refused: back to the page, which says why (`error_<key>`)."""
    return see_other(with_query(path, error=error))


def with_query(path: str, **values: object) -> str:
    kept = {k: str(v) for k, v in values.items() if v is not None and v != ""}
    return path + (f"?{urlencode(kept)}" if kept else "")


def parse_id(raw: str | None) -> int | None:
    """An id from an address or a form; None for anything that is not one."""
    raw = (raw or "").strip().removeprefix("#")
    return int(raw) if _ID.fullmatch(raw) and int(raw) > 0 else None


def path_id(request: web.Request, name: str = "id") -> int:
    """The id in the address; 404 for anything else."""
    found = parse_id(request.match_info.get(name))
    if found is None:
        raise web.HTTPNotFound()
    return found


def parse_day(raw: str | None) -> datetime | None:
    """A YYYY-MM-DD day (midnight UTC); None for anything else."""
    raw = (raw or "").strip()
    if not _DAY.fullmatch(raw):
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


async def form(request: web.Request) -> dict[str, str]:
    """A posted form's text fields (the guard checked its CSRF token already)."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def when(moment: datetime | None) -> str:
    """A time as the console shows it: UTC, to the minute."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else ""


def no_store_picture(data: bytes, content_type: str = "image/jpeg") -> web.Response:
    """A picture for a signed-in admin: the security headers add Cache-Control: no-store."""
    return web.Response(body=data, content_type=content_type)


def purged_picture() -> web.Response:
    """A picture retention cleared: 410 with the word, so the page can say so."""
    return web.Response(status=410, text="purged")
