"""Administrator handlers for investigations: watchlists (/watch, /unwatch, /watchlist), unknown
persons (/unknown: list, show, name, dismiss), and the buttons of alerts and unknown persons."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update

from bot.context import BotContext
from bot.delivery.notify import user_label
from bot.delivery.outbox import send_stored_lookup
from bot.delivery.replies import Target
from bot.handlers.admin_gallery import bad_input_text
from bot.handlers.common import admin_only, lookup_outcome, parse_callback, reply
from bot.texts import t
from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec
from facefind.investigations.watch import (
    AlreadyWatched,
    NotAnAdmin,
    NotWatchable,
    until_end_of,
)
from facefind.user_input import BadInput, parse_id
from gallery.watchlists import WatchEntry

_TO = re.compile(r"to=([0-9,#]+)", re.ASCII | re.IGNORECASE)
_UNTIL = re.compile(r"until=(\S+)", re.ASCII | re.IGNORECASE)


# --- watchlists -------------------------------------------------------------------------------
@admin_only
async def watch(update: Update, context: BotContext) -> None:
    """Put an identity on the watchlist: /watch ID [until=DAY] [to=ID,ID] [strong] reason."""
    lang = context.lang
    args = list(context.args or [])
    identity_id = parse_id(args.pop(0)) if args else None
    until = recipients = None
    alert_possible = True
    while args and identity_id is not None:
        word = args[0]
        if m := _UNTIL.fullmatch(word):
            until = until_end_of(m[1])
            if until is None:
                identity_id = None
        elif m := _TO.fullmatch(word):
            ids = [parse_id(p) for p in m[1].split(",") if p]
            if not ids or None in ids:
                identity_id = None
            recipients = [i for i in ids if i is not None]
        elif word.lower() == "strong":
            alert_possible = False
        else:
            break
        args.pop(0)
    if identity_id is None or not args:
        await reply(update, t(lang, "watch_usage"))
        return
    assert context.sender is not None
    try:
        entry = await context.service.watchlist.add(
            identity_id,
            " ".join(args),
            Requester.of(context.sender),
            expires_at=until,
            recipients=recipients,
            alert_possible=alert_possible,
        )
    except AlreadyWatched:
        await reply(update, t(lang, "watch_already", identity_id=identity_id))
        return
    except NotWatchable:
        await reply(update, t(lang, "identity_missing", id=identity_id))
        return
    except NotAnAdmin as exc:
        await reply(update, t(lang, "watch_not_admins", ids=", ".join(map(str, exc.user_ids))))
        return
    except BadInput as exc:
        await reply(update, bad_input_text(lang, exc))
        return
    except ValueError:
        await reply(update, t(lang, "watch_past"))
        return
    who = (
        ", ".join(map(str, entry.recipients)) if entry.recipients else t(lang, "watch_every_admin")
    )
    await reply(
        update,
        t(
            lang,
            "watch_added",
            name=entry.display_name,
            identity_id=entry.identity_id,
            reason=entry.reason,
            who=who,
            bands=bands_text(lang, entry),
            until=until_text(lang, entry),
        ),
    )


def bands_text(lang: str, entry: WatchEntry) -> str:
    return t(lang, "watch_bands_all" if entry.alert_possible else "watch_bands_strong")


def until_text(lang: str, entry: WatchEntry) -> str:
    if entry.expires_at is None:
        return t(lang, "watch_no_expiry")
    return t(lang, "watch_until", date=f"{entry.expires_at:%Y-%m-%d %H:%M} UTC")


@admin_only
async def unwatch(update: Update, context: BotContext) -> None:
    """Take an identity off the watchlist: /unwatch ID [reason]."""
    lang = context.lang
    args = context.args or []
    identity_id = parse_id(args[0]) if args else None
    if identity_id is None:
        await reply(update, t(lang, "unwatch_usage"))
        return
    assert context.sender is not None
    why = " ".join(args[1:]) or None
    entry = await context.service.watchlist.remove(identity_id, Requester.of(context.sender), why)
    if entry is None:
        await reply(update, t(lang, "unwatch_none", identity_id=identity_id))
        return
    await reply(update, t(lang, "unwatch_done", name=entry.display_name, identity_id=identity_id))


@admin_only
async def watchlist(update: Update, context: BotContext) -> None:
    """List the identities watched."""
    lang = context.lang
    assert context.sender is not None
    entries = await context.service.watchlist.listing(Requester.of(context.sender))
    if not entries:
        await reply(update, t(lang, "watchlist_empty"))
        return
    lines = [t(lang, "watchlist_header")]
    for e in entries:
        lines.append(
            t(
                lang,
                "watchlist_line",
                identity_id=e.identity_id,
                name=e.display_name,
                reason=e.reason,
                bands=bands_text(lang, e),
                until=until_text(lang, e),
                by=e.created_by,
            )
        )
    await reply(update, "\n".join(lines))


async def open_lookup(update: Update, context: BotContext) -> None:
    """The button of an alert: show the lookup, as /lookup N does."""
    query = update.callback_query
    assert query is not None and context.sender is not None
    parts = (query.data or "").split(":")
    lookup_id = parse_id(parts[1]) if len(parts) == 2 else None
    found = (
        await context.service.lookup_log.view(lookup_id, Requester.of(context.sender))
        if lookup_id is not None
        else None
    )
    if found is None:
        await query.answer(t(context.lang, "not_allowed"), show_alert=True)
        return
    await query.answer()
    lang = context.lang
    status = lookup_outcome(lang, found.status, None) if found.status != "done" else "OK"
    header = t(
        lang,
        "lookup_header",
        id=found.id,
        date=f"{found.created_at:%Y-%m-%d %H:%M}",
        actor=found.actor,
        status=status,
        faces=found.face_count if found.face_count is not None else "—",
    )
    await context.bot.send_message(context.sender.id, header)
    target = Target(context.sender.id, None, lang)
    await send_stored_lookup(context.bot, context.service, target, found)


# --- unknown persons --------------------------------------------------------------------------
@admin_only
async def unknown(update: Update, context: BotContext) -> None:
    """Unknown persons: /unknown, /unknown N, /unknown N name Name | ref, /unknown N dismiss."""
    lang = context.lang
    args = context.args or []
    assert context.sender is not None
    requester = Requester.of(context.sender)
    if not args:
        await unknown_list(update, context, requester)
        return
    group_id = parse_id(args[0])
    action = args[1].lower() if len(args) > 1 else None
    if group_id is None or action not in (None, "name", "dismiss"):
        await reply(update, t(lang, "unknown_usage"))
        return
    if action == "dismiss":
        done = await context.service.unknown.dismiss(group_id, requester)
        key = "unknown_dismissed" if done else "unknown_not_open"
        await reply(update, t(lang, key, id=group_id))
        return
    if action == "name":
        await unknown_name(update, context, requester, group_id, " ".join(args[2:]))
        return
    await unknown_show(update, context, requester, group_id)


async def unknown_list(update: Update, context: BotContext, requester: Requester) -> None:
    lang = context.lang
    found = await context.service.unknown.listing(requester, limit=30)
    if not found:
        await reply(update, t(lang, "unknown_empty"))
        return
    lines = [t(lang, "unknown_header")]
    for p in found:
        lines.append(
            t(
                lang,
                "unknown_line",
                id=p.id,
                n=p.sighting_count,
                first=f"{p.first_seen:%Y-%m-%d}" if p.first_seen else "—",
                last=f"{p.last_seen:%Y-%m-%d %H:%M}" if p.last_seen else "—",
            )
        )
    await reply(update, "\n".join(lines))


async def unknown_show(
    update: Update, context: BotContext, requester: Requester, group_id: int
) -> None:
    """An unknown person's card, its sightings' pictures with who took each, and a button to
    dismiss it."""
    lang = context.lang
    card = await context.service.unknown.view(group_id, requester)
    if card is None or card.person.state != "open":
        await reply(update, t(lang, "unknown_not_open", id=group_id))
        return
    people = context.service.gallery.users
    pictures = []
    for n, s in enumerate(card.sightings, start=1):
        user = await people.get(s.user_id) if s.user_id is not None else None
        caption = t(
            lang,
            "unknown_sighting",
            n=n,
            date=f"{s.created_at:%Y-%m-%d %H:%M}",
            who=user_label(user) if user is not None else s.actor,
            lookup_id=s.lookup_id,
        )
        if s.crop_jpeg:
            pictures.append((s.crop_jpeg, caption))
    message = update.effective_message
    assert message is not None
    for start in range(0, len(pictures), 10):
        chunk = pictures[start : start + 10]
        if len(chunk) == 1:
            await message.reply_photo(chunk[0][0], caption=chunk[0][1], do_quote=False)
        else:
            media = [InputMediaPhoto(data, caption=caption) for data, caption in chunk]
            await message.reply_media_group(media, do_quote=False)
    p = card.person
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "btn_dismiss"), callback_data=f"up:d:{p.id}")]]
    )
    await reply(
        update,
        t(
            lang,
            "unknown_card",
            id=p.id,
            n=p.sighting_count,
            first=f"{p.first_seen:%Y-%m-%d %H:%M}" if p.first_seen else "—",
            last=f"{p.last_seen:%Y-%m-%d %H:%M}" if p.last_seen else "—",
        ),
        reply_markup=keyboard,
    )


async def unknown_name(
    update: Update, context: BotContext, requester: Requester, group_id: int, text: str
) -> None:
    lang = context.lang
    parts = [p.strip() for p in text.split("|")]
    if not parts[0] or len(parts) > 2:
        await reply(update, t(lang, "unknown_usage"))
        return
    spec = IdentitySpec(parts[0], parts[1] or None if len(parts) == 2 else None)
    try:
        identity_id = await context.service.unknown.name(group_id, spec, requester)
    except BadInput as exc:
        await reply(update, bad_input_text(lang, exc))
        return
    if identity_id is None:
        await reply(update, t(lang, "unknown_not_open", id=group_id))
        return
    identity = await context.service.gallery.identities.get(identity_id)
    assert identity is not None
    ref = t(lang, "ref", ref=identity.external_ref) if identity.external_ref else ""
    await reply(
        update,
        t(
            lang,
            "unknown_named",
            id=group_id,
            name=identity.display_name,
            ref=ref,
            identity_id=identity_id,
        ),
    )


@admin_only
async def unknown_button(update: Update, context: BotContext) -> None:
    """The button under an unknown person: dismiss the grouping."""
    query = update.callback_query
    assert query is not None and context.sender is not None
    parsed = parse_callback(query.data, {"d": "dismiss"})
    if parsed is None:
        await query.answer(t(context.lang, "not_allowed"))
        return
    _, group_id = parsed
    done = await context.service.unknown.dismiss(group_id, Requester.of(context.sender))
    text = t(context.lang, "unknown_dismissed" if done else "unknown_not_open", id=group_id)
    await query.answer(text, show_alert=True)
