"""Wiring: the Bot API client every process uses, and the PTB application with every handler in
the order they match (PTB's examples: one place, `add_handler` after `add_handler`)."""

from __future__ import annotations

import hashlib
import re

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import STATE_KEY, BotContext, BotState
from bot.delivery.telegram_io import RetryingRateLimiter
from bot.handlers import (
    admin_gallery,
    admin_lookups,
    admin_users,
    albums,
    console_link,
    gate,
    investigations,
    officer,
)
from facefind.access.decisions import USER_ACTIONS
from facefind.runtime.settings import Settings, SettingsError

# a photo or image file sent with "/enroll ..." as its caption: enrollment, not a lookup
ENROLL_CAPTION = filters.CaptionRegex(re.compile(r"^\s*/enroll", re.IGNORECASE))
IMAGES = filters.PHOTO | filters.Document.ALL
# a GIF animation carries a document too: clips are matched before images
CLIPS = filters.VIDEO | filters.VIDEO_NOTE | filters.ANIMATION


def application_builder(settings: Settings) -> ApplicationBuilder:
    """The Bot API client every process uses (the bot, `facefind worker`): its URLs, timeouts
    and the one retry policy; no Updater."""
    if not settings.telegram_bot_token:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token in "
            "the environment or in .env"
        )
    api = settings.telegram_api_url
    return (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=BotContext))
        .rate_limiter(RetryingRateLimiter())
        .read_timeout(30)
        .write_timeout(60)
        .media_write_timeout(60)
        .get_updates_read_timeout(30)
        # no Updater: it confirms updates before they are handled; bot/inbox.py polls instead,
        # and hands each stored update to process_update, `updates_in_flight` at a time
        .updater(None)
    )


def build_application(settings: Settings, state: BotState) -> Application:
    """The PTB application with every handler; nothing is started."""
    builder = application_builder(settings)
    app = builder.build()
    app.bot_data[STATE_KEY] = state

    app.add_handler(TypeHandler(Update, gate.gatekeeper), group=-1)
    app.add_handler(CommandHandler("start", officer.start))
    app.add_handler(CommandHandler("help", officer.help_command))
    app.add_handler(CommandHandler("history", officer.history))
    app.add_handler(CommandHandler("pending", admin_users.pending))
    app.add_handler(CommandHandler("users", admin_users.users))
    app.add_handler(CommandHandler("status", admin_users.status))
    app.add_handler(CommandHandler(list(USER_ACTIONS), admin_users.user_command))
    app.add_handler(CommandHandler("enroll", admin_gallery.enroll))
    app.add_handler(CommandHandler("identity", admin_gallery.identity))
    app.add_handler(CommandHandler("forget", admin_gallery.forget))
    app.add_handler(CommandHandler("restore", admin_gallery.restore))
    app.add_handler(CommandHandler("lookups", admin_lookups.lookups))
    app.add_handler(CommandHandler("lookup", admin_lookups.lookup))
    app.add_handler(CommandHandler("export", admin_lookups.export))
    app.add_handler(CommandHandler("watch", investigations.watch))
    app.add_handler(CommandHandler("unwatch", investigations.unwatch))
    app.add_handler(CommandHandler("watchlist", investigations.watchlist))
    app.add_handler(CommandHandler("unknown", investigations.unknown))
    app.add_handler(CommandHandler("console", console_link.console))
    # before the photo handler: the first handler of a group that matches takes the update
    # (an album's parts, /enroll caption or not, are one album)
    app.add_handler(MessageHandler(albums.IN_ALBUM & (IMAGES | CLIPS), albums.album_part))
    app.add_handler(MessageHandler(IMAGES & ENROLL_CAPTION, admin_gallery.enroll_from_caption))
    app.add_handler(MessageHandler(CLIPS, officer.clip))
    app.add_handler(MessageHandler(IMAGES, officer.photo))
    app.add_handler(CallbackQueryHandler(admin_users.access_decision, pattern=r"^acc:"))
    app.add_handler(CallbackQueryHandler(officer.feedback, pattern=r"^fb:"))
    app.add_handler(CallbackQueryHandler(investigations.open_lookup, pattern=r"^lk:"))
    app.add_handler(CallbackQueryHandler(investigations.unknown_button, pattern=r"^up:"))
    app.add_handler(MessageHandler(filters.ALL, officer.unknown_input))
    app.add_error_handler(gate.error_handler)
    return app


def webhook_path(token: str) -> str:
    """A path nobody can guess without the token, stable across restarts."""
    return "/telegram/" + hashlib.sha256(token.encode()).hexdigest()[:32]
