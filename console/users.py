"""The bot's users (/users): pending requests with Approve / Reject, officers and admins with
their last activity and lookups, and revoke, promote, demote; the user is told in Telegram."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from console.texts import t
from console.web import (
    LANG,
    SESSION,
    NavItem,
    done,
    failed,
    form,
    path_id,
    render,
    requester,
    service_of,
    state_of,
    when,
)
from facefind.access.decisions import USER_ACTIONS, NotOnOneself, readmitted_at_start
from facefind.errors import AlreadyDecided
from gallery import UserActivity

logger = logging.getLogger(__name__)

NAV = NavItem("users", "/users", "nav_users", "home_users")
# the buttons each status offers (an admin's own row offers none that lock them out)
ACTIONS_OF = {
    "pending": ("approve", "reject"),
    "approved": ("revoke", "promote", "demote"),
    "rejected": ("approve",),
    "revoked": ("approve",),
}


async def users(request: web.Request) -> web.Response:
    """Every user, pending requests first; the list is audited (`users.list`)."""
    roster = await service_of(request).users.roster(requester(request))
    lang = request[LANG]
    me = request[SESSION].user.id
    rows = [_row(lang, u, me) for u in roster]
    return render(
        request,
        "users.html",
        {
            "nav": "users",
            "pending": [r for r in rows if r["status"] == "pending"],
            "members": [r for r in rows if r["status"] == "approved"],
            "others": [r for r in rows if r["status"] in ("rejected", "revoked")],
        },
    )


def _row(lang: str, entry: UserActivity, me: int | None) -> dict[str, Any]:
    user = entry.user
    actions = [
        a
        for a in ACTIONS_OF.get(user.status, ())
        if not (a == "promote" and user.role == "admin")
        and not (a == "demote" and user.role != "admin")
        and not (user.id == me and a in ("revoke", "demote", "reject"))
    ]
    return {
        "id": user.id,
        "name": user.display,
        "role": user.role,
        "role_text": t(lang, f"role_{user.role}"),
        "status": user.status,
        "status_text": t(lang, f"user_status_{user.status}"),
        "lookups": entry.lookups,
        "last_active": when(entry.last_active) or t(lang, "never"),
        "asked": when(user.created_at),
        "actions": [(a, t(lang, f"action_{a}")) for a in actions],
    }


async def decide(request: web.Request) -> web.Response:
    """Approve, reject, revoke, promote or demote, as the bot's buttons and commands do; the
    user is told in Telegram through the bot (the console's notice), their menus follow."""
    user_id = path_id(request)
    action = request.match_info["action"]
    if action not in USER_ACTIONS:
        raise web.HTTPNotFound()
    fields = await form(request)
    state = state_of(request)
    # compare-and-set on the status the page showed: another admin's decision in between wins
    expect = fields.get("expect") or None
    try:
        decided = await state.service.users.decision(
            user_id, action, requester(request), expect=expect
        )
    except NotOnOneself:
        return failed("/users", "not_on_oneself")
    except AlreadyDecided:
        return failed("/users", "already_decided")
    if decided is None:
        return failed("/users", "no_such_user")
    before, after = decided
    told = await state.notice(before, after) if state.notice else None
    changed_status = before.status != after.status and after.status != "pending"
    if readmitted_at_start(after, state.settings.admin_ids):
        return done("/users", "decided_admin_ids")
    if changed_status and told is not True:
        return done("/users", "decided_not_told")
    return done("/users", "decided_told" if told else "decided")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/users", users, name="users")
    router.add_post("/users/{id}/{action}", decide, name="user_decide")
