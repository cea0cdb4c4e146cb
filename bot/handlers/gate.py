"""The gate (handler group -1) and the error handler: who may pass, and what happens when
something fails."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.handlers.common import clip_of, image_of, reply
from bot.texts import language_of, t
from facefind.user_input import NAME_MAX, strip_unsafe
from gallery import User, database_unavailable

logger = logging.getLogger(__name__)


async def gatekeeper(update: Update, context: BotContext) -> None:
    """Record the sender; let approved users through, refuse everyone else on the spot."""
    state = context.state
    state.metrics.updates.inc()
    tg_user = update.effective_user
    chat = update.effective_chat
    if tg_user is None or tg_user.is_bot:
        raise ApplicationHandlerStop
    if chat is not None and chat.type != ChatType.PRIVATE:
        # lookups show gallery data: only in private chats with vetted users
        raise ApplicationHandlerStop
    context.lang = language_of(tg_user.language_code)
    try:
        # names are shown to admins: stored without control or bidi-override characters
        user, new = await context.service.gallery.users.seen(
            tg_user.id,
            strip_unsafe(tg_user.first_name)[:NAME_MAX],
            _optional(tg_user.last_name),
            _optional(tg_user.username),
            _optional(tg_user.language_code),
        )
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # nobody may pass a gate that could not check them: the update is kept for later
        await state.inbox.hold(update)
        raise ApplicationHandlerStop from exc
    context.sender = user
    edited = update.edited_message is not None
    if user.is_approved:
        if edited:
            # an edit is not a new request (it would re-run a command or a lookup): the user
            # is told what became of the message instead of being left to wonder
            await edited_note(update, context)
            raise ApplicationHandlerStop
        return
    if edited:
        raise ApplicationHandlerStop  # not a new request either
    state.metrics.refused.labels("not_approved").inc()
    if update.callback_query is not None:
        await update.callback_query.answer(t(context.lang, "access_denied"), show_alert=True)
        raise ApplicationHandlerStop
    if new:
        await reply(update, t(context.lang, "access_requested"))
        await notify_admins_of_request(context, user)
    elif user.status == "pending":
        await reply(update, t(context.lang, "access_pending"))
    else:
        await reply(update, t(context.lang, "access_denied"))
    raise ApplicationHandlerStop


async def edited_note(update: Update, context: BotContext) -> None:
    """What an edit changes: nothing. A photo already looked up keeps its lookup (a new photo
    must be sent to search again), an /enroll caption its enrollment, a command is not run
    again; each said in one line."""
    message = update.edited_message
    assert message is not None
    caption = (message.caption or "").lstrip().lower()
    if image_of(message) is not None or clip_of(message) is not None:
        found = await context.service.gallery.lookups.for_message(
            message.chat_id, message.message_id
        )
        if caption.startswith("/enroll"):
            text = t(context.lang, "edit_enroll_stands")
        elif found is not None:
            text = t(context.lang, "edit_lookup_stands", id=found[0])
        else:
            text = t(context.lang, "edit_other")
    elif (message.text or "").lstrip().startswith("/"):
        text = t(context.lang, "edit_command")
    else:
        text = t(context.lang, "edit_other")
    await message.reply_text(text, do_quote=True)


async def notify_admins_of_request(context: BotContext, user: User) -> None:
    if context.state.requests is not None:
        await context.state.requests.request(user)


def _optional(text: str | None) -> str | None:
    if text is None:
        return None
    return strip_unsafe(text)[:NAME_MAX] or None


async def error_handler(update: object, context: BotContext) -> None:
    """Log every unexpected error with its traceback and tell the user something went wrong;
    a database outage is not an error of the update: it is kept and handled again later."""
    if context.error is not None and database_unavailable(context.error):
        logger.warning("database unavailable while handling an update: %s", context.error)
        await context.state.inbox.hold(update)
        raise ApplicationHandlerStop
    logger.error("error while handling an update", exc_info=context.error)
    try:
        context.state.metrics.errors.inc()
    except KeyError:
        pass
    if isinstance(update, Update) and update.effective_chat is not None:
        lang = language_of(update.effective_user.language_code if update.effective_user else None)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(t(lang, "error_generic"), show_alert=True)
            else:
                await context.bot.send_message(update.effective_chat.id, t(lang, "error_generic"))
        except TelegramError:
            logger.warning("could not tell the user about the error")
    # no handler of a later group runs after an error (the gate's error would let one run
    # without a checked sender)
    raise ApplicationHandlerStop
