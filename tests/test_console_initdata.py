"""Telegram's initData check and the console's address settings, without a browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from facefind.access.init_data import InitDataError, check_init_data, csrf_token, init_data_hash
from facefind.runtime.settings import Settings, SettingsError

# aiogram's test vector (tests/test_utils/test_web_app.py): a hash Telegram's scheme gives for
# token "42:TEST", computed by another implementation than ours
AIOGRAM_TOKEN = "42:TEST"
AIOGRAM_INIT_DATA = (
    "auth_date=1650385342"
    "&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D"
    "&query_id=test"
    "&hash=46d2ea5e32911ec8d30999b56247654460c0d20949b6277af519e76271182803"
)
AIOGRAM_TIME = datetime.fromtimestamp(1650385342, UTC)
TOKEN = "123:secret"


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    return urlencode({**fields, "hash": init_data_hash(fields, token)})


def fields_at(when: datetime, user_id: int = 7) -> dict[str, str]:
    return {
        "user": json.dumps({"id": user_id, "first_name": "Oksana", "language_code": "uk"}),
        "auth_date": str(int(when.timestamp())),
        "query_id": "q",
    }


def test_another_implementations_signed_init_data_is_accepted() -> None:
    user = check_init_data(AIOGRAM_INIT_DATA, AIOGRAM_TOKEN, AIOGRAM_TIME + timedelta(minutes=1))
    assert (user.id, user.first_name) == (42, "Test")


def test_the_same_init_data_under_another_bots_token_is_forged() -> None:
    with pytest.raises(InitDataError) as refused:
        check_init_data(AIOGRAM_INIT_DATA, "42:OTHER", AIOGRAM_TIME)
    assert refused.value.reason == "forged"


def test_any_changed_field_makes_init_data_forged() -> None:
    now = datetime.now(UTC)
    genuine = signed(fields_at(now))
    assert check_init_data(genuine, TOKEN, now).id == 7
    for tampered in (
        genuine.replace("%22id%22%3A+7", "%22id%22%3A+8"),
        genuine.replace("query_id=q", "query_id=r"),
        genuine + "&extra=1",
    ):
        with pytest.raises(InitDataError) as refused:
            check_init_data(tampered, TOKEN, now)
        assert refused.value.reason == "forged", tampered


def test_init_data_is_accepted_for_an_hour_and_refused_after() -> None:
    signed_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    data = signed(fields_at(signed_at))
    assert check_init_data(data, TOKEN, signed_at + timedelta(hours=1)).id == 7
    with pytest.raises(InitDataError) as refused:
        check_init_data(data, TOKEN, signed_at + timedelta(hours=1, seconds=1))
    assert refused.value.reason == "stale"


def test_init_data_dated_well_in_the_future_is_refused() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(InitDataError) as refused:
        check_init_data(signed(fields_at(now + timedelta(hours=2))), TOKEN, now)
    assert refused.value.reason == "stale"


@pytest.mark.parametrize(
    "init_data",
    [
        "",
        "hash",
        "user=%7B%7D&auth_date=1",  # no hash
        "a=1&a=2&hash=00",  # a repeated key
    ],
)
def test_malformed_init_data_is_refused(init_data: str) -> None:
    with pytest.raises(InitDataError) as refused:
        check_init_data(init_data, TOKEN, datetime.now(UTC))
    assert refused.value.reason == "malformed"


def test_signed_init_data_without_a_user_is_refused_as_malformed() -> None:
    now = datetime.now(UTC)
    with pytest.raises(InitDataError) as refused:
        check_init_data(signed({"auth_date": str(int(now.timestamp()))}), TOKEN, now)
    assert refused.value.reason == "malformed"


def test_the_csrf_token_differs_per_session_and_is_stable() -> None:
    assert csrf_token("a" * 43) == csrf_token("a" * 43)
    assert csrf_token("a" * 43) != csrf_token("b" * 43)


def test_the_console_listens_locally_unless_told_otherwise() -> None:
    settings = Settings.from_env({}, dotenv=False)
    assert (settings.web_listen, settings.web_url) == ("127.0.0.1:8081", None)
    told = Settings.from_env(
        {"FACEFIND_WEB_LISTEN": "0.0.0.0:9000", "FACEFIND_WEB_URL": "https://console.example.org"},
        dotenv=False,
    )
    assert (told.web_listen, told.web_url) == ("0.0.0.0:9000", "https://console.example.org")
    assert settings.console_enabled and told.console_enabled


@pytest.mark.parametrize("value", ["off", "OFF", " Off "])
def test_the_console_can_be_switched_off(value: str) -> None:
    settings = Settings.from_env({"FACEFIND_WEB_LISTEN": value}, dotenv=False)
    assert (settings.web_listen, settings.console_enabled) == ("off", False)


def test_a_listen_address_that_is_neither_host_port_nor_off_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"FACEFIND_WEB_LISTEN.*or off"):
        Settings.from_env({"FACEFIND_WEB_LISTEN": "nowhere"}, dotenv=False)


@pytest.mark.parametrize(
    "url",
    ["https://console.example.org", "https://93.184.215.14:8443/", "http://192.168.1.20:8081",
     "http://127.0.0.1:8081", "http://nas.local:8081", "http://facefind:8081"],
)  # fmt: skip
def test_an_https_address_or_a_local_http_one_is_accepted(url: str) -> None:
    assert Settings(web_url=url).web_url == url


@pytest.mark.parametrize(
    "url",
    ["http://console.example.org", "http://93.184.215.14:8081", "ftp://example.org",
     "https://example.org/console", "https://user:pw@example.org", "https://example.org?x=1",
     "console.example.org", "https://example.org:port"],
)  # fmt: skip
def test_a_public_http_address_or_a_malformed_one_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="FACEFIND_WEB_URL"):
        Settings(web_url=url)
