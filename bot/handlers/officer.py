"""Handlers for every approved user: help, photo lookups, feedback on candidates, history."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.delivery.notify import user_label
from bot.delivery.replies import FEEDBACK_SEPARATOR
from bot.delivery.telegram_io import oversize
from bot.handlers.common import clip_of, image_of, lookup_outcome, parse_callback, reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.runtime.task_queue import defer_lookup

logger = logging.getLogger(__name__)


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
    seconds = round(context.state.settings.video_limits.max_seconds)
    text = t(context.lang, "help") + t(context.lang, "help_media", seconds=seconds)
    if context.sender is not None and context.sender.is_admin:
        text += t(context.lang, "help_admin") + t(context.lang, "help_admin_investigations")
    return text


async def unknown_input(update: Update, context: BotContext) -> None:
    """Point an approved user to the photo workflow."""
    await reply(update, t(context.lang, "unknown_input"))


# --- lookups ----------------------------------------------------------------------------------
async def photo(update: Update, context: BotContext) -> None:
    """Identify the faces in a photo or image file."""
    message = update.effective_message
    assert message is not None and context.sender is not None
    found = image_of(message)
    if found is None:
        if clip_of(message) is not None:  # a video or a GIF sent as a file
            await clip(update, context)
            return
        await reply(update, t(context.lang, "not_image"))
        return
    file_id, size = found
    await record_lookup(
        update, context, file_id, size, "photo", context.state.settings.limits.max_image_bytes
    )


async def clip(update: Update, context: BotContext) -> None:
    """Identify the people in a video, a round video note or a GIF animation."""
    message = update.effective_message
    assert message is not None
    found = clip_of(message)
    if found is None:
        await reply(update, t(context.lang, "not_image"))
        return
    file_id, size, media = found
    limit = context.state.settings.video_limits.max_bytes
    await record_lookup(update, context, file_id, size, media, limit)


async def record_lookup(
    update: Update,
    context: BotContext,
    file_id: str,
    size: int | None,
    media: str,
    max_bytes: int,
) -> None:
    """Record the lookup of one message's photo or clip (once however often the update is
    delivered) and queue its job; a file over `max_bytes` is refused before it is
    downloaded."""
    message = update.effective_message
    assert message is not None and context.sender is not None
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
                media=media,
            )
            if created is not None:
                refused = oversize(size, max_bytes)
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
