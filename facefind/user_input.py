"""Input hygiene for the bot and the CLI: ids, names and dates checked before SQL sees them."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from facefind.errors import FaceFindError

# PostgreSQL bigint: every id column. A larger number would overflow in the driver.
BIGINT_MAX = 2**63 - 1
NAME_MAX = 200
REF_MAX = 200
NOTES_MAX = 2000
# The oldest day a date argument may name; nothing in facefind is older than this.
FIRST_DAY = date(2000, 1, 1)

# ASCII digits only: str.isdigit() also accepts '²' and '٣', which int() refuses or reads oddly
_ID = re.compile(r"#?([0-9]{1,19})", re.ASCII)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)

# Characters that reorder or hide text when shown: bidi embeddings, overrides and isolates,
# the implicit direction marks, the byte-order mark and the word joiners that make two names
# look alike. An override can turn "Ada" plus a suffix into what reads as another name or id.
_INVISIBLE = frozenset(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0xFEFF, 0x2060]
)
# zero-width space, Mongolian vowel separator: invisible, and not needed in a name
_INVISIBLE |= {0x200B, 0x180E}


class BadInput(FaceFindError):
    """A value a person typed is outside what facefind accepts; `reason` says which rule."""

    code = "bad_input"

    def __init__(self, what: str, reason: str, limit: int | None = None) -> None:
        super().__init__(f"{what}: {reason}" + (f" (at most {limit})" if limit else ""))
        self.what = what
        self.reason = reason
        self.limit = limit


def parse_id(text: str | None) -> int | None:
    """A database id typed by a person ('42' or '#42'): None unless 1 <= id <= bigint max."""
    if text is None:
        return None
    match = _ID.fullmatch(text.strip())
    if match is None:
        return None
    value = int(match[1])
    return value if 1 <= value <= BIGINT_MAX else None


def db_id(value: int) -> bool:
    """Whether an integer fits an id column (callback data and CLI arguments are ints already)."""
    return 1 <= value <= BIGINT_MAX


def strip_unsafe(text: str) -> str:
    """Text without control, bidi-override and invisible characters, whitespace collapsed.

    Used for names shown to other people (identities, Telegram names): what the reader sees is
    what is stored, and nothing can reorder the line it is shown in."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        code = ord(ch)
        if code in _INVISIBLE:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            # tabs and line breaks become spaces; NUL and the other controls go
            out.append(" " if ch in "\t\n\r\v\f\x85\u2028\u2029" else "")
            continue
        if category in ("Cs", "Co", "Cn"):  # lone surrogates, private use, unassigned
            continue
        out.append(ch)
    return " ".join("".join(out).split())


def clean_name(text: str, *, what: str = "name", limit: int = NAME_MAX) -> str:
    """An identity's display name (or another short label) as it will be stored and shown.

    Unsafe characters are removed (see strip_unsafe); an empty or overlong result is refused
    with BadInput rather than cut, since a shortened name may be someone else's."""
    clean = strip_unsafe(text)
    if not clean:
        raise BadInput(what, "empty")
    if len(clean) > limit:
        raise BadInput(what, "too_long", limit)
    return clean


def clean_optional(text: str | None, *, what: str, limit: int) -> str | None:
    """Like clean_name for optional fields (external reference, notes): empty gives None."""
    if text is None:
        return None
    clean = strip_unsafe(text)
    if len(clean) > limit:
        raise BadInput(what, "too_long", limit)
    return clean or None


def parse_day(text: str, *, today: date | None = None) -> datetime | None:
    """'YYYY-MM-DD' as midnight UTC; None unless it is a real day from 2000-01-01 to tomorrow.

    Later days name no lookup yet, and far ones (9999-12-31) overflow date arithmetic."""
    match = _DAY.fullmatch(text.strip())
    if match is None:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    last = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if not FIRST_DAY <= day <= last:
        return None
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)
