"""The command menus: the officers' for everyone, the full one in each admin's chat; and each
admin's menu button, which opens the console as a Mini App when it has an HTTPS address."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.error import TelegramError

from bot.texts import LANGUAGES, language_of, t
from gallery import User

logger = logging.getLogger(__name__)

OFFICER_COMMANDS = ["start", "help", "history"]
ADMIN_COMMANDS = [
    "status", "pending", "users", "approve", "reject", "revoke", "promote", "demote", "enroll",
    "identity", "forget", "restore", "lookups", "lookup", "export", "console",
    "watch", "unwatch", "watchlist", "unknown",
]  # fmt: skip
# the menu is published in the default language and, for readers whose Telegram speaks it, in
# each other language (language_code)
MENU_LANGUAGES: tuple[str | None, ...] = (None, *[lang for lang in LANGUAGES if lang != "en"])


def menu(names: list[str], lang: str | None) -> list[BotCommand]:
    return [BotCommand(c, t(lang or "en", f"cmd_{c}")) for c in names]


async def publish_commands(bot: Bot, admins: list[User], *, console_app: str | None = None) -> None:
    """setMyCommands: the officer menu for everyone, the full menu in each admin's chat (and
    the console's menu button, with `console_app`: its Mini App page)."""
    for lang in MENU_LANGUAGES:
        await bot.set_my_commands(
            menu(OFFICER_COMMANDS, lang), scope=BotCommandScopeDefault(), language_code=lang
        )
    for admin in admins:
        await set_admin_menu(bot, admin.id, True)
        await set_console_button(bot, admin, console_app)


async def set_console_button(bot: Bot, user: User, console_app: str | None) -> None:
    """setChatMenuButton in a user's chat: the console as a Mini App for an admin, Telegram's
    default for anyone else. Without a Mini App (no HTTPS address) nothing is set."""
    if console_app is None:
        return
    if user.is_admin:
        text = t(language_of(user.language), "console_menu_button")
        button: MenuButtonDefault | MenuButtonWebApp = MenuButtonWebApp(
            text, WebAppInfo(console_app)
        )
    else:
        button = MenuButtonDefault()
    try:
        await bot.set_chat_menu_button(chat_id=user.id, menu_button=button)
    except TelegramError as exc:  # e.g. the admin never opened a chat with the bot
        logger.warning("could not set the menu button for %s: %s", user.id, exc)


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
