"""Administrator handlers for users: access decisions (buttons and commands), the user list,
the service's status."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError

from bot.context import BotContext
from bot.delivery.notify import request_text, user_label
from bot.handlers.common import admin_only, parse_callback, reply
from bot.handlers.menus import set_admin_menu, set_console_button
from bot.texts import language_of, t
from facefind.access.actors import Requester
from facefind.access.decisions import NotOnOneself, UserDecisions, readmitted_at_start
from facefind.errors import AlreadyDecided
from facefind.user_input import parse_id
from gallery import User

logger = logging.getLogger(__name__)


# --- access decisions -------------------------------------------------------------------------
# button kinds: a single request's (a, r) and a digest's rows (da, dr; bot/notify.py)
# the buttons of a single request (a, r) and of a digest's rows (da, dr)
DECISIONS = {"a": "approve", "r": "reject", "da": "approve", "dr": "reject"}


@admin_only
async def access_decision(update: Update, context: BotContext) -> None:
    """Approve or reject a pending user from the buttons on an access request."""
    query = update.callback_query
    assert query is not None and context.sender is not None
    parsed = parse_callback(query.data, DECISIONS)
    if parsed is None:
        await query.answer(t(context.lang, "not_allowed"))
        return
    action, target_id = parsed
    digest = (query.data or "").startswith("acc:d")
    decisions = context.service.users
    try:
        updated = await decisions.decide(
            target_id, action, Requester.of(context.sender), expect="pending"
        )
    except AlreadyDecided as decided:
        # another admin decided first (a moment ago, or on their copy of this request)
        by = await decided_by(decisions, decided.user)
        status = t(context.lang, f"status_{decided.user.status}")
        await query.answer(
            t(context.lang, "already_decided", status=status, admin=by), show_alert=True
        )
        await _mark_request(query.message, context, decided.user, by, digest=digest)
        return
    if updated is None:
        await query.answer(t(context.lang, "user_not_found", id=target_id), show_alert=True)
        return
    await query.answer(t(context.lang, f"status_{updated.status}"))
    await _mark_request(query.message, context, updated, user_label(context.sender), digest=digest)
    await _tell_user(context.bot, updated)


async def decided_by(decisions: UserDecisions, user: User) -> str:
    """Who made the last decision on a user, as admins know them: an admin's name, else the
    actor as recorded (cli:login, config:ADMIN_IDS)."""
    decider = await decisions.decider(user)
    if decider is None:
        return "?"
    return decider if isinstance(decider, str) else user_label(decider)


async def _mark_request(
    message: object, context: BotContext, user: User, by: str, *, digest: bool
) -> None:
    """Show the decision on the message whose button was pressed: a single request becomes the
    decision; a digest loses that user's row and gains a line, its other rows stay usable."""
    if not isinstance(message, Message):
        return
    status = t(context.lang, f"status_{user.status}")
    markup: InlineKeyboardMarkup | None = None
    if digest:
        line = t(context.lang, "admin_digest_decided", id=user.id, status=status, admin=by)
        text = f"{message.text or ''}\n{line}"
        if len(text) > MessageLimit.MAX_TEXT_LENGTH:  # the row still goes; /pending tells the rest
            text = message.text or line
        rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
        mine = {f"acc:{kind}:{user.id}" for kind in DECISIONS}
        others = [row for row in rows if not any(b.callback_data in mine for b in row)]
        markup = InlineKeyboardMarkup(others) if others else None
    else:
        text = t(
            context.lang,
            "decided",
            request=request_text(context.lang, user),
            status=status,
            admin=by,
        )
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramError as exc:
        logger.debug("could not edit the request message: %s", exc)


async def _tell_user(bot: Bot, user: User) -> bool | None:
    """Tell a user their new status in their language: True once told, False when Telegram
    refused it, None when the status is not one they are told of."""
    key = {
        "approved": "access_approved_user",
        "rejected": "access_rejected_user",
        "revoked": "access_revoked_user",
    }.get(user.status)
    if key is None:
        return None
    try:
        await bot.send_message(user.id, t(language_of(user.language), key))
    except TelegramError as exc:
        logger.warning("could not tell user %s about the decision: %s", user.id, exc)
        return False
    return True


async def tell_decision(
    bot: Bot, before: User, after: User, *, console_app: str | None = None
) -> bool | None:
    """What a decision means in Telegram, wherever it was taken (a command here, the console):
    the user is told a new status; their menus follow their role. True/False: told or not;
    None: nothing to tell them."""
    told = await _tell_user(bot, after) if after.status != before.status else None
    if after.is_admin != before.is_admin:
        await set_admin_menu(bot, after.id, after.is_admin)
        await set_console_button(bot, after, console_app)
    return told


# --- service status ---------------------------------------------------------------------------
@admin_only
async def status(update: Update, context: BotContext) -> None:
    """Show what waits: open lookups, undelivered replies, unhandled updates, access requests."""
    gallery = context.service.gallery
    await reply(
        update,
        t(
            context.lang,
            "status_text",
            open=await gallery.lookups.count_open(),
            undelivered=await gallery.lookups.count_undelivered(),
            inbox=await gallery.inbox.count_unhandled(),
            pending=len(await gallery.users.all("pending")),
        ),
    )


# --- user management --------------------------------------------------------------------------
@admin_only
async def pending(update: Update, context: BotContext) -> None:
    """List pending access requests."""
    await _list_users(update, context, "pending")


@admin_only
async def users(update: Update, context: BotContext) -> None:
    """List all users with role and status."""
    await _list_users(update, context, None)


async def _list_users(update: Update, context: BotContext, status: str | None) -> None:
    assert context.sender is not None
    found = await context.service.users.listing(Requester.of(context.sender), status)
    if not found:
        await reply(update, t(context.lang, "pending_empty" if status else "users_empty"))
        return
    header = t(context.lang, "pending_header" if status else "users_header")
    await reply(update, "\n".join([header, *_user_lines(context.lang, found)]))


def _user_lines(lang: str, users: list[User]) -> list[str]:
    """Id, role and status first, the name (which its owner chooses) last: an officer who calls
    himself "Ada · admin" still reads as an officer, and admins carry a mark no name can."""
    return [
        t(
            lang,
            "user_line_admin" if u.role == "admin" else "user_line",
            id=u.id,
            name=user_label(u),
            role=t(lang, f"role_{u.role}"),
            status=t(lang, f"status_{u.status}"),
        )
        for u in users
    ]


@admin_only
async def user_command(update: Update, context: BotContext) -> None:
    """/approve, /reject, /revoke, /promote, /demote ID."""
    message = update.effective_message
    assert message is not None and message.text is not None and context.sender is not None
    command = message.text.split()[0].lstrip("/").split("@")[0].lower()
    args = context.args or []
    target_id = parse_id(args[0]) if len(args) == 1 else None
    if target_id is None:
        await reply(update, t(context.lang, "user_usage", command=command))
        return
    before = await context.service.gallery.users.get(target_id)
    try:
        after = await context.service.users.decide(target_id, command, Requester.of(context.sender))
    except NotOnOneself:
        await reply(update, t(context.lang, "cannot_self"))
        return
    except AlreadyDecided as decided:
        await reply(update, await _unchanged_text(context, decided.user))
        return
    if after is None or before is None:
        await reply(update, t(context.lang, "user_not_found", id=target_id))
        return
    await tell_decision(
        context.bot, before, after, console_app=context.service.web_sessions.webapp_url
    )
    await reply(update, _user_text(context.lang, "user_updated", after) + _readmits(context, after))


def _user_text(lang: str, key: str, user: User, **values: object) -> str:
    return t(
        lang,
        key,
        id=user.id,
        name=user_label(user),
        role=t(lang, f"role_{user.role}"),
        status=t(lang, f"status_{user.status}"),
        **values,
    )


async def _unchanged_text(context: BotContext, user: User) -> str:
    """Nothing changed: the user as they are, and who decided so."""
    if user.decided_by is None:
        text = _user_text(context.lang, "user_unchanged", user)
    else:
        by = await decided_by(context.service.users, user)
        text = _user_text(context.lang, "user_already_decided", user, admin=by)
    return text + _readmits(context, user)


def _readmits(context: BotContext, user: User) -> str:
    """The warning that ADMIN_IDS will undo this at the next start, where it will."""
    if not readmitted_at_start(user, context.state.settings.admin_ids):
        return ""
    return "\n\n" + t(context.lang, "admin_ids_readmits", id=user.id)
