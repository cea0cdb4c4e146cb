"""The command menus: the officers' for everyone, the full one in each admin's chat."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.texts import LANGUAGES, t
from gallery import User

logger = logging.getLogger(__name__)

OFFICER_COMMANDS = ["start", "help", "history"]
ADMIN_COMMANDS = [
    "status", "pending", "users", "approve", "reject", "revoke", "promote", "demote", "enroll",
    "identity", "forget", "restore", "lookups", "lookup", "export",
    "watch", "unwatch", "watchlist", "unknown",
]  # fmt: skip
# the menu is published in the default language and, for readers whose Telegram speaks it, in
# each other language (language_code)
MENU_LANGUAGES: tuple[str | None, ...] = (None, *[lang for lang in LANGUAGES if lang != "en"])


def menu(names: list[str], lang: str | None) -> list[BotCommand]:
    return [BotCommand(c, t(lang or "en", f"cmd_{c}")) for c in names]


async def publish_commands(bot: Bot, admins: list[User]) -> None:
    """setMyCommands: the officer menu for everyone, the full menu in each admin's chat."""
    for lang in MENU_LANGUAGES:
        await bot.set_my_commands(
            menu(OFFICER_COMMANDS, lang), scope=BotCommandScopeDefault(), language_code=lang
        )
    for admin in admins:
        await set_admin_menu(bot, admin.id, True)


async def set_admin_menu(bot: Bot, user_id: int, is_admin: bool) -> None:
    try:
        for lang in MENU_LANGUAGES:
            if is_admin:
                await bot.set_my_commands(
                    menu(OFFICER_COMMANDS + ADMIN_COMMANDS, lang),
                    scope=BotCommandScopeChat(user_id),
                    language_code=lang,
                )
            else:
                await bot.delete_my_commands(scope=BotCommandScopeChat(user_id), language_code=lang)
    except TelegramError as exc:  # e.g. the admin never opened a chat with the bot
        logger.warning("could not set the command menu for %s: %s", user_id, exc)
