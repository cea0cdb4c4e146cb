"""The console's words: every string in English and Ukrainian with the same placeholders, and
every text a template names exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from console.texts import TEXTS, browser_language, language_of, number

TEMPLATES = Path(__file__).resolve().parent.parent / "console" / "templates"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_console_text_is_in_english_and_ukrainian_with_the_same_placeholders() -> None:
    for key, entry in TEXTS.items():
        assert set(entry) == {"en", "uk"}, key
        assert entry["en"].strip() and entry["uk"].strip(), key
        assert placeholders(entry["en"]) == placeholders(entry["uk"]), key


def test_every_text_a_template_names_exists() -> None:
    named: set[str] = set()
    for page in TEMPLATES.glob("*.html"):
        source = page.read_text(encoding="utf-8")
        named |= set(re.findall(r"\bT\.([a-z0-9_]+)", source))
        named |= set(re.findall(r"""\bT\[["']([a-z0-9_]+)["']\]""", source))
    assert named and named <= TEXTS.keys(), sorted(named - TEXTS.keys())


def test_the_admins_telegram_language_or_the_browsers_picks_the_console_language() -> None:
    assert (language_of("uk"), language_of("uk-UA"), language_of("de")) == ("uk", "uk", "en")
    assert browser_language("uk-UA,uk;q=0.9,en;q=0.8") == "uk"
    assert browser_language("de-DE,de;q=0.9") == "en"
    assert (number("en", 20000), number("uk", 20000)) == ("20,000", "20\u00a0000")
