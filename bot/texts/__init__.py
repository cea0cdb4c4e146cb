"""Every user-facing string, in English and Ukrainian side by side per key, one module per
audience (menus and help, access, officers, admins). Callers use `t(lang, key, **values)`."""

from __future__ import annotations

from bot.texts.access import ACCESS_TEXTS
from bot.texts.admin import ADMIN_TEXTS
from bot.texts.console import CONSOLE_TEXTS
from bot.texts.investigations import INVESTIGATION_TEXTS
from bot.texts.menus import MENU_TEXTS
from bot.texts.officer import OFFICER_TEXTS

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "uk")


def language_of(code: str | None) -> str:
    """Telegram's language_code to one we speak: 'uk' (and 'uk-UA') is Ukrainian."""
    if code and code.lower().split("-")[0] == "uk":
        return "uk"
    return DEFAULT_LANGUAGE


def number(lang: str, n: int) -> str:
    """A whole number as the reader writes it: 20,000 (en), 20 000 (uk)."""
    text = f"{n:,}"
    return text.replace(",", "\u00a0") if lang == "uk" else text


def t(lang: str, key: str, **values: object) -> str:
    entry = TEXTS[key]
    template = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


TEXTS: dict[str, dict[str, str]] = {}
for _part in (
    MENU_TEXTS,
    ACCESS_TEXTS,
    OFFICER_TEXTS,
    ADMIN_TEXTS,
    CONSOLE_TEXTS,
    INVESTIGATION_TEXTS,
):
    assert not TEXTS.keys() & _part.keys(), "a key is defined twice"
    TEXTS.update(_part)
