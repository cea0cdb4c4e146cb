"""Administrator handlers for the gallery: enroll reference faces, show and forget identities."""

from __future__ import annotations

import logging
import re

from telegram import InputMediaPhoto, Message, Update

from bot.context import BotContext
from bot.delivery.replies import chat_action, reasons_text
from bot.delivery.telegram_io import FileTooBig, download
from bot.handlers.common import admin_only, image_of, reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec, clean_spec
from facefind.errors import (
    AmbiguousFaces,
    AmbiguousIdentity,
    EnrollRefused,
    FaceIndexOutOfRange,
    NoFaceFound,
    PoorReference,
)
from facefind.user_input import NAME_MAX, BadInput, parse_id, strip_unsafe
from gallery import Identity
from recognition import ImageError

logger = logging.getLogger(__name__)


_FACE_PART = re.compile(r"^(?:face\s*)?#?\s*([0-9]{1,3})$", re.IGNORECASE | re.ASCII)
_ID_PART = re.compile(r"^#[0-9]+$", re.ASCII)


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
    if _ID_PART.match(name):
        identity_id = parse_id(name)
        identity = await service.gallery.identities.get(identity_id) if identity_id else None
        if identity is None or identity.deleted:
            await reply(update, t(lang, "identity_missing", id=name.lstrip("#")))
            return
        target = identity
    else:
        try:
            target = clean_spec(IdentitySpec(name, ref))
        except BadInput as exc:
            await reply(update, bad_input_text(lang, exc))
            return
    requester = Requester.telegram(context.sender.id)
    message = update.effective_message
    assert message is not None
    async with chat_action(context.bot, message.chat_id):
        try:
            limit = context.state.settings.limits.max_image_bytes
            data = await download(context.bot, found[0], found[1], limit)
        except FileTooBig as exc:
            too_big = "file_too_big" if exc.code == "file_too_big" else f"image_{exc.code}"
            await reply(update, t(lang, too_big))
            return
        try:
            result = await service.enroller.enroll(data, target, requester, face_index=face_index)
        except ImageError as exc:
            await reply(update, t(lang, f"image_{exc.code}"))
            return
        except NoFaceFound:
            await reply(update, t(lang, "enroll_no_face"))
            return
        except AmbiguousFaces as exc:
            analysis, _ = await service.analysis.analyze(data)
            picture = await service.analysis.overview_picture(analysis)
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
        except PoorReference as exc:
            await reply(update, t(lang, "enroll_poor", reasons=reasons_text(lang, exc.flags)))
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
    if result.chosen_by in ("prominent", "agrees"):
        lines.append(t(lang, f"enroll_{result.chosen_by}"))
    if result.flags:
        lines.append(t(lang, "enroll_flagged", reasons=reasons_text(lang, result.flags)))
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
    query = strip_unsafe(" ".join(context.args or []))[:NAME_MAX]
    if not query:
        await reply(update, t(lang, "identity_usage"))
        return
    cards = context.service.identity_cards
    found = await cards.find(query)
    if not found:
        await reply(update, t(lang, "identity_not_found", query=query))
        return
    if len(found) > 1:
        items = "\n".join(_identity_line(i) for i in found)
        await reply(update, t(lang, "identity_several", items=items))
        return
    assert context.sender is not None
    shown = await cards.view(found[0], Requester.of(context.sender))
    ident = shown.identity
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
    crops = shown.pictures
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
    """Remove an identity from every search and erase its faces (now, or after the grace
    period during which /restore undoes it)."""
    args = context.args or []
    identity_id = parse_id(args[0]) if len(args) == 1 else None
    if identity_id is None:
        await reply(update, t(context.lang, "forget_usage"))
        return
    assert context.sender is not None
    grace = context.state.settings.forget_grace_days
    done = await context.service.eraser.forget(
        identity_id, Requester.of(context.sender), grace_days=grace
    )
    if done is None:
        await reply(update, t(context.lang, "identity_missing", id=identity_id))
        return
    name = done.identity.display_name
    if done.erased:
        await reply(update, t(context.lang, "forget_erased", id=identity_id, name=name))
        return
    assert done.restorable_until is not None
    until = f"{done.restorable_until:%Y-%m-%d %H:%M} UTC"
    await reply(update, t(context.lang, "forget_done", id=identity_id, name=name, until=until))


@admin_only
async def restore(update: Update, context: BotContext) -> None:
    """Undo /forget within the grace period."""
    args = context.args or []
    identity_id = parse_id(args[0]) if len(args) == 1 else None
    if identity_id is None:
        await reply(update, t(context.lang, "restore_usage"))
        return
    assert context.sender is not None
    grace = context.state.settings.forget_grace_days
    done = await context.service.eraser.restore(
        identity_id, Requester.of(context.sender), grace_days=grace
    )
    name = done.identity.display_name if done.identity else ""
    await reply(
        update, t(context.lang, f"restore_{done.status}", id=identity_id, name=name, days=grace)
    )


def bad_input_text(lang: str, exc: BadInput) -> str:
    what = t(lang, f"field_{exc.what.replace(' ', '_')}")
    return t(lang, f"bad_{exc.reason}", what=what, limit=exc.limit or "")
