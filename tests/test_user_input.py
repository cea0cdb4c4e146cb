"""Input hygiene: ids, names and dates as people type them, before any of it reaches SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.handlers.common import parse_callback
from facefind.enroll.photo import IdentitySpec, clean_spec
from facefind.user_input import BIGINT_MAX, NAME_MAX, BadInput, clean_name, parse_day, parse_id

TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("#42", 42),
        (" 7 ", 7),
        (str(BIGINT_MAX), BIGINT_MAX),
        (str(BIGINT_MAX + 1), None),
        ("99999999999999999999", None),  # the 20 digits that overflowed int64 in the driver
        ("0", None),
        ("-1", None),
        ("12a", None),
        ("", None),
        ("²", None),  # str.isdigit() says yes; int() refuses
        ("٣", None),  # an Arabic-Indic digit: int() would read it as 3
    ],
)
def test_ids_are_whole_numbers_that_fit_a_bigint(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_forged_callback_data_with_a_huge_id_is_refused() -> None:
    kinds = {"c": "confirmed", "r": "rejected"}
    assert parse_callback("fb:c:17", kinds) == ("confirmed", 17)
    assert parse_callback("fb:c:99999999999999999999", kinds) is None
    assert parse_callback("fb:x:17", kinds) is None
    assert parse_callback("fb:c:17:3", kinds) is None
    assert parse_callback(None, kinds) is None


def test_names_lose_control_and_bidi_characters() -> None:
    assert clean_name("Nul\x00Name") == "NulName"
    # an override would show "Ada" followed by reversed text; an isolate could hide a suffix
    assert clean_name("Ada\u202emiN") == "AdamiN"
    assert clean_name("\u2066Ada\u2069 Lovelace\u200f") == "Ada Lovelace"
    assert clean_name("  Olena\tPetrenko\n") == "Olena Petrenko"
    assert clean_name("Олена Петренко") == "Олена Петренко"
    assert clean_name("محمد علي") == "محمد علي"
    assert clean_name("e\u0301") == "é"  # one form of each letter, so equal names compare equal


def test_a_name_must_be_short_and_not_empty() -> None:
    assert clean_name("x" * NAME_MAX) == "x" * NAME_MAX
    with pytest.raises(BadInput) as too_long:
        clean_name("x" * 5000)
    assert too_long.value.reason == "too_long" and too_long.value.limit == NAME_MAX
    with pytest.raises(BadInput) as empty:
        clean_name("\u202e\x00 \u2066")
    assert empty.value.reason == "empty"


def test_the_service_cleans_every_field_of_a_new_identity() -> None:
    spec = clean_spec(IdentitySpec("Ada\x00 Lovelace", " REF\u202e-1 ", "\n"))
    assert spec == IdentitySpec("Ada Lovelace", "REF-1", None)
    with pytest.raises(BadInput, match="external reference"):
        clean_spec(IdentitySpec("Ada", "r" * 201))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-31", date(2025, 5, 31)),
        ("2000-01-01", date(2000, 1, 1)),
        ("2025-06-02", date(2025, 6, 2)),  # tomorrow: lookups made today in another time zone
        ("2025-06-03", None),
        ("9999-01-01", None),  # the year that broke /export
        ("9999-12-31", None),
        ("1999-12-31", None),
        ("2025-02-30", None),
        ("2025-6-1", None),
        ("yesterday", None),
    ],
)
def test_days_are_real_and_within_range(text: str, expected: date | None) -> None:
    parsed = parse_day(text, today=TODAY)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == datetime(expected.year, expected.month, expected.day, tzinfo=UTC)
