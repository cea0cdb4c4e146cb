"""Handlers for every user: the access gate, help, photo lookups, feedback, history."""

from __future__ import annotations

import logging
from pathlib import PurePath

from telegram import Message, Update
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.notify import user_label
from bot.replies import FEEDBACK_SEPARATOR
from bot.telegram_io import oversize
from bot.texts import language_of, t
from facefind.access.actors import Requester
from facefind.runtime.task_queue import defer_lookup
from facefind.user_input import NAME_MAX, parse_id, strip_unsafe
from gallery import User, database_unavailable

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


# --- the gate (group -1) ----------------------------------------------------------------------
async def gatekeeper(update: Update, context: BotContext) -> None:
    """Record the sender; let approved users through, refuse everyone else on the spot."""
    state = context.state
    state.metrics.updates.inc()
    tg_user = update.effective_user
    chat = update.effective_chat
    if tg_user is None or tg_user.is_bot or update.edited_message is not None:
        # an edited message is not a new request: it would re-run a command or a lookup
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
    if user.is_approved:
        return
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


async def notify_admins_of_request(context: BotContext, user: User) -> None:
    if context.state.requests is not None:
        await context.state.requests.request(user)


def _optional(text: str | None) -> str | None:
    if text is None:
        return None
    return strip_unsafe(text)[:NAME_MAX] or None


# --- help -------------------------------------------------------------------------------------
async def start(update: Update, context: BotContext) -> None:
    """Greet an approved user and explain what to do."""
    assert context.sender is not None
    await reply(
        update,
        t(context.lang, "start_approved", name=context.sender.first_name or "")
        + help_text(context),
    )


async def help_command(update: Update, context: BotContext) -> None:
    """Explain how to use the bot."""
    await reply(update, help_text(context))


def help_text(context: BotContext) -> str:
    text = t(context.lang, "help")
    if context.sender is not None and context.sender.is_admin:
        text += t(context.lang, "help_admin")
    return text


async def unknown_input(update: Update, context: BotContext) -> None:
    """Point an approved user to the photo workflow."""
    await reply(update, t(context.lang, "unknown_input"))


# --- lookups ----------------------------------------------------------------------------------
async def photo(update: Update, context: BotContext) -> None:
    """Identify the faces in a photo or image file."""
    message = update.effective_message
    assert message is not None and context.sender is not None
    caption = (message.caption or "").strip()
    if caption.lower().startswith("/enroll"):
        from bot.admin_gallery import enroll_from_caption

        await enroll_from_caption(update, context)
        return
    found = image_of(message)
    if found is None:
        await reply(update, t(context.lang, "not_image"))
        return
    file_id, size = found
    state = context.state
    gallery = context.service.gallery
    requester = Requester.telegram(context.sender.id)
    async with state.user_lock(context.sender.id):
        existing = await gallery.lookups.for_message(message.chat_id, message.message_id)
        if existing is None:
            limit = state.settings.rate_limit_per_hour
            if (
                limit
                and await context.service.identifier.lookups_in_last_hour(context.sender.id)
                >= limit
            ):
                state.metrics.refused.labels("rate_limited").inc()
                await reply(update, t(context.lang, "rate_limited", limit=limit))
                return
            created = await context.service.identifier.begin_lookup(
                requester,
                source="telegram",
                chat_id=message.chat_id,
                message_id=message.message_id,
                file_id=file_id,
                update_id=update.update_id,
                language=context.lang,
            )
            if created is not None:
                refused = oversize(size, state.settings.limits.max_image_bytes)
                if refused is not None:
                    # over Telegram's limit or ours: refused without downloading (the job tells
                    # them)
                    await context.service.identifier.fail_lookup(
                        created, requester, refused.code, reply_owed=True
                    )
                existing = (created, "pending")
            else:
                # another process recorded it a moment ago (the user's lock is this process's
                # only): go on with that one, as with any re-delivery
                existing = await gallery.lookups.for_message(message.chat_id, message.message_id)
                if existing is None:
                    return  # recorded and gone since: nothing left to answer
        lookup_id, status = existing
        if status not in ("pending", "replying"):
            logger.info(
                "message %s in chat %s already has a lookup", message.message_id, message.chat_id
            )
            return
    # the lookup is recorded: from here on its job answers it, in this process or another;
    # queueing twice is harmless (the queueing lock), and a lookup left without a job by a
    # crash here gets one from the queue's housekeeping
    await defer_lookup(state.queue, lookup_id)


def image_of(message: Message) -> tuple[str, int | None] | None:
    """(file id, size) of the photo or image document in a message; None if neither."""
    if message.photo:
        largest = message.photo[-1]
        return largest.file_id, largest.file_size
    doc = message.document
    if doc is None:
        return None
    suffix = PurePath(doc.file_name or "").suffix.lower()
    if (doc.mime_type or "").startswith("image/") or suffix in IMAGE_SUFFIXES:
        return doc.file_id, doc.file_size
    return None


# --- feedback ---------------------------------------------------------------------------------
async def feedback(update: Update, context: BotContext) -> None:
    """Store "confirm" / "not this person" on a candidate and show it on the message."""
    query = update.callback_query
    assert query is not None and context.sender is not None
    parsed = parse_callback(query.data, {"c": "confirmed", "r": "rejected"})
    if parsed is None:
        await query.answer(t(context.lang, "not_allowed"))
        return
    verdict, candidate_id = parsed
    sender = context.sender
    judged = await context.service.lookup_log.judge(candidate_id, verdict, Requester.of(sender))
    if judged is None:
        context.state.metrics.refused.labels("forbidden").inc()
        await query.answer(t(context.lang, "not_allowed"), show_alert=True)
        return
    await query.answer(t(context.lang, "feedback_saved"))
    message = query.message
    if isinstance(message, Message):
        line = t(context.lang, f"feedback_{verdict}", who=user_label(sender))
        try:
            if message.caption is not None:
                base = message.caption.split(FEEDBACK_SEPARATOR)[0]
                await message.edit_caption(
                    base + FEEDBACK_SEPARATOR + line, reply_markup=message.reply_markup
                )
            elif message.text is not None:
                base = message.text.split(FEEDBACK_SEPARATOR)[0]
                await message.edit_text(
                    base + FEEDBACK_SEPARATOR + line, reply_markup=message.reply_markup
                )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise


def parse_callback(data: str | None, kinds: dict[str, str]) -> tuple[str, int] | None:
    """'prefix:kind:id' button data to (meaning of kind, id); None for anything else, since
    callback data comes from the client and can be forged (fb:c:99999999999999999999)."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[1] not in kinds:
        return None
    found = parse_id(parts[2])
    return (kinds[parts[1]], found) if found is not None else None


# --- history ----------------------------------------------------------------------------------
async def history(update: Update, context: BotContext) -> None:
    """List the sender's own last 10 lookups."""
    assert context.sender is not None
    rows = await context.service.lookup_log.history(Requester.of(context.sender), limit=10)
    if not rows:
        await reply(update, t(context.lang, "history_empty"))
        return
    lines = [t(context.lang, "history_header")]
    for r in rows:
        lines.append(
            t(
                context.lang,
                "history_line",
                id=r.id,
                date=f"{r.created_at:%Y-%m-%d %H:%M}",
                faces=r.face_count if r.face_count is not None else "—",
                top=lookup_outcome(context.lang, r.status, r.top_candidates),
            )
        )
    await reply(update, "\n".join(lines))


def lookup_outcome(lang: str, status: str, top: str | None) -> str:
    if status != "done":
        return t(lang, f"lookup_status_{status}")
    return top or t(lang, "no_candidates")


# --- errors -----------------------------------------------------------------------------------
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


async def reply(update: Update, text: str, **kwargs: object) -> None:
    """Answer the update's message; a text over Telegram's limit goes as several messages."""
    message = update.effective_message
    if message is None:
        return
    parts = split_text(text)
    for number, part in enumerate(parts, 1):
        extra = kwargs if number == len(parts) else {}  # buttons go under the last part
        await message.reply_text(part, do_quote=True, **extra)  # type: ignore[arg-type]


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut a text into parts Telegram accepts, at line ends where possible.

    Telegram counts UTF-16 code units, so an emoji counts twice. /users passes the limit at
    about a hundred users, /lookups with a page of group photos.
    """

    def size(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while size(line) > limit:  # one line too long for a message: cut it
            cut = limit
            while size(line[:cut]) > limit:
                cut -= 1
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if current and size(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip() or not parts:
        parts.append(current)
    return parts
