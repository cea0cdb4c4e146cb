"""A local aiohttp server that speaks the Telegram Bot API, for end-to-end tests of the bot."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tests.fakebotapi.common import (
    JSON,
    MAX_UPLOAD_SIZE,
    BotApiError,
    Call,
    Download,
    _command_entities,
    _document_dict,
    _Fault,
    _public,
    _Queued,
    _read_params,
    _snapshot,
    _token_error,
    log,
)
from tests.fakebotapi.media import CLIP_KINDS, clip_content
from tests.fakebotapi.methods import BotApiMethods

_FILE_CHUNK = 64 * 1024


class FakeBotApi(BotApiMethods):
    """A Bot API server for one bot token, with helpers to push updates and inspect requests.

    Messages in `sent` are Bot API Message dicts kept up to date by edits. Besides the public
    fields they carry private keys (never sent to the bot): `_raw_text` / `_raw_caption` (text
    before parse_mode markup was applied), `_parse_mode`, `_reply_markup` (whatever markup was
    sent, reply keyboards included), `_file`, `_file_name`, `_mime_type` (the media bytes) and
    `_deleted`.
    """

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
        size_known: bool = True,
    ) -> tuple[str, str]:
        """Store a file and return (file_id, file_unique_id); file_size may claim more than data.
        With size_known=False no answer tells the file's size (getFile, the document dict, the
        download's Content-Length), as the Bot API allows."""
        stored = self._store_file(
            data,
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
            file_size=file_size,
            size_known=size_known,
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
        clip: tuple[str, bytes] | None = None,
        media_group_id: str | None = None,
    ) -> JSON:
        """Queue a message update from user and return it.

        clip is (kind, bytes): a "video", a "video_note" or an "animation" (a GIF, which
        Telegram delivers as an MP4 animation that is also a document). media_group_id makes
        the message part of an album (Telegram sends each part as its own update).

        photo is image bytes (the largest PhotoSize holds them unchanged, smaller ones are JPEG
        thumbnails) or a file_id of an earlier photo. document is (bytes, file name, mime type).
        Commands in text/caption get bot_command entities, as Telegram adds them. chat_id picks a
        group (see group()); by default the user's private chat. extra is merged into the message.
        """
        if text is None and photo is None and document is None and clip is None:
            raise ValueError("push_message needs text, photo, document or clip")
        if text is not None and (photo is not None or document is not None or clip is not None):
            raise ValueError("a message with media carries caption=, not text=")
        if sum(m is not None for m in (photo, document, clip)) > 1:
            raise ValueError("a message has one of a photo, a document or a clip")
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
        if clip is not None:
            kind, data = clip
            if kind not in CLIP_KINDS:
                raise ValueError(f"clip kind must be one of {CLIP_KINDS}")
            name, mime = ("clip.mp4", "video/mp4") if kind != "video_note" else (None, None)
            stored = self._store_file(data, kind=kind, file_name=name, mime_type=mime)
            content.update(clip_content(kind, stored, duration=1, side=240))
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        message = self._new_message(chat, sender, content)
        if reply_to_message_id is not None:
            target = self._messages.get((chat["id"], reply_to_message_id))
            if target is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
            message["reply_to_message"] = _snapshot(target)
        if extra:
            message.update(extra)
        return self.push_raw({"message": message})

    def push_edit(
        self, message: Mapping[str, Any], *, text: str | None = None, caption: str | None = None
    ) -> JSON:
        """Queue an edited_message update: the user edited an earlier message of theirs (its
        text, or its caption), as Telegram sends it, with an edit_date."""
        key = (message["chat"]["id"], message["message_id"])
        current = dict(self._messages.get(key, message))
        if text is not None:
            current["text"] = text
            current["entities"] = _command_entities(text)
        if caption is not None:
            current["caption"] = caption
            current["caption_entities"] = _command_entities(caption)
        current["edit_date"] = int(time.time())
        self._messages[key] = current
        return self.push_raw({"edited_message": _snapshot(current)})

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
        # streamed in chunks, so that a client that stops reading early leaves the rest unsent,
        # and `downloads` tells how far it got
        response = web.StreamResponse(
            headers={"Content-Type": stored.mime_type or "application/octet-stream"}
        )
        if stored.size_known:
            response.content_length = len(stored.data)
        download = Download(stored.file_path, len(stored.data))
        self.downloads.append(download)
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            # a small send buffer: what `sent` counts is then close to what the client read
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _FILE_CHUNK)
        await response.prepare(request)
        try:
            for start in range(0, len(stored.data), _FILE_CHUNK):
                chunk = stored.data[start : start + _FILE_CHUNK]
                await response.write(chunk)
                download.sent = start + len(chunk)
            await response.write_eof()
            download.complete = True
        except ConnectionError:
            log.debug("fake Bot API: download of %s cut after %d bytes", path, download.sent)
        finally:
            self._changes.notify()
        return response

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
