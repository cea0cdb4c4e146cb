"""Checks that the fake Bot API server talks to a real python-telegram-bot Bot and Application."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import io
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, FormData, web
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from tests.fakebotapi import FakeBotApi

TOKEN = "123456:TEST-token"
ANN = 1001


def image_bytes(width: int, height: int, color: str = "red", fmt: str = "JPEG") -> bytes:
    """Encode a plain image, so uploads are real pictures as Telegram requires."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as api:
        yield api


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


@contextlib.asynccontextmanager
async def polling(fake: FakeBotApi, *handlers: tuple[object, int]) -> AsyncIterator[Application]:
    """Run a real Application polling the fake server, stopped cleanly on exit."""
    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    for handler, group in handlers:
        app.add_handler(handler, group)  # type: ignore[arg-type]
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_get_me_returns_the_configured_bot(fake: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "facefind_test_bot", True)


async def test_unknown_token_is_unauthorized(fake: FakeBotApi) -> None:
    stranger = Bot("999:WRONG", base_url=fake.base_url, base_file_url=fake.base_file_url)

    with pytest.raises(InvalidToken, match="rejected"):
        await stranger.initialize()
    await stranger.shutdown()


async def test_accepts_json_urlencoded_and_multipart_bodies(fake: FakeBotApi) -> None:
    fake.user(ANN, "Ann")
    api = f"{fake.base_url}{TOKEN}"
    upload = FormData()
    upload.add_field("chat_id", str(ANN))
    upload.add_field("document", b"%PDF-1.4", filename="faces.pdf", content_type="application/pdf")
    async with ClientSession() as http:
        async with http.post(f"{api}/sendMessage", json={"chat_id": ANN, "text": "json"}) as r:
            as_json = await r.json()
        async with http.post(f"{api}/sendmessage", data={"chat_id": ANN, "text": "123"}) as r:
            as_form = await r.json()
        async with http.post(f"{api}/sendDocument", data=upload) as r:
            as_multipart = await r.json()
        async with http.post(f"{fake.base_url}999:WRONG/getMe") as r:
            wrong_token = (r.status, await r.json())
        async with http.post(f"{api}/sendTelepathy") as r:
            unknown_method = (r.status, await r.json())

    assert as_json["result"]["text"] == "json"
    assert as_form["result"]["text"] == "123"  # a numeric text stays a string
    assert as_multipart["result"]["document"]["file_name"] == "faces.pdf"
    assert fake.sent[-1]["_file"] == b"%PDF-1.4"
    assert wrong_token == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert unknown_method == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_send_message_with_inline_keyboard_round_trips(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="confirm:7")]])

    first = await bot.send_message(ANN, "<b>Ann</b> &amp; co", parse_mode=ParseMode.HTML)
    second = await bot.send_message(
        ANN, "Is this you?", reply_markup=keyboard, reply_to_message_id=first.message_id
    )

    assert first.text == "Ann & co"
    assert first.entities[0].type == "bold" and first.entities[0].length == 3
    assert second.message_id == first.message_id + 1
    assert second.from_user is not None and second.from_user.id == fake.bot_id
    assert second.reply_markup == keyboard
    assert second.reply_to_message is not None and second.reply_to_message.text == "Ann & co"
    assert fake.messages_to(ANN)[0]["_raw_text"] == "<b>Ann</b> &amp; co"


async def test_unescaped_html_is_rejected_like_telegram(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(ANN, "score < 0.5", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)character '.' is reserved"):
        await bot.send_message(ANN, "score 0.5", parse_mode=ParseMode.MARKDOWN_V2)
    assert fake.sent == []


async def test_send_to_unknown_chat_fails_with_chat_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "hello")


async def test_send_photo_upload_is_stored_byte_for_byte(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")
    png = image_bytes(1000, 500, fmt="PNG")

    message = await bot.send_photo(ANN, png, caption="Match: <i>Bob</i>", parse_mode="HTML")

    assert [(p.width, p.height) for p in message.photo][-1] == (1000, 500)
    assert message.photo[0].width == 90
    assert message.caption == "Match: Bob"
    assert fake.sent[-1]["_file"] == png
    assert fake.calls_of("sendPhoto")[0].files["photo"] == png


async def test_send_photo_rejects_bytes_that_are_not_an_image(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")

    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(ANN, b"definitely not a jpeg")


async def test_send_media_group_with_two_uploaded_photos(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")
    red, blue = image_bytes(64, 64, "red"), image_bytes(80, 40, "blue")

    album = await bot.send_media_group(
        ANN, [InputMediaPhoto(red, caption="best match"), InputMediaPhoto(blue)]
    )

    assert len(album) == 2
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
    assert album[0].caption == "best match"
    assert [m["_file"] for m in fake.messages_to(ANN)] == [red, blue]
    assert (album[1].photo[-1].width, album[1].photo[-1].height) == (80, 40)


async def test_pushed_photo_downloads_through_get_file(fake: FakeBotApi, bot: Bot) -> None:
    ann = fake.user(ANN, "Ann")
    jpeg = image_bytes(1200, 900, "green")
    update = fake.push_message(ann, photo=jpeg, caption="who is this?")
    sizes = update["message"]["photo"]

    telegram_file = await bot.get_file(sizes[-1]["file_id"])
    downloaded = await telegram_file.download_as_bytearray()

    assert bytes(downloaded) == jpeg
    assert telegram_file.file_size == len(jpeg)
    assert [s["width"] for s in sizes] == [90, 320, 800, 1200]


async def test_get_file_over_20_mb_is_too_big(fake: FakeBotApi, bot: Bot) -> None:
    file_id, _ = fake.add_file(b"tiny", file_size=25 * 1024 * 1024)

    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(file_id)


async def test_edit_applies_and_an_identical_edit_is_not_modified(
    fake: FakeBotApi, bot: Bot
) -> None:
    fake.user(ANN, "Ann")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop")]])
    sent = await bot.send_message(ANN, "Searching…", reply_markup=keyboard)

    edited = await bot.edit_message_text("Found 2 faces", ANN, sent.message_id)

    assert not isinstance(edited, bool)
    assert edited.text == "Found 2 faces"
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert fake.message(ANN, sent.message_id) == fake.sent[0]
    assert fake.sent[0]["text"] == "Found 2 faces"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Found 2 faces", ANN, sent.message_id)


async def test_long_poll_returns_as_soon_as_an_update_is_pushed(fake: FakeBotApi, bot: Bot) -> None:
    ann = fake.user(ANN, "Ann")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for_call("getUpdates", timeout=5)

    pushed = fake.push_message(ann, "/start")
    updates = await poll

    assert time.monotonic() - started < 5
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"
    assert await bot.get_updates(offset=pushed["update_id"] + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_stop_answers_a_pending_long_poll(fake: FakeBotApi, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for_call("getUpdates", timeout=5)
    started = time.monotonic()

    await fake.stop()

    assert await poll == ()
    assert time.monotonic() - started < 2


async def test_application_polling_echoes_a_pushed_message(fake: FakeBotApi) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Repeat the user's text."""
        assert update.effective_message is not None
        message = update.effective_message
        await message.reply_text(f"echo: {message.text}", do_quote=True)

    ann = fake.user(ANN, "Ann")
    async with polling(fake, (MessageHandler(filters.TEXT, echo), 0)):
        pushed = fake.push_message(ann, "hello")
        reply = await fake.wait_for(lambda m: m.get("text") == "echo: hello", timeout=5)

    assert reply["chat"]["id"] == ANN
    assert reply["reply_to_message"]["message_id"] == pushed["message"]["message_id"]


async def test_callback_button_press_is_answered_and_edits_the_message(fake: FakeBotApi) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Acknowledge the press and replace the question."""
        query = update.callback_query
        assert query is not None
        await query.answer("Saved")
        await query.edit_message_text(f"You chose {query.data}")

    ann = fake.user(ANN, "Ann")
    keyboard = {"inline_keyboard": [[{"text": "Bob", "callback_data": "bob"}]]}
    async with polling(fake, (CallbackQueryHandler(on_button), 0)) as app:
        question = await app.bot.send_message(
            ANN, "Who?", reply_markup=InlineKeyboardMarkup.de_json(keyboard, app.bot)
        )
        fake.push_callback(ann, fake.message(ANN, question.message_id) or {}, "bob")
        edited = await fake.wait_for(lambda m: m.get("text") == "You chose bob", timeout=5)

    assert edited["message_id"] == question.message_id
    assert [a["text"] for a in fake.callback_answers] == ["Saved"]


async def test_duplicate_update_reaches_the_bot_twice(fake: FakeBotApi) -> None:
    seen: list[int] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Note every raw update id."""
        seen.append(update.update_id)

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer each delivery so the test can wait for it."""
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"got {len(seen)}")

    ann = fake.user(ANN, "Ann")
    async with polling(
        fake, (TypeHandler(Update, record), -1), (MessageHandler(filters.TEXT, reply), 0)
    ):
        update = fake.push_message(ann, "once")
        await fake.wait_for(lambda m: m.get("text") == "got 1", timeout=5)
        fake.push_update_again(update)
        await fake.wait_for(lambda m: m.get("text") == "got 2", timeout=5)

    assert seen == [update["update_id"], update["update_id"]]


async def test_rate_limit_surfaces_as_retry_after(
    fake: FakeBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.user(ANN, "Ann")
    fake.fail_next("sendMessage", 429, retry_after=3)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "hi")
    retried = await bot.send_message(ANN, "hi")

    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    assert retried.text == "hi"
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200]


async def test_dropped_connection_surfaces_as_network_error(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")
    fake.fail_network("sendChatAction")

    with pytest.raises(NetworkError):
        await bot.send_chat_action(ANN, "typing")
    assert await bot.send_chat_action(ANN, "upload_photo")

    assert fake.chat_actions == [(ANN, "upload_photo")]


async def test_commands_are_stored_per_scope(fake: FakeBotApi, bot: Bot) -> None:
    fake.user(ANN, "Ann")
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("find", "Find a face")])
    await bot.set_my_commands([BotCommand("approve", "Approve a user")], BotCommandScopeChat(ANN))

    assert [c["command"] for c in fake.commands_for()] == ["start", "find"]
    assert fake.commands_for({"type": "chat", "chat_id": ANN}) == [
        {"command": "approve", "description": "Approve a user"}
    ]
    admin = await bot.get_my_commands(scope=BotCommandScopeChat(ANN))
    assert [c.command for c in admin] == ["approve"]


async def test_webhook_receives_pushed_updates_with_the_secret(fake: FakeBotApi, bot: Bot) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, object]]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        await received.put((secret, await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/hook"
    try:
        ann = fake.user(ANN, "Ann")
        await bot.set_webhook(url, secret_token="s3cret")
        pushed = fake.push_message(ann, "via webhook")
        secret, update = await asyncio.wait_for(received.get(), 5)
        with pytest.raises(Conflict):
            await bot.get_updates()
        status = await fake.post_webhook(url, {"update_id": 1}, secret_token="other")
    finally:
        await runner.cleanup()

    assert (secret, update["update_id"]) == ("s3cret", pushed["update_id"])
    assert status == 200
    assert (await bot.get_webhook_info()).url == url
