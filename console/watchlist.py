"""Watchlists (/watchlist): the identities watched, an identity put on the list with its reason,
last day, admins to alert and bands, and taken off; each through the service's own action."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.texts import t
from console.web import (
    LANG,
    NavItem,
    done,
    failed,
    form,
    parse_id,
    path_id,
    render,
    requester,
    service_of,
    when,
)
from facefind.investigations.watch import (
    AlreadyWatched,
    NotAnAdmin,
    NotWatchable,
    until_end_of,
)
from facefind.user_input import BadInput
from gallery.watchlists import WatchEntry

NAV = NavItem("watchlist", "/watchlist", "nav_watchlist", "home_watchlist")


async def watchlist(request: web.Request) -> web.Response:
    """The entries in force; the list is audited (`watchlist.list`)."""
    entries = await service_of(request).watchlist.listing(requester(request))
    lang = request[LANG]
    return render(
        request, "watchlist.html", {"nav": "watchlist", "rows": [_row(lang, e) for e in entries]}
    )


def _row(lang: str, e: WatchEntry) -> dict[str, Any]:
    return {
        "identity_id": e.identity_id,
        "name": e.display_name,
        "reason": e.reason,
        "until": when(e.expires_at) or t(lang, "watch_no_expiry"),
        "who": ", ".join(map(str, e.recipients)) if e.recipients else t(lang, "watch_every_admin"),
        "bands": t(lang, "watch_bands_all" if e.alert_possible else "watch_bands_strong"),
        "by": e.created_by,
        "since": when(e.created_at),
    }


async def add(request: web.Request) -> web.Response:
    """Watch an identity, as the bot's /watch does."""
    fields = await form(request)
    identity_id = parse_id(fields.get("identity"))
    if identity_id is None:
        return failed("/watchlist", "watch_which")
    until = None
    if day := fields.get("until", "").strip():
        until = until_end_of(day)
        if until is None:
            return failed("/watchlist", "watch_day")
    recipients = None
    if listed := fields.get("recipients", "").replace(" ", ""):
        ids = [parse_id(p) for p in listed.split(",") if p]
        if not ids or None in ids:
            return failed("/watchlist", "watch_recipients")
        recipients = [i for i in ids if i is not None]
    try:
        await service_of(request).watchlist.add(
            identity_id,
            fields.get("reason", ""),
            requester(request),
            expires_at=until,
            recipients=recipients,
            alert_possible=fields.get("strong_only") != "yes",
        )
    except AlreadyWatched:
        return failed("/watchlist", "watch_already")
    except NotWatchable:
        return failed("/watchlist", "identity_not_in_use")
    except NotAnAdmin:
        return failed("/watchlist", "watch_not_admins")
    except BadInput as exc:
        return failed("/watchlist", f"watch_reason_{exc.reason}")
    except ValueError:
        return failed("/watchlist", "watch_past")
    return done("/watchlist", "watched")


async def remove(request: web.Request) -> web.Response:
    """Take an identity off the watchlist (its entry stays on record)."""
    identity_id = path_id(request)
    fields = await form(request)
    if fields.get("confirm") != "yes":
        return failed("/watchlist", "confirm")
    why = fields.get("why", "").strip() or None
    removed = await service_of(request).watchlist.remove(identity_id, requester(request), why)
    return done("/watchlist", "unwatched") if removed else failed("/watchlist", "not_watched")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/watchlist", watchlist, name="watchlist")
    router.add_post("/watchlist", add, name="watchlist_add")
    router.add_post("/watchlist/{id}/remove", remove, name="watchlist_remove")
