"""A local aiohttp server that speaks the Telegram Bot API, for end-to-end tests of the bot."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from PIL import Image

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


class FakeBotApi:
    """A Bot API server for one bot token, with helpers to push updates and inspect requests.

    Messages in `sent` are Bot API Message dicts kept up to date by edits. Besides the public
    fields they carry private keys (never sent to the bot): `_raw_text` / `_raw_caption` (text
    before parse_mode markup was applied), `_parse_mode`, `_reply_markup` (whatever markup was
    sent, reply keyboards included), `_file`, `_file_name`, `_mime_type` (the media bytes) and
    `_deleted`.
    """

    def __init__(
        self,
        token: str = "123:TEST",
        *,
        bot_id: int | None = None,
        bot_username: str = "facefind_test_bot",
        bot_name: str = "FaceFind Test",
        shutdown_timeout: float = 1.0,
    ) -> None:
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.sent: list[JSON] = []
        self.callback_answers: list[JSON] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.profile: dict[str, str] = {}
        self.files: dict[str, StoredFile] = {}
        self.blocked_users: set[int] = set()
        self.webhook: JSON | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self._shutdown_timeout = shutdown_timeout
        self._changes = _Changes()
        self._queue: list[_Queued] = []
        self._allowed_updates: frozenset[str] | None = None
        # Telegram's update ids are a sequence per bot that starts anywhere (and restarts at a
        # random value after a week without updates): each fake server starts a range of its own
        self._update_ids = itertools.count(100_001 + 1_000_000 * next(_SERVERS))
        self._file_numbers = itertools.count(1)
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._last_message_id: dict[int, int] = {}
        self._photo_sets: dict[str, list[JSON]] = {}
        self._callbacks: dict[str, bool] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None
        self._url: str | None = None
        methods: dict[str, _Handler] = {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "setMyDescription": self._profile_setter("description"),
            "getMyDescription": self._profile_getter("description"),
            "setMyShortDescription": self._profile_setter("short_description"),
            "getMyShortDescription": self._profile_getter("short_description"),
            "setMyName": self._profile_setter("name"),
            "getMyName": self._profile_getter("name"),
        }
        # Telegram matches method names case-insensitively.
        self._methods = {name.lower(): (name, handler) for name, handler in methods.items()}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port and return the root URL."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi is already running")
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 8 * 1024 * 1024)
        app[FAKE_BOT_API] = self
        app.router.add_route("*", "/bot{token}/{method}", _api_handler)
        app.router.add_get("/file/bot{token}/{file_path:.+}", _file_handler)
        app.router.add_route("*", "/{tail:.*}", _not_found_handler)
        app.cleanup_ctx.append(_client_and_webhook_delivery)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        log.debug("fake Bot API listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Answer pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._changes.notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL of the running server."""
        if self._url is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """Value for ApplicationBuilder.base_url / Bot(base_url=...)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ApplicationBuilder.base_file_url / Bot(base_file_url=...)."""
        return f"{self.url}/file/bot"

    # -- test side: chats, files and updates --------------------------------------------------

    def user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
    ) -> JSON:
        """Build a User dict and open its private chat with the bot (as /start would)."""
        user: JSON = {"id": id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._private_chat(user)
        return user

    def group(self, chat_id: int, title: str = "Test group", *, supergroup: bool = True) -> JSON:
        """Build and register a group Chat dict the bot is a member of."""
        chat: JSON = {
            "id": chat_id,
            "type": "supergroup" if supergroup else "group",
            "title": title,
        }
        self._chats[chat_id] = chat
        return chat

    def block_user(self, user_id: int) -> None:
        """Make sends to this user's chat fail with 403 "bot was blocked by the user"."""
        self.blocked_users.add(user_id)

    def add_file(
        self,
        data: bytes,
        *,
        file_size: int | None = None,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> tuple[str, str]:
        """Store a file and return (file_id, file_unique_id); file_size may claim more than data."""
        stored = self._store_file(
            data, kind=kind, file_name=file_name, mime_type=mime_type, file_size=file_size
        )
        return stored.file_id, stored.file_unique_id

    def push_message(
        self,
        user: Mapping[str, Any],
        text: str | None = None,
        *,
        photo: bytes | str | None = None,
        document: tuple[bytes, str, str | None] | None = None,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Queue a message update from user and return it.

        photo is image bytes (the largest PhotoSize holds them unchanged, smaller ones are JPEG
        thumbnails) or a file_id of an earlier photo. document is (bytes, file name, mime type).
        Commands in text/caption get bot_command entities, as Telegram adds them. chat_id picks a
        group (see group()); by default the user's private chat. extra is merged into the message.
        """
        if text is None and photo is None and document is None:
            raise ValueError("push_message needs text, photo or document")
        if text is not None and (photo is not None or document is not None):
            raise ValueError("a message with media carries caption=, not text=")
        if photo is not None and document is not None:
            raise ValueError("a message has either a photo or a document")
        sender = dict(user)
        private = self._private_chat(sender)
        if chat_id is None or chat_id == sender["id"]:
            chat = private
        else:
            chat = self._chats.get(chat_id) or self.group(chat_id, f"Group {chat_id}")
        content: JSON = {}
        if text is not None:
            content["text"] = text
            if entities := _command_entities(text):
                content["entities"] = entities
        if caption is not None:
            content["caption"] = caption
            if entities := _command_entities(caption):
                content["caption_entities"] = entities
        if isinstance(photo, str):
            content["photo"] = self._photo_sizes_for_id(photo)
        elif photo is not None:
            try:
                content["photo"] = self._store_photo(photo)
            except BotApiError:
                raise ValueError(
                    "photo bytes are not a decodable image; Telegram only delivers real images "
                    "as photos, send other bytes with document="
                ) from None
        if document is not None:
            data, file_name, mime_type = document
            stored = self._store_file(
                data, kind="document", file_name=file_name, mime_type=mime_type
            )
            content["document"] = _document_dict(stored)
        message = self._new_message(chat, sender, content)
        if reply_to_message_id is not None:
            target = self._messages.get((chat["id"], reply_to_message_id))
            if target is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
            message["reply_to_message"] = _snapshot(target)
        if extra:
            message.update(extra)
        return self.push_raw({"message": message})

    def push_callback(
        self,
        user: Mapping[str, Any],
        message: Mapping[str, Any],
        data: str,
        *,
        check_button: bool = True,
    ) -> JSON:
        """Queue a callback_query update: user pressed the button with data under message.

        The update carries the message as it is now (after edits). With check_button the button
        must exist on the current keyboard, since a user can only press what is shown.
        """
        key = (message["chat"]["id"], message["message_id"])
        current = self._messages.get(key, message)
        if check_button:
            keyboard = current.get("reply_markup", {}).get("inline_keyboard", [])
            datas = [b.get("callback_data") for row in keyboard for b in row]
            if data not in datas:
                raise ValueError(f"message {key} has no button with callback_data {data!r}")
        query_id = str(secrets.randbits(62))
        self._callbacks[query_id] = False
        query: JSON = {
            "id": query_id,
            "from": dict(user),
            "message": _snapshot(current),
            "chat_instance": str((self.bot_id * 1_000_003 + key[0]) % 2**62),
            "data": data,
        }
        return self.push_raw({"callback_query": query})

    def push_raw(self, update: JSON) -> JSON:
        """Queue an update dict as is, giving it the next update_id unless it has one."""
        if "update_id" in update:
            self._update_ids = itertools.count(max(next(self._update_ids), update["update_id"] + 1))
        else:
            update = {"update_id": next(self._update_ids), **update}
        self._queue.append(_Queued(update))
        self._changes.notify()
        return update

    def push_update_again(self, update: JSON) -> JSON:
        """Deliver an already delivered update (same update_id) once more, even if confirmed."""
        self._queue.append(_Queued(update, redelivery=True))
        self._changes.notify()
        return update

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot (through getUpdates offset or webhook 2xx)."""
        return [queued.update for queued in self._queue]

    # -- test side: inspection and waiting ----------------------------------------------------

    def messages_to(self, chat_id: int) -> list[JSON]:
        """Messages the bot sent to chat_id, oldest first, in their current (edited) state."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of any message (bot's or user's), None if unknown or deleted."""
        return self._messages.get((chat_id, message_id))

    def calls_of(self, method: str) -> list[Call]:
        """Recorded requests to one method (name matched case-insensitively)."""
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name]

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSON]:
        """The commands set for exactly this scope and language ([] if none)."""
        return self.commands.get((_scope_key(scope), language_code), [])

    async def wait_for(
        self, predicate: Callable[[JSON], object], *, timeout: float = 30.0, since: int = 0
    ) -> JSON:
        """Return the first bot message in sent[since:] matching predicate, waiting for one.

        Messages are matched in their current state, so waiting for an edit works too. Pass
        since=len(fake.sent) taken before an action to ignore earlier messages.
        """

        def probe() -> JSON | None:
            return next((m for m in self.sent[since:] if predicate(m)), None)

        try:
            return await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            recent = [_describe(m) for m in self.sent[since:][-5:]]
            raise TimeoutError(
                f"no bot message matched within {timeout}s; latest since {since}: {recent}"
            ) from None

    async def wait_for_call(
        self, match: str | Callable[[Call], object], *, timeout: float = 30.0, since: int = 0
    ) -> Call:
        """Return the first request in calls[since:] to method match (or matching it), waiting."""

        def matches(call: Call) -> object:
            if isinstance(match, str):
                return call.method.lower() == match.lower()
            return match(call)

        def probe() -> Call | None:
            return next((c for c in self.calls[since:] if matches(c)), None)

        try:
            return await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            recent = [c.method for c in self.calls[since:][-10:]]
            raise TimeoutError(
                f"no request matched within {timeout}s; latest since {since}: {recent}"
            ) from None

    # -- test side: fault injection and webhooks -----------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        *,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next `times` requests to method with a Bot API error (429 by default);
        with `chat_id`, only requests for that chat count."""
        parameters = None
        if error_code == 429:
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif description is None:
            description = {
                400: "Bad Request: injected failure",
                401: "Unauthorized",
                403: "Forbidden: injected failure",
                409: "Conflict: injected failure",
                500: "Internal Server Error",
            }.get(error_code, "Injected failure")
        error = BotApiError(error_code, description, parameters)
        self._faults.setdefault(method.lower(), []).extend([_Fault("api", error, chat_id)] * times)

    def fail_network(
        self,
        method: str,
        *,
        times: int = 1,
        mode: Literal["disconnect", "bad_gateway"] = "disconnect",
        chat_id: int | None = None,
    ) -> None:
        """Break the next `times` requests to method: drop the connection, or answer a bare 502;
        with `chat_id`, only requests for that chat count."""
        self._faults.setdefault(method.lower(), []).extend([_Fault(mode, None, chat_id)] * times)

    async def post_webhook(
        self, url: str, update: Mapping[str, Any], secret_token: str | None = None
    ) -> int:
        """POST one update to a webhook endpoint the way Telegram does; return the HTTP status."""
        if self._http is None:
            raise RuntimeError("FakeBotApi is not started")
        headers = {}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with self._http.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    # -- HTTP layer ----------------------------------------------------------------------------

    async def _serve_api(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            return _token_error(token)
        try:
            params, uploads = await _read_params(request)
        except BotApiError as exc:
            return web.json_response(exc.body(), status=exc.code)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        call = Call(
            name,
            params,
            {key: upload.data for key, upload in uploads.items()},
            {key: upload.filename for key, upload in uploads.items()},
        )
        self.calls.append(call)
        self._changes.notify()
        fault = self._take_fault(name, params.get("chat_id"))
        if fault is not None and fault.mode != "api":
            log.debug("fake Bot API: %s -> injected %s", name, fault.mode)
            call.status = 0 if fault.mode == "disconnect" else 502
            self._changes.notify()
            if fault.mode == "bad_gateway":
                return web.Response(status=502, text="<html>502 Bad Gateway</html>")
            if request.transport is not None:
                request.transport.abort()
            # aiohttp drops a response for a connection that is already gone.
            return web.Response(status=500)
        try:
            if fault is not None:
                assert fault.error is not None
                raise fault.error
            if entry is None:
                log.warning("fake Bot API: method %s is not implemented", method)
                raise BotApiError(404, "Not Found")
            result = await entry[1](params, uploads)
            body: JSON = {"ok": True, "result": _public(result)}
            status = 200
        except BotApiError as exc:
            body, status = exc.body(), exc.code
        log.debug("fake Bot API: %s -> %d", name, status)
        call.status, call.response = status, body
        self._changes.notify()
        return web.json_response(body, status=status)

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if token != self.token:
            return _token_error(token)
        path = request.match_info["file_path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    def _take_fault(self, method: str, chat_id: Any) -> _Fault | None:
        queue = self._faults.get(method.lower()) or []
        for i, fault in enumerate(queue):
            if fault.chat_id is None or str(fault.chat_id) == str(chat_id):
                return queue.pop(i)
        return None

    async def _deliver_webhooks(self, http: ClientSession) -> None:
        """Push queued updates to the webhook one at a time, retrying with backoff like Telegram."""
        backoff = 0.05
        while True:
            queued = await self._changes.wait_until(self._next_for_webhook, None)
            hook = self.webhook
            assert hook is not None
            try:
                status = await self.post_webhook(
                    hook["url"], _public(queued.update), hook.get("secret_token")
                )
                error = f"Wrong response from the webhook: {status}"
            except (ClientError, TimeoutError) as exc:
                status, error = 0, f"Connection failed: {exc!r}"
            if 200 <= status < 300:
                if queued in self._queue:
                    self._queue.remove(queued)
                backoff = 0.05
                self._changes.notify()
                continue
            self.webhook_last_error = (int(time.time()), error)
            # Backoff between delivery retries, as Telegram does; not a wait for state.
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _next_for_webhook(self) -> _Queued | None:
        if self.webhook is None or self._closing:
            return None
        self._drop_unwanted()
        return self._queue[0] if self._queue else None

    # -- state helpers -------------------------------------------------------------------------

    def _private_chat(self, user: Mapping[str, Any]) -> JSON:
        chat = self._chats.get(user["id"])
        if chat is None:
            chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
            self._chats[user["id"]] = chat
        return chat

    def _new_message(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message: JSON = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat["id"], message_id)] = message
        return message

    def _store_file(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        file_size: int | None = None,
        extension: str | None = None,
    ) -> StoredFile:
        number = next(self._file_numbers)
        if extension is None:
            extension = ""
            if file_name and "." in file_name:
                extension = "." + file_name.rsplit(".", 1)[1]
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        prefix = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI"}.get(
            kind, "CAACAgIAAxkB"
        )
        stored = StoredFile(
            file_id=prefix + secrets.token_urlsafe(36),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            data=data,
            file_size=len(data) if file_size is None else file_size,
            file_path=f"{kind}s/file_{number}{extension}",
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def _store_photo(self, data: bytes, *, check_dimensions: bool = False) -> list[JSON]:
        """Store a photo as Telegram does: JPEG thumbnails first, the original bytes last."""
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
                if check_dimensions and (
                    width + height > 10000 or max(width, height) > 20 * min(width, height)
                ):
                    raise _bad("PHOTO_INVALID_DIMENSIONS")
                sizes: list[JSON] = []
                for box in _PHOTO_THUMBNAIL_BOXES:
                    if max(width, height) <= box:
                        break
                    thumbnail = image.convert("RGB")
                    thumbnail.thumbnail((box, box))
                    buffer = io.BytesIO()
                    thumbnail.save(buffer, format="JPEG", quality=80)
                    sizes.append(self._photo_size(buffer.getvalue(), *thumbnail.size))
        except BotApiError:
            raise
        except Exception:
            raise _bad("IMAGE_PROCESS_FAILED") from None
        sizes.append(self._photo_size(data, width, height))
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return sizes

    def _photo_size(self, data: bytes, width: int, height: int) -> JSON:
        stored = self._store_file(data, kind="photo", mime_type="image/jpeg", extension=".jpg")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "width": width,
            "height": height,
        }

    def _photo_sizes_for_id(self, file_id: str) -> list[JSON]:
        if file_id in self._photo_sets:
            return self._photo_sets[file_id]
        stored = self.files.get(file_id)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != "photo":
            raise _bad(f"can't use file of type {stored.kind.capitalize()} as Photo")
        try:
            with Image.open(io.BytesIO(stored.data)) as image:
                width, height = image.size
        except Exception:
            width = height = 0
        sizes = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
                "width": width,
                "height": height,
            }
        ]
        self._photo_sets[file_id] = sizes
        return sizes

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._queue = self._queue[offset:]
        elif offset > 0:
            self._queue = [
                q
                for q in self._queue
                if q.update["update_id"] >= offset or (q.redelivery and not q.delivered)
            ]

    def _drop_unwanted(self) -> None:
        self._queue = [q for q in self._queue if self._wanted(q.update)]

    def _wanted(self, update: JSON) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _UPDATE_TYPES_OFF_BY_DEFAULT
        return kind in self._allowed_updates

    def _set_allowed_updates(self, params: JSON) -> None:
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # An empty list means "all except the opt-in ones", like no list at all.
            self._allowed_updates = frozenset(allowed) if allowed else None

    def _target_chat(self, params: JSON) -> JSON:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat_id = _as_int(raw)
        if chat_id is None and isinstance(raw, str) and raw.startswith("@"):
            username = raw[1:].lower()
            chat_id = next(
                (
                    c["id"]
                    for c in self._chats.values()
                    if c.get("username", "").lower() == username
                ),
                None,
            )
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad("chat not found")
        if chat["id"] in self.blocked_users:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _reply_target(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            chat_id = _as_int(reply.get("chat_id", chat["id"]))
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
            chat_id = chat["id"]
            allow_missing = bool(params.get("allow_sending_without_reply"))
        else:
            return None
        target = self._messages.get((chat_id, _as_int(message_id)))  # type: ignore[arg-type]
        if target is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return _snapshot(target)

    def _send(self, chat: JSON, params: JSON, content: JSON, extra: JSON) -> JSON:
        """Create a bot message in chat with content, honouring reply and markup parameters."""
        reply_to = self._reply_target(chat, params)
        raw_markup = params.get("reply_markup")
        inline = _inline_markup(raw_markup)
        message = self._new_message(chat, self.bot_user, content)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if inline is not None:
            message["reply_markup"] = inline
        if raw_markup is not None:
            message["_reply_markup"] = raw_markup
        message.update(extra)
        self.sent.append(message)
        self._changes.notify()
        return message

    def _caption(self, params: Mapping[str, Any]) -> tuple[JSON, JSON]:
        """Parse caption parameters into message fields and private fields."""
        if params.get("caption") in (None, ""):
            return {}, {}
        raw = str(params["caption"])
        caption, entities = _format(raw, params.get("parse_mode"), params.get("caption_entities"))
        if _utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        fields: JSON = {"caption": caption}
        if entities:
            fields["caption_entities"] = entities
        if params.get("show_caption_above_media"):
            fields["show_caption_above_media"] = True
        return fields, {"_raw_caption": raw, "_parse_mode": params.get("parse_mode")}

    def _media_input(
        self, value: Any, uploads: dict[str, _Upload], field_name: str
    ) -> _Upload | StoredFile:
        if value is None or value == "":
            upload = uploads.get(field_name)
            if upload is None:
                raise _bad(f"there is no {field_name} in the request")
            return upload
        if not isinstance(value, str):
            raise _bad(f"wrong type of the {field_name} field")
        if value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(f"file {value} not found in the request")
            return upload
        if value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        stored = self.files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        return stored

    def _photo_content(self, source: _Upload | StoredFile) -> tuple[list[JSON], JSON]:
        if isinstance(source, _Upload):
            _check_upload_size(source)
            sizes = self._store_photo(source.data, check_dimensions=True)
            return sizes, {"_file": source.data, "_file_name": source.filename}
        sizes = self._photo_sizes_for_id(source.file_id)
        return sizes, {"_file": self.files[sizes[-1]["file_id"]].data}

    def _document_content(self, source: _Upload | StoredFile) -> tuple[JSON, JSON]:
        if isinstance(source, _Upload):
            _check_upload_size(source)
            source = self._store_file(
                source.data,
                kind="document",
                file_name=source.filename or "document",
                mime_type=source.mime_type,
            )
        elif source.kind != "document":
            raise _bad(f"can't use file of type {source.kind.capitalize()} as Document")
        private = {
            "_file": source.data,
            "_file_name": source.file_name,
            "_mime_type": source.mime_type,
        }
        return _document_dict(source), private

    def _editable(self, params: JSON) -> JSON:
        if params.get("inline_message_id"):
            raise _bad("the fake Bot API does not support inline messages")
        chat_id = _as_int(params.get("chat_id"))
        message_id = _as_int(params.get("message_id"))
        if chat_id is None:
            raise _bad("chat_id is empty")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return message

    def _apply_edit(self, message: JSON, changes: JSON, private: JSON) -> JSON:
        """Apply changes (None removes a field) or answer 400 "message is not modified"."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in {**changes, **private}.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        self._changes.notify()
        return message

    # -- Bot API methods -----------------------------------------------------------------------

    async def _ok(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        return True

    async def _get_me(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        if self.webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset", 0)) or 0
        limit = min(max(_as_int(params.get("limit", 100)) or 100, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        self._set_allowed_updates(params)
        self._confirm(offset)
        # A newer getUpdates ends an older long poll with 409, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._changes.notify()

        def probe() -> list[JSON] | None:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._drop_unwanted()
            batch = self._queue[:limit]
            for queued in batch:
                queued.delivered = True
            return [q.update for q in batch] or None

        try:
            return await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            return []

    async def _set_webhook(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, uploads)
        parts = urlsplit(url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        ):
            # Telegram wants HTTPS; plain HTTP is let through for local test servers only.
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._set_allowed_updates(params)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": _as_int(params.get("max_connections")) or 40,
        }
        self.webhook_last_error = None
        self._changes.notify()
        return True

    async def _delete_webhook(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._changes.notify()
        return True

    async def _get_webhook_info(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        info: JSON = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        if self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _send_message(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._target_chat(params)
        raw, text, entities = _message_text(params)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        private = {"_raw_text": str(raw), "_parse_mode": params.get("parse_mode")}
        return self._send(chat, params, content, private)

    async def _send_photo(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._target_chat(params)
        caption, private = self._caption(params)
        source = self._media_input(params.get("photo"), uploads, "photo")
        sizes, file_fields = self._photo_content(source)
        content: JSON = {"photo": sizes, **caption}
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(chat, params, content, {**private, **file_fields})

    async def _send_document(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._target_chat(params)
        caption, private = self._caption(params)
        source = self._media_input(params.get("document"), uploads, "document")
        document, file_fields = self._document_content(source)
        return self._send(
            chat, params, {"document": document, **caption}, {**private, **file_fields}
        )

    async def _send_media_group(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of messages in media group")
        kinds = {item.get("type") for item in media}
        if "document" in kinds and len(kinds) > 1:
            raise _bad("document can't be mixed with other media types")
        if not kinds <= {"photo", "document"}:
            raise _bad(f"the fake Bot API supports only photo and document media, got {kinds}")
        # Validate every item before sending any, so a bad item leaves no half-sent album.
        prepared = []
        for item in media:
            caption, private = self._caption(item)
            source = self._media_input(item.get("media"), uploads, "media")
            if item["type"] == "photo":
                sizes, file_fields = self._photo_content(source)
                content: JSON = {"photo": sizes, **caption}
            else:
                document, file_fields = self._document_content(source)
                content = {"document": document, **caption}
            prepared.append((content, {**private, **file_fields}))
        group_id = str(secrets.randbits(62))
        group_params = {k: v for k, v in params.items() if k != "reply_markup"}
        return [
            self._send(chat, group_params, {**content, "media_group_id": group_id}, private)
            for content, private in prepared
        ]

    async def _edit_message_text(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        raw, text, entities = _message_text(params)
        changes = {
            "text": text,
            "entities": entities or None,
            # Editing without reply_markup removes the inline keyboard, as on Telegram.
            "reply_markup": _inline_markup(params.get("reply_markup")),
        }
        private = {
            "_raw_text": str(raw),
            "_parse_mode": params.get("parse_mode"),
            "_reply_markup": params.get("reply_markup"),
        }
        return self._apply_edit(message, changes, private)

    async def _edit_message_caption(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        message = self._editable(params)
        if "photo" not in message and "document" not in message:
            raise _bad("there is no caption in the message to edit")
        caption, private = self._caption(params)
        changes = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
            "reply_markup": _inline_markup(params.get("reply_markup")),
        }
        private = {
            "_raw_caption": private.get("_raw_caption"),
            "_parse_mode": private.get("_parse_mode"),
            "_reply_markup": params.get("reply_markup"),
        }
        return self._apply_edit(message, changes, private)

    async def _edit_message_reply_markup(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        message = self._editable(params)
        changes = {"reply_markup": _inline_markup(params.get("reply_markup"))}
        return self._apply_edit(message, changes, {"_reply_markup": params.get("reply_markup")})

    async def _delete_message(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        chat_id = _as_int(params.get("chat_id"))
        message_id = _as_int(params.get("message_id"))
        message = self._messages.pop((chat_id, message_id), None)  # type: ignore[arg-type]
        if message is None:
            raise _bad("message to delete not found")
        message["_deleted"] = True
        self._changes.notify()
        return True

    async def _answer_callback_query(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        self.callback_answers.append(dict(params))
        self._changes.notify()
        return True

    async def _get_file(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    async def _send_chat_action(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        chat = self._target_chat(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat["id"], action))
        self._changes.notify()
        return True

    async def _set_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        self._changes.notify()
        return True

    async def _get_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return self.commands.get(key, [])

    async def _delete_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        self._changes.notify()
        return True

    async def _set_chat_menu_button(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        chat_id = _as_int(params.get("chat_id")) if params.get("chat_id") is not None else None
        if chat_id is not None and chat_id not in self._chats:
            raise _bad("chat not found")
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat_id = _as_int(params.get("chat_id")) if params.get("chat_id") is not None else None
        button = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)
        return button if button and button["type"] != "default" else {"type": "commands"}

    def _profile_setter(self, name: str) -> _Handler:
        async def set_value(params: JSON, uploads: dict[str, _Upload]) -> bool:
            self.profile[name] = str(params.get(name) or "")
            return True

        return set_value

    def _profile_getter(self, name: str) -> _Handler:
        async def get_value(params: JSON, uploads: dict[str, _Upload]) -> JSON:
            return {name: self.profile.get(name, "")}

        return get_value


# -- aiohttp wiring ----------------------------------------------------------------------------

FAKE_BOT_API = web.AppKey("fake_bot_api", FakeBotApi)
HTTP_CLIENT = web.AppKey("http_client", ClientSession)


async def _api_handler(request: web.Request) -> web.StreamResponse:
    return await request.app[FAKE_BOT_API]._serve_api(request)


async def _file_handler(request: web.Request) -> web.StreamResponse:
    return await request.app[FAKE_BOT_API]._serve_file(request)


async def _not_found_handler(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
    )


async def _client_and_webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    """Own the HTTP client used for webhooks and the task that delivers to them."""
    fake = app[FAKE_BOT_API]
    async with ClientSession(timeout=ClientTimeout(total=10)) as http:
        app[HTTP_CLIENT] = http
        fake._http = http
        delivery = asyncio.create_task(fake._deliver_webhooks(http), name="fake-bot-api-webhook")
        try:
            yield
        finally:
            delivery.cancel()
            await asyncio.gather(delivery, return_exceptions=True)
            fake._http = None


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
    document: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


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


# -- parse_mode: text with markup -> plain text and entities ----------------------------------


def _message_text(params: JSON) -> tuple[str, str, list[JSON]]:
    """(raw text, text after markup, entities) of a sendMessage/editMessageText call, refusing
    what Telegram refuses: empty text, broken markup, more than 4096 characters."""
    raw = params.get("text")
    if raw is None or str(raw) == "":
        raise _bad("message text is empty")
    text, entities = _format(str(raw), params.get("parse_mode"), params.get("entities"))
    if not text.strip():
        raise _bad("message text is empty")
    if _utf16_len(text) > MAX_TEXT_LENGTH:
        raise _bad("message is too long")
    return str(raw), text, entities


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities_error(detail: str) -> BotApiError:
    return _bad(f"can't parse entities: {detail}")


class _TextBuilder:
    """Accumulates plain text and its entities (offsets in UTF-16 code units)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += _utf16_len(text)

    def entity(self, kind: str, start: int, **fields: Any) -> None:
        if self.length > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.length - start, **fields}
            )

    def result(self) -> tuple[str, list[JSON]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def _format(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
    if not parse_mode:
        return text, list(entities) if isinstance(entities, list) else []
    mode = str(parse_mode).lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise _bad("unsupported parse_mode")


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTRIBUTE = re.compile(r"""([a-zA-Z0-9-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_HTML_PLAIN = re.compile(r"[^<&]+")


def _html_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return chr(code) if 0 < code < 0x110000 else match[0]


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset, with the error texts of tdlib's parser."""
    out = _TextBuilder()
    stack: list[tuple[str, JSON, int]] = []
    i, n = 0, len(source)

    def at(pos: int) -> int:
        return len(source[:pos].encode())

    while i < n:
        if plain := _HTML_PLAIN.match(source, i):
            out.add(plain[0])
            i = plain.end()
            continue
        if source[i] == "&":
            entity = _HTML_ENTITY.match(source, i)
            out.add(_html_entity(entity) if entity else "&")
            i = entity.end() if entity else i + 1
            continue
        begin = i
        if source.startswith("</", i):
            if not stack:
                raise _entities_error(f"Unexpected end tag at byte offset {at(begin)}")
            j = i + 2
            while j < n and source[j] != ">" and not source[j].isspace():
                j += 1
            name = source[i + 2 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise _entities_error(f"Unclosed end tag at byte offset {at(begin)}")
            tag, open_attributes, start = stack[-1]
            if name and name != tag:
                raise _entities_error(
                    f'Unmatched end tag at byte offset {at(begin)}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            _close_html_tag(out, stack, tag, open_attributes, start)
            i = j + 1
            continue
        j = i + 1
        while j < n and source[j] != ">" and not source[j].isspace():
            j += 1
        if j >= n:
            raise _entities_error(f"Unclosed start tag at byte offset {at(begin)}")
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {at(begin)}')
        attributes: JSON = {}
        while True:
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(f"Unclosed start tag at byte offset {at(begin)}")
            if source[j] == ">":
                break
            attribute = _HTML_ATTRIBUTE.match(source, j)
            if attribute is None:
                raise _entities_error(
                    f'Empty attribute name in the tag "{name}" at byte offset {at(begin)}'
                )
            value = next((v for v in attribute.group(2, 3, 4) if v is not None), "")
            attributes[attribute[1].lower()] = _HTML_ENTITY.sub(_html_entity, value)
            j = attribute.end()
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise _entities_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {at(begin)}'
            )
        stack.append((name, attributes, out.length))
        i = j + 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html_tag(
    out: _TextBuilder, stack: list[tuple[str, JSON, int]], tag: str, attributes: JSON, start: int
) -> None:
    if tag == "a":
        if attributes.get("href"):
            out.entity("text_link", start, url=attributes["href"])
    elif tag == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        language = str(attributes.get("class", ""))
        if language.startswith("language-"):
            stack[-1][1]["_language"] = language.removeprefix("language-")
    elif tag == "pre":
        pre_language = attributes.get("_language")
        out.entity("pre", start, **({"language": pre_language} if pre_language else {}))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attributes else "blockquote"
        out.entity(kind, start)
    elif tag == "tg-emoji":
        out.entity("custom_emoji", start, custom_emoji_id=str(attributes.get("emoji-id", "")))
    else:
        out.entity(_HTML_TAGS[tag], start)


_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 the way tdlib does, including its "must be escaped" errors."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int, JSON]] = []  # kind, start, byte offset, extra fields
    i, n = 0, len(source)

    def at(pos: int) -> int:
        return len(source[:pos].encode())

    def close(kind: str, start: int, fields: JSON) -> None:
        out.entity(kind, start, **fields)

    while i < n:
        ch = source[i]
        top = stack[-1][0] if stack else None
        if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) < 127:
            out.add(source[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):
            closing = "```" if top == "pre" else "`"
            if source.startswith(closing, i):
                _, start, _, fields = stack.pop()
                close(top, start, fields)
                i += len(closing)
            else:
                out.add(ch)
                i += 1
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            if top != "blockquote":
                stack.append(("blockquote", out.length, at(i), {}))
            i += 1
            continue
        if ch == "\n" and top == "blockquote" and not source.startswith(">", i + 1):
            _, start, _, fields = stack.pop()
            close("blockquote", start, fields)
            out.add(ch)
            i += 1
            continue
        if ch not in _MARKDOWN_V2_RESERVED:
            out.add(ch)
            i += 1
            continue
        ends = {
            "bold": ch == "*",
            "italic": ch == "_" and not source.startswith("__", i),
            "underline": source.startswith("__", i),
            "strikethrough": ch == "~",
            "spoiler": source.startswith("||", i),
            "text_link": ch == "]",
            "custom_emoji": ch == "]",
        }
        if top is not None and ends.get(top, False):
            kind, start, begin, fields = stack.pop()
            i += 2 if kind in ("underline", "spoiler") else 1
            if kind in ("text_link", "custom_emoji"):
                url = ""
                if source.startswith("(", i):
                    j, chars = i + 1, []
                    while j < n and source[j] != ")":
                        if source[j] == "\\" and j + 1 < n:
                            j += 1
                        chars.append(source[j])
                        j += 1
                    if j >= n:
                        raise _entities_error(f"Can't find end of a URL at byte offset {at(i)}")
                    url, i = "".join(chars), j + 1
                if kind == "custom_emoji":
                    emoji_id = url.removeprefix("tg://emoji?id=")
                    if emoji_id == url or not emoji_id:
                        raise _entities_error(
                            "Custom emoji entity must contain a tg://emoji URL "
                            f"at byte offset {begin}"
                        )
                    close(kind, start, {"custom_emoji_id": emoji_id})
                elif url:
                    close(kind, start, {"url": url})
            else:
                close(kind, start, fields)
            continue
        begin = at(i)
        if ch == "_" and source.startswith("__", i):
            stack.append(("underline", out.length, begin, {}))
            i += 2
        elif ch == "_":
            stack.append(("italic", out.length, begin, {}))
            i += 1
        elif ch == "*":
            stack.append(("bold", out.length, begin, {}))
            i += 1
        elif ch == "~":
            stack.append(("strikethrough", out.length, begin, {}))
            i += 1
        elif source.startswith("||", i):
            stack.append(("spoiler", out.length, begin, {}))
            i += 2
        elif ch == "[":
            stack.append(("text_link", out.length, begin, {}))
            i += 1
        elif source.startswith("![", i):
            stack.append(("custom_emoji", out.length, begin, {}))
            i += 2
        elif source.startswith("```", i):
            i += 3
            pre_fields: JSON = {}
            newline = source.find("\n", i)
            fence = source.find("```", i)
            if newline != -1 and (fence == -1 or newline < fence):
                language = source[i:newline]
                if language and not any(c.isspace() for c in language):
                    pre_fields["language"] = language
                i = newline + 1
            stack.append(("pre", out.length, begin, pre_fields))
        elif ch == "`":
            stack.append(("code", out.length, begin, {}))
            i += 1
        else:
            raise _entities_error(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack and stack[-1][0] == "blockquote":
        _, start, _, fields = stack.pop()
        close("blockquote", start, fields)
    if stack:
        kind, _, begin, _ = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MARKDOWN_V2_NAMES.get(kind, kind)} entity at byte offset {begin}"
        )
    return out.result()


def _parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _TextBuilder()
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = len(source[:i].encode())
        start = out.length
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end == -1:
                raise _entities_error(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            body, language = source[i + 3 : end], ""
            first, newline, rest = body.partition("\n")
            if newline and first and not any(c.isspace() for c in first):
                body, language = rest, first
            out.add(body)
            out.entity("pre", start, **({"language": language} if language else {}))
            i = end + 3
            continue
        closing = "]" if ch == "[" else ch
        end = source.find(closing, i + 1)
        if end == -1:
            raise _entities_error(f"Can't find end of the entity starting at byte offset {begin}")
        out.add(source[i + 1 : end])
        i = end + 1
        if ch == "[":
            if source.startswith("(", i):
                url_end = source.find(")", i)
                if url_end == -1:
                    raise _entities_error(
                        f"Can't find end of the entity starting at byte offset {begin}"
                    )
                out.entity("text_link", start, url=source[i + 1 : url_end])
                i = url_end + 1
        else:
            out.entity({"*": "bold", "_": "italic", "`": "code"}[ch], start)
    return out.result()
