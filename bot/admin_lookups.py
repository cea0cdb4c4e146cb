"""Administrator handlers for the record: list and show lookups, export them as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

from telegram import Update

from bot.admin import admin_only
from bot.context import BotContext
from bot.handlers import lookup_outcome, reply
from bot.outbox import send_stored_lookup
from bot.replies import Target
from bot.texts import t
from facefind.inputs import parse_day, parse_id

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
    until = since + timedelta(days=1) if since else None
    assert context.sender is not None
    gallery = context.service.gallery
    rows = await gallery.lookups.recent(user_id=user_id, since=since, until=until, limit=30)
    await gallery.audit.append(
        f"tg:{context.sender.id}",
        "lookups.list",
        f"user:{user_id}" if user_id else None,
        {"day": since.date().isoformat() if since else None, "rows": len(rows)},
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
    found = await context.service.gallery.lookups.get(lookup_id)
    if found is None or (found.user_id != context.sender.id and not context.sender.is_admin):
        # an officer learns nothing about other people's lookups, not even that they exist
        await reply(update, t(lang, "lookup_not_found", id=lookup_id))
        return
    await context.service.gallery.audit.append(
        f"tg:{context.sender.id}", "lookup.view", f"lookup:{found.id}"
    )
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


EXPORT_COLUMNS = [
    "lookup_id", "created_at", "user_id", "actor", "source", "status", "face_count",
    "photo_sha256", "model", "face_index", "det_score", "rank", "identity_id", "display_name",
    "external_ref", "face_id", "similarity", "band", "verdict", "held_by_face",
]  # fmt: skip


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
    start, end = days[0], days[1]
    gallery = context.service.gallery
    rows = await gallery.lookups.export_rows(start, end + timedelta(days=1))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    await gallery.audit.append(
        f"tg:{context.sender.id}",
        "lookups.export",
        None,
        {"from": args[0], "to": args[1], "rows": len(rows)},
    )
    message = update.effective_message
    assert message is not None
    await message.reply_document(
        buffer.getvalue().encode("utf-8"),
        filename=f"facefind-lookups-{args[0]}-{args[1]}.csv",
        caption=t(lang, "export_caption", start=args[0], end=args[1], rows=len(rows)),
        do_quote=True,
    )


def csv_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # a name typed by a person must not run as a formula in a spreadsheet
        return "'" + value
    return value
