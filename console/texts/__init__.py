"""Every string the console shows, in English and Ukrainian side by side per key, one module per
page area; pages use `T.key` (texts_for) and handlers `t(lang, key, **values)`."""

from __future__ import annotations

import functools

from console.texts.audit import AUDIT_TEXTS
from console.texts.frame import FRAME_TEXTS
from console.texts.identities import IDENTITY_TEXTS
from console.texts.investigations import INVESTIGATION_TEXTS
from console.texts.lookups import LOOKUP_TEXTS, REASONS
from console.texts.status import STATUS_TEXTS
from console.texts.users import USER_TEXTS

__all__ = ["REASONS", "TEXTS", "browser_language", "language_of", "number", "t", "texts_for"]

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "uk")


def language_of(code: str | None) -> str:
    """Telegram's language_code (or a browser's language tag) to one we speak."""
    if code and code.lower().split("-")[0].split("_")[0] == "uk":
        return "uk"
    return DEFAULT_LANGUAGE


def browser_language(accept_language: str | None) -> str:
    """Before sign-in the admin's Telegram language is unknown: the browser's first choice of
    the languages we speak."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.split("-")[0] in LANGUAGES:
            return tag.split("-")[0]
    return DEFAULT_LANGUAGE


def t(lang: str, key: str, **values: object) -> str:
    entry = TEXTS[key]
    template = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def number(lang: str, n: int) -> str:
    """A whole number as the reader writes it: 20,000 (en), 20 000 (uk)."""
    text = f"{n:,}"
    return text.replace(",", "\u00a0") if lang == "uk" else text


@functools.cache
def texts_for(lang: str) -> dict[str, str]:
    """One language's strings, for the templates (`T.key`)."""
    return {key: entry.get(lang) or entry[DEFAULT_LANGUAGE] for key, entry in TEXTS.items()}


TEXTS: dict[str, dict[str, str]] = {}
# one module per page area; a new area adds its own here
for _part in (
    FRAME_TEXTS,
    LOOKUP_TEXTS,
    IDENTITY_TEXTS,
    USER_TEXTS,
    AUDIT_TEXTS,
    STATUS_TEXTS,
    INVESTIGATION_TEXTS,
):
    assert not TEXTS.keys() & _part.keys(), "a key is defined twice"
    TEXTS.update(_part)
