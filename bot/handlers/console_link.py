"""/console: an admin's way into the web console, a one-time sign-in link (and, when the console
has an HTTPS address, a button that opens it as a Telegram Mini App)."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    WebAppInfo,
)

from bot.context import BotContext
from bot.handlers.common import reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.access.web_sessions import LOGIN_LINK_TTL, ConsoleOff, NotAnAdmin


async def console(update: Update, context: BotContext) -> None:
    """Send the sender a sign-in link to the console; an officer is refused (and audited)."""
    sender = context.sender
    assert sender is not None
    sessions = context.service.web_sessions
    try:
        link = await sessions.issue_login_link(sender.id, Requester.of(sender))
    except NotAnAdmin:
        context.state.metrics.refused.labels("not_admin").inc()
        await reply(update, t(context.lang, "console_admins_only"))
        return
    except ConsoleOff:
        await reply(update, t(context.lang, "console_off"))
        return
    markup = None
    if sessions.webapp_url is not None:
        button = InlineKeyboardButton(
            t(context.lang, "console_open_app"), web_app=WebAppInfo(sessions.webapp_url)
        )
        markup = InlineKeyboardMarkup([[button]])
    minutes = int(LOGIN_LINK_TTL.total_seconds() // 60)
    await reply(
        update,
        t(context.lang, "console_link", link=link, minutes=minutes),
        reply_markup=markup,
        # a preview would have Telegram's servers fetch the link (its page only, but still)
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
