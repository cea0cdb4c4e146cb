"""Administrator handlers for the record: list and show lookups, export them as CSV."""

from __future__ import annotations

import re
from datetime import datetime

from telegram import Update

from bot.context import BotContext
from bot.delivery.outbox import send_stored_lookup
from bot.delivery.replies import Target
from bot.handlers.common import admin_only, lookup_outcome, reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.user_input import parse_day, parse_id

_NUMBER = re.compile(r"#?[0-9]+", re.ASCII)


@admin_only
async def lookups(update: Update, context: BotContext) -> None:
    """List lookups, optionally of one user and one day (UTC)."""
    lang = context.lang
    user_id: int | None = None
    since: datetime | None = None
    for arg in context.args or []:
        if _NUMBER.fullmatch(arg) and user_id is None and (found := parse_id(arg)) is not None:
            user_id = found
        elif (day := parse_day(arg)) is not None and since is None:
            since = day
        else:
            await reply(update, t(lang, "lookups_usage"))
            return
    assert context.sender is not None
    rows = await context.service.lookup_log.listing(
        Requester.of(context.sender), user_id=user_id, day=since, limit=30
    )
    if not rows:
        await reply(update, t(lang, "history_empty"))
        return
    lines = [t(lang, "lookups_header")]
    for r in rows:
        lines.append(
            t(
                lang,
                "history_line_user",
                id=r.id,
                date=f"{r.created_at:%Y-%m-%d %H:%M}",
                actor=r.actor,
                faces=r.face_count if r.face_count is not None else "—",
                top=lookup_outcome(lang, r.status, r.top_candidates),
            )
        )
    await reply(update, "\n".join(lines))


async def lookup(update: Update, context: BotContext) -> None:
    """Show a lookup again with its pictures: admins any, officers their own."""
    lang = context.lang
    args = context.args or []
    assert context.sender is not None
    lookup_id = parse_id(args[0]) if len(args) == 1 else None
    if lookup_id is None:
        await reply(update, t(lang, "lookup_usage"))
        return
    found = await context.service.lookup_log.view(lookup_id, Requester.of(context.sender))
    if found is None:
        # an officer learns nothing about other people's lookups, not even that they exist
        await reply(update, t(lang, "lookup_not_found", id=lookup_id))
        return
    status = lookup_outcome(lang, found.status, None) if found.status != "done" else "OK"
    await reply(
        update,
        t(
            lang,
            "lookup_header",
            id=found.id,
            date=f"{found.created_at:%Y-%m-%d %H:%M}",
            actor=found.actor,
            status=status,
            faces=found.face_count if found.face_count is not None else "—",
        ),
    )
    message = update.effective_message
    assert message is not None
    target = Target(message.chat_id, message.message_id, lang)
    await send_stored_lookup(context.bot, context.service, target, found)


@admin_only
async def export(update: Update, context: BotContext) -> None:
    """Send a CSV file of lookups and candidates between two dates (inclusive, UTC)."""
    lang = context.lang
    args = context.args or []
    days = [parse_day(a) for a in args]
    if len(days) != 2 or days[0] is None or days[1] is None or days[1] < days[0]:
        await reply(update, t(lang, "export_usage"))
        return
    assert context.sender is not None
    done = await context.service.lookup_log.export(Requester.of(context.sender), days[0], days[1])
    message = update.effective_message
    assert message is not None
    await message.reply_document(
        done.csv,
        filename=done.filename,
        caption=t(lang, "export_caption", start=args[0], end=args[1], rows=done.rows),
        do_quote=True,
    )
