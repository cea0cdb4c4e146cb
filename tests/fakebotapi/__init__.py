"""A local aiohttp server that speaks the Telegram Bot API, for end-to-end tests of the bot.

`FakeBotApi` is the server; the package is split by area: `common` (limits, errors, records),
`formatting` (parse_mode), `state` (chats, messages, files, the update queue), `methods` (the
Bot API methods) and `server` (HTTP, lifecycle, and the tests' side: pushing updates, faults).
"""

from tests.fakebotapi.common import (
    JSON,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_SIZE,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_SIZE,
    BotApiError,
    Call,
    Download,
    StoredFile,
)
from tests.fakebotapi.server import FakeBotApi

__all__ = [
    "JSON",
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_DOWNLOAD_SIZE",
    "MAX_TEXT_LENGTH",
    "MAX_UPLOAD_SIZE",
    "BotApiError",
    "Call",
    "Download",
    "FakeBotApi",
    "StoredFile",
]
