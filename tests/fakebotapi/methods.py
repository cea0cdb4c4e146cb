"""The Bot API methods the fake server answers, one coroutine each."""

from __future__ import annotations

import functools
import secrets
from urllib.parse import urlsplit

from tests.fakebotapi.common import (
    _CHAT_ACTIONS,
    _COMMAND_NAME,
    _LOOPBACK_HOSTS,
    _SECRET_TOKEN,
    JSON,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_DOWNLOAD_SIZE,
    BotApiError,
    _as_int,
    _bad,
    _Handler,
    _inline_markup,
    _scope_key,
    _Upload,
)
from tests.fakebotapi.formatting import (
    _message_text,
)
from tests.fakebotapi.state import ChatState


class BotApiMethods(ChatState):
    """getMe, getUpdates, send*, edit*, getFile and the others, on top of ChatState."""

    @functools.cached_property
    def _methods(self) -> dict[str, tuple[str, _Handler]]:
        """Each method's handler, by its lower-case name."""
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
        return {name.lower(): (name, handler) for name, handler in methods.items()}

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
        answer: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.size_known:
            answer["file_size"] = stored.file_size
        return answer | {"file_path": stored.file_path}

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
