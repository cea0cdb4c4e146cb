"""What the console's decisions tell users in Telegram. The composition root (facefind/cli) hands
these to the console, which never imports the bot: inside `facefind run` through the running
bot, in `facefind console` alone through a Bot API client of its own."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from telegram import Bot
from telegram.error import TelegramError

from bot.app import application_builder
from bot.handlers.admin_users import tell_decision
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import User

logger = logging.getLogger(__name__)

DecisionNotice = Callable[[User, User], Awaitable[bool | None]]


def decision_notice(bot: Bot, service: FaceFind) -> DecisionNotice:
    """Tell a user of a decision on them (before, after) through `bot`, as the bot's own
    commands do; their menus follow their role."""

    async def tell(before: User, after: User) -> bool | None:
        return await tell_decision(bot, before, after, console_app=service.web_sessions.webapp_url)

    return tell


@asynccontextmanager
async def standalone_notices(
    settings: Settings, service: FaceFind
) -> AsyncIterator[DecisionNotice | None]:
    """For `facefind console` alone: a Bot API client of its own (None without a token). It
    says who it is to Telegram on first use, so a Bot API out of reach at start does not stop
    the console; a notice that cannot be sent then is logged and reported as not told."""
    if not settings.telegram_bot_token:
        yield None
        return
    bot = application_builder(settings).build().bot
    ready = False

    async def tell(before: User, after: User) -> bool | None:
        nonlocal ready
        if not ready:
            try:
                await bot.initialize()
                ready = True
            except TelegramError as exc:
                logger.warning("console: the Bot API cannot be reached to tell a user: %s", exc)
                return False
        return await decision_notice(bot, service)(before, after)

    try:
        yield tell
    finally:
        if ready:
            await bot.shutdown()
