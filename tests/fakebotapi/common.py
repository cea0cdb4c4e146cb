"""The fake Bot API's vocabulary: limits, errors, the records it keeps, and helpers that
turn request parameters into Bot API objects."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

JSON = dict[str, Any]
T = TypeVar("T")

# Limits as documented at https://core.telegram.org/bots/api.
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200

# Thumbnail boxes Telegram generates for a photo ("s", "m", "x"); the original comes last.
_PHOTO_THUMBNAIL_BOXES = (90, 320, 800)
_CHAT_ACTIONS = frozenset(
    (
        "typing upload_photo record_video upload_video record_voice upload_voice "
        "upload_document choose_sticker find_location record_video_note upload_video_note"
    ).split()
)
_BUTTON_ACTIONS = (
    "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat "
    "switch_inline_query_chosen_chat copy_text callback_game pay"
).split()
_UPDATE_TYPES_OFF_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
# Form values arrive as strings; these stay strings, every other one is JSON-decoded, so that
# a caption of "123" is not turned into a number.
_STRING_PARAMS = frozenset(
    (
        "text caption parse_mode callback_query_id url secret_token action file_id "
        "language_code inline_message_id business_connection_id message_effect_id ip_address "
        "description short_description name photo document thumbnail video audio animation "
        "voice sticker emoji title"
    ).split()
)
_WELL_FORMED_TOKEN = re.compile(r"\d+:[\w-]+")
_BOT_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


_SERVERS = itertools.count()


class BotApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """Return the JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass
class Call:
    """One request the bot made, recorded when it arrives and completed when answered."""

    method: str
    params: JSON
    files: dict[str, bytes] = field(default_factory=dict)
    file_names: dict[str, str | None] = field(default_factory=dict)
    # HTTP status of the answer: None while in flight, 0 for a dropped connection.
    status: int | None = None
    response: JSON | None = None


@dataclass(frozen=True)
class StoredFile:
    """A file the fake server holds: pushed or added by a test, or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_size: int
    file_path: str
    kind: str
    file_name: str | None = None
    mime_type: str | None = None
    # False: the size is in no message, no getFile answer and no Content-Length (the Bot API
    # makes file_size optional); the download is sent chunked
    size_known: bool = True


@dataclass
class Download:
    """One download of a stored file: how many bytes the server had written when it ended, and
    whether it reached the end (False: the client closed the connection before)."""

    file_path: str
    size: int
    sent: int = 0
    complete: bool = False


@dataclass(frozen=True)
class _Upload:
    data: bytes
    filename: str | None
    mime_type: str | None


@dataclass
class _Queued:
    update: JSON
    redelivery: bool = False
    delivered: bool = False


@dataclass(frozen=True)
class _Fault:
    mode: Literal["api", "disconnect", "bad_gateway"]
    error: BotApiError | None = None
    chat_id: int | None = None  # only requests for this chat (None: any)


class _Changes:
    """Wakes every waiter whenever the fake's state changes; notify() is safe from sync code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, probe: Callable[[], T | None], timeout: float | None) -> T:
        """Return the first non-None result of probe, re-checked on every change."""
        async with asyncio.timeout(timeout):
            while True:
                event = self._event
                found = probe()
                if found is not None:
                    return found
                await event.wait()


_Handler = Callable[[JSON, dict[str, _Upload]], Awaitable[Any]]


def _token_error(token: str) -> web.Response:
    # Telegram answers 404 for a malformed token and 401 for a well-formed unknown one.
    if _WELL_FORMED_TOKEN.fullmatch(token):
        return web.json_response(BotApiError(401, "Unauthorized").body(), status=401)
    return web.json_response(BotApiError(404, "Not Found").body(), status=404)


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
    """Read parameters from the query string and a JSON, urlencoded or multipart body."""
    params: JSON = {key: _decode_value(key, value) for key, value in request.query.items()}
    uploads: dict[str, _Upload] = {}
    if not request.body_exists:
        return params, uploads
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise _bad("can't parse JSON object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                with value.file:
                    data = value.file.read()
                uploads[key] = _Upload(data, value.filename, value.content_type)
            else:
                text = value if isinstance(value, str) else bytes(value).decode()
                params[key] = _decode_value(key, text)
    return params, uploads


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _check_upload_size(upload: _Upload) -> None:
    if len(upload.data) > MAX_UPLOAD_SIZE:
        raise BotApiError(413, "Request Entity Too Large")


# -- message helpers ---------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _public(value: Any) -> Any:
    """Drop the fake's private "_" keys, recursively, before anything goes to the bot."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _snapshot(message: Mapping[str, Any]) -> JSON:
    """A copy of a message as embedded in another one (reply_to_message, callback message)."""
    copy: JSON = _public(message)
    copy.pop("reply_to_message", None)
    return copy


def _describe(message: Mapping[str, Any]) -> str:
    body = message.get("text") or message.get("caption") or "<media>"
    return f"chat {message['chat']['id']} #{message['message_id']}: {body!r}"


def _document_dict(stored: StoredFile) -> JSON:
    document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.size_known:
        document["file_size"] = stored.file_size
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JSON]:
    entities = []
    for match in _BOT_COMMAND.finditer(text):
        offset = _utf16_len(text[: match.start()])
        entities.append({"type": "bot_command", "offset": offset, "length": _utf16_len(match[0])})
    return entities


def _inline_markup(markup: Any) -> JSON | None:
    """Validate reply_markup; return it when it is an inline keyboard (the only kind shown)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            return None
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if sum(action in button for action in _BUTTON_ACTIONS) != 1:
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and urlsplit(str(url)).scheme not in ("http", "https", "tg"):
                raise _bad("BUTTON_URL_INVALID")
    if not any(rows):
        return None
    return {"inline_keyboard": rows}


def _scope_key(scope: Any) -> str:
    if scope is None:
        return "default"
    if not isinstance(scope, Mapping) or "type" not in scope:
        raise _bad("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return str(kind)
    if kind in ("chat", "chat_administrators"):
        return f"{kind}:{scope.get('chat_id')}"
    if kind == "chat_member":
        return f"chat_member:{scope.get('chat_id')}:{scope.get('user_id')}"
    raise _bad("wrong parameter scope type")
