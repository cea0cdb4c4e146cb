"""Words that depend on a number or a date: plural forms and relative days, in the reader's
language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bot.texts import t


def plural(lang: str, n: int) -> str:
    """The plural form a number takes: one, few or many (Ukrainian has three; English uses
    `one` for 1 and `many` otherwise)."""
    if lang == "uk":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    return "one" if n == 1 else "many"


def times(lang: str, n: int) -> str:
    """'1 time', '3 times' ('1 раз', '3 рази', '5 разів')."""
    return t(lang, f"times_{plural(lang, n)}", n=n)


def ago(lang: str, then: datetime, now: datetime) -> str:
    """A day relative to today, as people say it: today, yesterday, 3 days ago; on a date
    after two weeks. Days are counted in UTC, as every date the bot shows."""
    days = (now.date() - then.date()).days
    if days <= 0:
        return t(lang, "ago_today")
    if days == 1:
        return t(lang, "ago_yesterday")
    if days < 14:
        form = plural(lang, days)
        return t(lang, f"ago_days_{form}", n=days)
    return t(lang, "ago_date", date=f"{then:%Y-%m-%d}")


def listing(lang: str, items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + t(lang, "and") + items[-1]


def day(value: date | datetime) -> str:
    return f"{value:%Y-%m-%d}"
