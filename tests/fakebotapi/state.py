"""The fake Bot API's state: chats, messages, files, calls and the update queue."""

from __future__ import annotations

import io
import itertools
import mimetypes
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import ClientSession, web
from PIL import Image

from tests.fakebotapi.common import (
    _PHOTO_THUMBNAIL_BOXES,
    _SERVERS,
    _UPDATE_TYPES_OFF_BY_DEFAULT,
    JSON,
    MAX_CAPTION_LENGTH,
    BotApiError,
    Call,
    Download,
    StoredFile,
    _as_int,
    _bad,
    _Changes,
    _check_upload_size,
    _describe,
    _document_dict,
    _Fault,
    _inline_markup,
    _Queued,
    _scope_key,
    _snapshot,
    _Upload,
    _utf16_len,
)
from tests.fakebotapi.formatting import _format


class ChatState:
    """What the fake server holds (chats, messages, files, updates, calls), the helpers that
    change it, and the tests' ways to look at it. BotApiMethods and FakeBotApi build on it."""

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
        self.downloads: list[Download] = []
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
        size_known: bool = True,
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
            size_known=size_known,
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
