"""Administrator handlers: access decisions, users, enrollment, identities, lookups, export."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.error import TelegramError

from bot.context import BotContext
from bot.handlers import image_of, lookup_outcome, parse_callback, reply, request_text
from bot.replies import Target, chat_action, reasons_text, send_stored_lookup
from bot.telegram_io import FileTooBig, download
from bot.texts import language_of, t
from facefind.service import (
    AmbiguousFaces,
    AmbiguousIdentity,
    EnrollRefused,
    FaceIndexOutOfRange,
    IdentitySpec,
    NoFaceFound,
    Requester,
)
from gallery import Identity, User
from recognition import ImageError

logger = logging.getLogger(__name__)

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(handler: Handler) -> Handler:
    """Run the handler only for a sender who is an approved admin right now."""

    @wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
        if context.sender is None or not context.sender.is_admin:
            context.state.metrics.refused.labels("not_admin").inc()
            if update.callback_query is not None:
                await update.callback_query.answer(t(context.lang, "not_allowed"), show_alert=True)
            else:
                await reply(update, t(context.lang, "admin_only"))
            return
        await handler(update, context)

    return wrapper


# --- commands menu ----------------------------------------------------------------------------
OFFICER_COMMANDS = [
    ("start", "Start"),
    ("help", "How to use the bot"),
    ("history", "My last lookups"),
]
ADMIN_COMMANDS = [
    ("pending", "Access requests"),
    ("users", "All users"),
    ("approve", "Approve a user: /approve ID"),
    ("reject", "Reject a request: /reject ID"),
    ("revoke", "Revoke access: /revoke ID"),
    ("promote", "Make admin: /promote ID"),
    ("demote", "Remove admin: /demote ID"),
    ("enroll", "Add a reference face: /enroll Name | ref"),
    ("identity", "Show an identity: /identity NAME or ID"),
    ("forget", "Remove an identity: /forget ID"),
    ("lookups", "Lookups: /lookups [user] [date]"),
    ("lookup", "Show a lookup: /lookup N"),
    ("export", "CSV export: /export FROM TO"),
]


async def publish_commands(bot: Bot, admins: list[User]) -> None:
    """setMyCommands: the officer menu for everyone, the full menu in each admin's chat."""
    await bot.set_my_commands(
        [BotCommand(c, d) for c, d in OFFICER_COMMANDS], scope=BotCommandScopeDefault()
    )
    for admin in admins:
        await set_admin_menu(bot, admin.id, True)


async def set_admin_menu(bot: Bot, user_id: int, is_admin: bool) -> None:
    try:
        if is_admin:
            await bot.set_my_commands(
                [BotCommand(c, d) for c, d in OFFICER_COMMANDS + ADMIN_COMMANDS],
                scope=BotCommandScopeChat(user_id),
            )
        else:
            await bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:  # e.g. the admin never opened a chat with the bot
        logger.warning("could not set the command menu for %s: %s", user_id, exc)


# --- access decisions -------------------------------------------------------------------------
@admin_only
async def access_decision(update: Update, context: BotContext) -> None:
    """Approve or reject a pending user from the buttons on an access request."""
    query = update.callback_query
    assert query is not None and context.sender is not None
    parsed = parse_callback(query.data, {"a": "approved", "r": "rejected"})
    if parsed is None:
        await query.answer(t(context.lang, "not_allowed"))
        return
    status, target_id = parsed
    gallery = context.service.gallery
    target = await gallery.get_user(target_id)
    if target is None:
        await query.answer(t(context.lang, "user_not_found", id=target_id), show_alert=True)
        return
    if target.status != "pending":
        await query.answer(
            t(context.lang, "already_decided", status=t(context.lang, f"status_{target.status}")),
            show_alert=True,
        )
        await _mark_request(query.message, context, target, target.decided_by or "?")
        return
    updated = await gallery.set_user_status(target_id, status, f"tg:{context.sender.id}")
    assert updated is not None
    await query.answer(t(context.lang, f"status_{status}"))
    await _mark_request(query.message, context, updated, context.sender.display)
    await _tell_user(context.bot, updated)


async def _mark_request(message: object, context: BotContext, user: User, by: str) -> None:
    if not isinstance(message, Message):
        return
    text = t(
        context.lang,
        "decided",
        request=request_text(context.lang, user),
        status=t(context.lang, f"status_{user.status}"),
        admin=by,
    )
    try:
        await message.edit_text(text, reply_markup=None)
    except TelegramError as exc:
        logger.debug("could not edit the request message: %s", exc)


async def _tell_user(bot: Bot, user: User) -> None:
    key = {
        "approved": "access_approved_user",
        "rejected": "access_rejected_user",
        "revoked": "access_revoked_user",
    }.get(user.status)
    if key is None:
        return
    try:
        await bot.send_message(user.id, t(language_of(user.language), key))
    except TelegramError as exc:
        logger.warning("could not tell user %s about the decision: %s", user.id, exc)


# --- user management --------------------------------------------------------------------------
@admin_only
async def pending(update: Update, context: BotContext) -> None:
    """List pending access requests."""
    users = await context.service.gallery.list_users("pending")
    if not users:
        await reply(update, t(context.lang, "pending_empty"))
        return
    await reply(
        update, "\n".join([t(context.lang, "pending_header"), *_user_lines(context.lang, users)])
    )


@admin_only
async def users(update: Update, context: BotContext) -> None:
    """List all users with role and status."""
    everyone = await context.service.gallery.list_users()
    if not everyone:
        await reply(update, t(context.lang, "users_empty"))
        return
    await reply(
        update, "\n".join([t(context.lang, "users_header"), *_user_lines(context.lang, everyone)])
    )


def _user_lines(lang: str, users: list[User]) -> list[str]:
    return [
        t(
            lang,
            "user_line",
            id=u.id,
            name=u.display,
            role=t(lang, f"role_{u.role}"),
            status=t(lang, f"status_{u.status}"),
        )
        for u in users
    ]


_USER_COMMANDS: dict[str, tuple[str, str]] = {
    "approve": ("status", "approved"),
    "reject": ("status", "rejected"),
    "revoke": ("status", "revoked"),
    "promote": ("role", "admin"),
    "demote": ("role", "officer"),
}


@admin_only
async def user_command(update: Update, context: BotContext) -> None:
    """/approve, /reject, /revoke, /promote, /demote ID."""
    message = update.effective_message
    assert message is not None and message.text is not None and context.sender is not None
    command = message.text.split()[0].lstrip("/").split("@")[0].lower()
    kind, value = _USER_COMMANDS[command]
    if len(context.args or []) != 1 or not (context.args or [""])[0].isdigit():
        await reply(update, t(context.lang, "user_usage", command=command))
        return
    target_id = int((context.args or ["0"])[0])
    if target_id == context.sender.id and command in ("reject", "revoke", "demote"):
        await reply(update, t(context.lang, "cannot_self"))
        return
    gallery = context.service.gallery
    before = await gallery.get_user(target_id)
    if before is None:
        await reply(update, t(context.lang, "user_not_found", id=target_id))
        return
    actor = f"tg:{context.sender.id}"
    if kind == "status":
        after = await gallery.set_user_status(target_id, value, actor)
    else:
        after = await gallery.set_user_role(target_id, value, actor)
        if after is not None and value == "admin" and after.status != "approved":
            after = await gallery.set_user_status(target_id, "approved", actor)
    assert after is not None
    if after.status != before.status:
        await _tell_user(context.bot, after)
    if after.is_admin != before.is_admin:
        await set_admin_menu(context.bot, after.id, after.is_admin)
    await reply(
        update,
        t(
            context.lang,
            "user_updated",
            id=after.id,
            name=after.display,
            role=t(context.lang, f"role_{after.role}"),
            status=t(context.lang, f"status_{after.status}"),
        ),
    )


# --- enrollment -------------------------------------------------------------------------------
_FACE_PART = re.compile(r"^(?:face\s*)?#?\s*(\d+)$", re.IGNORECASE)
_ID_PART = re.compile(r"^#(\d+)$")


def parse_enroll(text: str) -> tuple[str, str | None, int | None] | None:
    """'/enroll Name | ref | face 2' to (name or '#ID', ref, face number)."""
    body = text.strip()
    body = re.sub(r"^/enroll(@\w+)?", "", body, flags=re.IGNORECASE).strip()
    if not body:
        return None
    parts = [p.strip() for p in body.split("|")]
    face: int | None = None
    if len(parts) > 1 and (m := _FACE_PART.match(parts[-1])):
        face = int(m[1])
        parts = parts[:-1]
    if len(parts) > 2 or not parts[0]:
        return None
    return parts[0], (parts[1] or None) if len(parts) == 2 else None, face


@admin_only
async def enroll(update: Update, context: BotContext) -> None:
    """/enroll as a reply to a photo."""
    message = update.effective_message
    assert message is not None
    source = message.reply_to_message
    if source is None or image_of(source) is None:
        await reply(update, t(context.lang, "enroll_usage"))
        return
    await _enroll(update, context, message.text or "", source)


@admin_only
async def enroll_from_caption(update: Update, context: BotContext) -> None:
    """A photo sent with '/enroll ...' as its caption."""
    message = update.effective_message
    assert message is not None
    await _enroll(update, context, message.caption or "", message)


async def _enroll(update: Update, context: BotContext, text: str, source: Message) -> None:
    assert context.sender is not None
    lang = context.lang
    parsed = parse_enroll(text)
    found = image_of(source)
    if parsed is None or found is None:
        await reply(update, t(lang, "enroll_usage"))
        return
    name, ref, face_index = parsed
    service = context.service
    target: Identity | IdentitySpec
    if m := _ID_PART.match(name):
        identity = await service.gallery.get_identity(int(m[1]))
        if identity is None or identity.deleted:
            await reply(update, t(lang, "identity_missing", id=m[1]))
            return
        target = identity
    else:
        target = IdentitySpec(name, ref)
    requester = Requester.telegram(context.sender.id)
    message = update.effective_message
    assert message is not None
    async with chat_action(context.bot, message.chat_id):
        try:
            data = await download(context.bot, found[0], found[1])
        except FileTooBig:
            await reply(update, t(lang, "file_too_big"))
            return
        try:
            result = await service.enroll(data, target, requester, face_index=face_index)
        except ImageError as exc:
            await reply(update, t(lang, f"image_{exc.code}"))
            return
        except NoFaceFound:
            await reply(update, t(lang, "enroll_no_face"))
            return
        except AmbiguousFaces as exc:
            analysis, _ = await service.analyze(data)
            picture = await service.overview_picture(analysis)
            await message.reply_photo(
                picture, caption=t(lang, "enroll_ambiguous_faces", n=exc.count), do_quote=True
            )
            return
        except FaceIndexOutOfRange as exc:
            await reply(update, t(lang, "enroll_face_index", index=exc.index, count=exc.count))
            return
        except EnrollRefused as exc:
            await reply(update, t(lang, "enroll_refused", reasons=reasons_text(lang, exc.reasons)))
            return
        except AmbiguousIdentity as exc:
            items = "\n".join(_identity_line(i) for i in exc.matches)
            await reply(update, t(lang, "enroll_ambiguous_identity", name=exc.name, items=items))
            return
    ident = result.identity
    ref_text = t(lang, "ref", ref=ident.external_ref) if ident.external_ref else ""
    if result.face_id is None:
        await reply(
            update, t(lang, "enroll_already", name=ident.display_name, identity_id=ident.id)
        )
        return
    context.state.metrics.enrollments.inc()
    lines = [
        t(
            lang,
            "enroll_done",
            name=ident.display_name,
            ref=ref_text,
            identity_id=ident.id,
            face_id=result.face_id,
        )
    ]
    if result.identity_created:
        lines.append(t(lang, "enroll_created"))
    if result.chosen_by == "dominant":
        lines.append(t(lang, "enroll_dominant"))
    for dup in result.duplicates:
        lines.append(
            t(
                lang,
                "enroll_duplicate",
                name=dup.display_name,
                identity_id=dup.identity_id,
                pct=round(dup.similarity * 100),
            )
        )
    await reply(update, "\n".join(lines))


def _identity_line(identity: Identity) -> str:
    ref = f" [{identity.external_ref}]" if identity.external_ref else ""
    return f"#{identity.id} {identity.display_name}{ref} · {identity.face_count}"


# --- identities -------------------------------------------------------------------------------
@admin_only
async def identity(update: Update, context: BotContext) -> None:
    """Show an identity and its reference faces."""
    lang = context.lang
    query = " ".join(context.args or []).strip()
    if not query:
        await reply(update, t(lang, "identity_usage"))
        return
    gallery = context.service.gallery
    found: list[Identity]
    if query.lstrip("#").isdigit():
        one = await gallery.get_identity(int(query.lstrip("#")))
        found = [one] if one else []
    else:
        found = await gallery.identities_named(query) or await gallery.identities_like(query)
    if not found:
        await reply(update, t(lang, "identity_not_found", query=query))
        return
    if len(found) > 1:
        items = "\n".join(_identity_line(i) for i in found)
        await reply(update, t(lang, "identity_several", items=items))
        return
    ident = found[0]
    assert context.sender is not None
    # who looked at whom is part of the record
    await gallery.audit(f"tg:{context.sender.id}", "identity.view", f"identity:{ident.id}")
    card = t(
        lang,
        "identity_card",
        id=ident.id,
        name=ident.display_name,
        ref=ident.external_ref or t(lang, "none"),
        notes=ident.notes or t(lang, "none"),
        faces=ident.face_count,
        by=ident.created_by,
        date=f"{ident.created_at:%Y-%m-%d}",
        deleted=t(lang, "identity_deleted", date=f"{ident.deleted_at:%Y-%m-%d}")
        if ident.deleted_at
        else "",
    )
    await reply(update, card)
    crops = await context.service.identity_crops(ident.id)
    message = update.effective_message
    assert message is not None
    for start in range(0, len(crops), 10):
        chunk = crops[start : start + 10]
        if len(chunk) == 1:
            await message.reply_photo(chunk[0], do_quote=False)
        else:
            await message.reply_media_group([InputMediaPhoto(c) for c in chunk], do_quote=False)


@admin_only
async def forget(update: Update, context: BotContext) -> None:
    """Remove an identity from every search (soft delete, audited)."""
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        await reply(update, t(context.lang, "forget_usage"))
        return
    assert context.sender is not None
    identity_id = int(args[0].lstrip("#"))
    gallery = context.service.gallery
    ident = await gallery.get_identity(identity_id)
    if (
        ident is None
        or ident.deleted
        or not await gallery.forget_identity(identity_id, f"tg:{context.sender.id}")
    ):
        await reply(update, t(context.lang, "identity_missing", id=identity_id))
        return
    await reply(update, t(context.lang, "forget_done", id=identity_id, name=ident.display_name))


# --- lookups ----------------------------------------------------------------------------------
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(text: str) -> datetime | None:
    if not _DATE.match(text):
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


@admin_only
async def lookups(update: Update, context: BotContext) -> None:
    """List lookups, optionally of one user and one day (UTC)."""
    lang = context.lang
    user_id: int | None = None
    since: datetime | None = None
    for arg in context.args or []:
        if arg.isdigit() and user_id is None:
            user_id = int(arg)
        elif (day := _day(arg)) is not None and since is None:
            since = day
        else:
            await reply(update, t(lang, "lookups_usage"))
            return
    until = since + timedelta(days=1) if since else None
    assert context.sender is not None
    gallery = context.service.gallery
    rows = await gallery.list_lookups(user_id=user_id, since=since, until=until, limit=30)
    await gallery.audit(
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
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        await reply(update, t(lang, "lookup_usage"))
        return
    lookup_id = int(args[0].lstrip("#"))
    found = await context.service.gallery.get_lookup(lookup_id)
    if found is None or (found.user_id != context.sender.id and not context.sender.is_admin):
        # an officer learns nothing about other people's lookups, not even that they exist
        await reply(update, t(lang, "lookup_not_found", id=lookup_id))
        return
    await context.service.gallery.audit(
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
    "external_ref", "face_id", "similarity", "band", "verdict",
]  # fmt: skip


@admin_only
async def export(update: Update, context: BotContext) -> None:
    """Send a CSV file of lookups and candidates between two dates (inclusive, UTC)."""
    lang = context.lang
    args = context.args or []
    days = [_day(a) for a in args]
    if len(days) != 2 or days[0] is None or days[1] is None or days[1] < days[0]:
        await reply(update, t(lang, "export_usage"))
        return
    assert context.sender is not None
    start, end = days[0], days[1]
    gallery = context.service.gallery
    rows = await gallery.export_lookups(start, end + timedelta(days=1))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    await gallery.audit(
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
