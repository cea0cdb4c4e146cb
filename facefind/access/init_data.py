"""Telegram's Mini App initData checked as Telegram specifies, and the console's tokens: what a
sign-in proves, without a password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

INIT_DATA_MAX_AGE = timedelta(hours=1)
# a clock a little ahead of ours still signs in; more is a forgery or a broken clock
INIT_DATA_FUTURE = timedelta(minutes=5)
_CSRF_CONTEXT = b"facefind console csrf"


@dataclass(frozen=True)
class WebAppUser:
    """The Telegram user of an authentic initData."""

    id: int
    first_name: str
    language_code: str | None
    auth_date: datetime


class InitDataError(ValueError):
    """initData that is not Telegram's for this bot (`reason`: malformed, forged, stale)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def init_data_hash(fields: dict[str, str], bot_token: str) -> str:
    """Telegram's hash of initData's fields (all but `hash`), as
    https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app says:
    secret = HMAC-SHA256(key "WebAppData", bot token); hash = HMAC-SHA256(secret, the sorted
    key=value lines joined by a line feed), in hex."""
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def check_init_data(
    init_data: str, bot_token: str, now: datetime, *, max_age: timedelta = INIT_DATA_MAX_AGE
) -> WebAppUser:
    """The user of authentic, fresh initData; InitDataError otherwise. The hash is compared in
    constant time and checked before anything else in the data is believed."""
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("malformed") from None
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        raise InitDataError("malformed")  # a repeated key: which one did Telegram sign?
    expected = init_data_hash(fields, bot_token)
    if not hmac.compare_digest(expected.encode(), fields["hash"].encode()):
        raise InitDataError("forged")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        raise InitDataError("malformed") from None
    if now - auth_date > max_age or auth_date - now > INIT_DATA_FUTURE:
        raise InitDataError("stale")
    return WebAppUser(
        id=user_id,
        first_name=str(user.get("first_name") or ""),
        language_code=user.get("language_code"),
        auth_date=auth_date,
    )


def token_hash(token: str) -> bytes:
    """What the database keeps of a link's or a session's token: whoever reads it cannot sign
    in with it."""
    return hashlib.sha256(token.encode()).digest()


def csrf_token(session_token: str) -> str:
    """Derived from the session's secret token: nothing more to store, and useless without it."""
    mac = hmac.new(session_token.encode(), _CSRF_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def console_base_url(web_url: str | None, web_listen: str) -> str:
    """Where the console is reached: FACEFIND_WEB_URL, else its own listening address."""
    return (web_url or f"http://{web_listen}").rstrip("/")
