"""The fake Bot API (tests/fake_telegram.py) driven by the real python-telegram-bot v22."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MessageOriginChannel,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

ALICE = FakeTelegram.user(42, "Alice")
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Old?", callback_data="old:yes")]])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def build_app(fake: FakeTelegram, token: str = DEFAULT_TOKEN) -> Application:
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{fake.base_url}/bot")
        .base_file_url(f"{fake.base_url}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=2))
        .build()
    )


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:
    """The manual lifecycle: initialize, poll (1 s long polls so stopping is quick), stop."""
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def png_bytes(size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_text_message_gets_an_echo_reply(fake: FakeTelegram) -> None:
    app = build_app(fake)
    seen_urls: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        seen_urls.extend(update.message.parse_entities(["url"]).values())
        await update.message.reply_text(f"echo: {update.message.text}")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with running(app):
        fake.send_text(ALICE, "🔥 still news? https://t.me/somechannel/123.")
        call = await fake.wait_for(lambda c: c.method == "sendMessage")

    assert call.params["chat_id"] == 42
    assert call.params["text"] == "echo: 🔥 still news? https://t.me/somechannel/123."
    # url entity offsets are UTF-16 code units: the emoji counts twice, the final dot is excluded.
    assert seen_urls == ["https://t.me/somechannel/123"]
    methods = [method for method, _ in fake.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"] and "getUpdates" in methods
    assert fake.last_message(42)["text"].startswith("echo: ")


async def test_forwarded_channel_video_arrives_with_origin_and_downloads(
    fake: FakeTelegram,
) -> None:
    app = build_app(fake)
    video_bytes = os.urandom(200_000)
    registered = fake.add_file(video_bytes)
    posted = int(datetime(2022, 3, 1, 8, 30, tzinfo=UTC).timestamp())
    got: dict[str, object] = {}

    async def on_video(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.video is not None
        got["origin"] = message.forward_origin
        got["caption_urls"] = list(message.parse_caption_entities(["url"]).values())
        telegram_file = await message.video.get_file()
        got["bytes"] = bytes(await telegram_file.download_as_bytearray())
        await message.reply_text("checking")

    app.add_handler(MessageHandler(filters.VIDEO & filters.FORWARDED, on_video))
    async with running(app):
        fake.send_video(
            ALICE,
            registered,
            caption="Strike today! via www.example.org/x",
            forward_origin=fake.channel_origin("warnews", 777, posted),
        )
        await fake.wait_for(lambda c: c.method == "sendMessage")

    origin = got["origin"]
    assert isinstance(origin, MessageOriginChannel)
    assert origin.chat.username == "warnews" and origin.message_id == 777
    assert origin.date == datetime(2022, 3, 1, 8, 30, tzinfo=UTC)
    assert got["caption_urls"] == ["www.example.org/x"]
    assert got["bytes"] == video_bytes
    assert [m for m, _ in fake.calls if m == "getFile"] == ["getFile"]
    assert len(fake.downloads) == 1


async def test_uploads_are_recorded_as_bytes_and_decode_as_images(fake: FakeTelegram) -> None:
    app = build_app(fake)
    async with app:
        sent = await app.bot.send_photo(42, png_bytes(), caption="found it", reply_markup=KEYBOARD)
        album = await app.bot.send_media_group(
            42, [InputMediaPhoto(png_bytes((64, 48))), InputMediaPhoto(png_bytes())]
        )
        with pytest.raises(BadRequest, match="(?i)image_process_failed"):
            await app.bot.send_photo(42, b"not an image at all")
        # The echoed file id is downloadable, like a real uploaded photo.
        again = await (await app.bot.get_file(sent.photo[-1].file_id)).download_as_bytearray()

    _, params = fake.sent(42, "sendPhoto")[0]
    with Image.open(io.BytesIO(params["photo"])) as image:
        assert image.format == "PNG" and image.size == (320, 240)
    assert params["caption"] == "found it"
    assert params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "old:yes"
    assert (sent.photo[-1].width, sent.photo[-1].height) == (320, 240)
    assert sent.reply_markup == KEYBOARD and bytes(again) == params["photo"]
    group = fake.sent(42, "sendMediaGroup")[0].params["media"]
    sizes = [Image.open(io.BytesIO(item["media"])).size for item in group]
    assert sizes == [(64, 48), (320, 240)]
    assert len({m.media_group_id for m in album}) == 1 and len(album) == 2


async def test_button_press_reaches_callback_handler(fake: FakeTelegram) -> None:
    app = build_app(fake)

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("Is this old?", reply_markup=KEYBOARD)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.from_user.id == 42
        await query.answer("noted")
        await query.edit_message_text(f"answer: {query.data}")

    app.add_handler(MessageHandler(filters.TEXT, ask))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^old:"))
    async with running(app):
        fake.send_text(ALICE, "check this")
        await fake.wait_for("sendMessage")
        question = fake.last_message(42)
        fake.press_button(ALICE, question, "old:yes")
        answer = await fake.wait_for("answerCallbackQuery")
        await fake.wait_for("editMessageText")
        # Editing to the same content fails like on the real server.
        with pytest.raises(BadRequest, match="not modified"):
            await app.bot.edit_message_text("answer: old:yes", 42, question["message_id"])

    assert answer.params["text"] == "noted"
    edited = fake.messages[(42, question["message_id"])]
    assert edited["text"] == "answer: old:yes" and "reply_markup" not in edited


async def test_get_file_over_20_mb_is_too_big(fake: FakeTelegram) -> None:
    big = fake.add_file(b"", file_size=25_000_000)
    small = fake.add_file(b"tiny")
    async with build_app(fake) as app:
        with pytest.raises(BadRequest, match="(?i)file is too big"):
            await app.bot.get_file(big["file_id"])
        assert (await app.bot.get_file(small["file_id"])).file_size == 4
        with pytest.raises(BadRequest, match="(?i)invalid file_id"):
            await app.bot.get_file("nope")


async def test_html_is_checked_and_limits_count_utf16_after_parsing(fake: FakeTelegram) -> None:
    """As Telegram: tags and entities do not count, an astral emoji counts two."""
    async with build_app(fake) as app:
        fits = "<b>" + "&lt;" * 4000 + "</b>" + "🔥" * 48  # 4,000 + 96 = 4,096 units
        sent = await app.bot.send_message(42, fits, parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await app.bot.send_message(42, fits + "x", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)too.long"):
            await app.bot.edit_message_text(fits + "x", 42, sent.message_id, parse_mode="HTML")
        for bad in ("<b>open", "<script>x</script>", "<b><i>x</b></i>"):
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await app.bot.send_message(42, bad, parse_mode="HTML")
        assert (await app.bot.send_message(42, "<b>open")).text == "<b>open"  # no parse mode


async def test_undeclared_sizes_and_broken_downloads(fake: FakeTelegram) -> None:
    hidden = fake.add_file(b"", file_size=25_000_000, size_declared=False)
    broken = fake.add_file(b"data", broken=True)
    assert "file_size" not in hidden
    async with build_app(fake) as app:
        with pytest.raises(BadRequest, match="(?i)file is too big"):
            await app.bot.get_file(hidden["file_id"])
        telegram_file = await app.bot.get_file(broken["file_id"])
        with pytest.raises(Exception, match="Internal Server Error"):
            await telegram_file.download_as_bytearray()


async def test_429_is_retried_by_the_rate_limiter(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", retry_after=1)
    async with build_app(fake) as app:
        started = time.monotonic()
        message = await app.bot.send_message(42, "alert: old footage")
        elapsed = time.monotonic() - started

    attempts = fake.sent(42, "sendMessage")
    assert len(attempts) == 2 and all(p["text"] == "alert: old footage" for _, p in attempts)
    assert message.text == "alert: old footage" and elapsed >= 1.0


async def test_injected_403_hits_only_the_blocked_chat(fake: FakeTelegram) -> None:
    fake.fail_next(
        "sendMessage",
        status=403,
        retry_after=None,
        chat_id=7,
        description="Forbidden: bot was blocked by the user",
    )
    async with build_app(fake) as app:
        with pytest.raises(Forbidden, match="blocked"):
            await app.bot.send_message(7, "alert")
        await app.bot.send_message(8, "alert")
        await app.bot.send_message(7, "alert")  # one-shot: the next call goes through
    assert [c.params["chat_id"] for c in fake.sent(method="sendMessage")] == [7, 8, 7]


async def test_wrong_token_is_invalid_token(fake: FakeTelegram) -> None:
    app = build_app(fake, token="999:wrong-token")
    with pytest.raises(InvalidToken):
        await app.initialize()
    await app.bot.request.shutdown()
    assert fake.calls == []


async def test_raw_protocol_offsets_long_poll_and_errors(fake: FakeTelegram) -> None:
    api = f"{fake.base_url}/bot{DEFAULT_TOKEN}"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, **params: str) -> dict:
            async with http.post(f"{api}/{method}", data=params) as response:
                return await response.json()

        assert await call("nosuchMethod") == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        first = fake.send_text(ALICE, "one")["update_id"]
        fake.send_text(ALICE, "123")
        batch = (await call("getUpdates", offset="0", limit="1"))["result"]
        assert [u["update_id"] for u in batch] == [first]
        rest = (await call("GETUPDATES", offset=str(first + 1)))["result"]
        assert [u["message"]["text"] for u in rest] == ["123"]
        # Acked updates are gone; a long poll waits until a new one is queued.
        poll = asyncio.create_task(call("getUpdates", offset=str(first + 2), timeout="5"))
        await asyncio.sleep(0.2)
        assert not poll.done()
        fake.send_text(ALICE, "late")
        assert [u["message"]["text"] for u in (await poll)["result"]] == ["late"]
        # A second poller ends the first with 409, as the real server does.
        older = asyncio.create_task(call("getUpdates", offset=str(first + 3), timeout="5"))
        await asyncio.sleep(0.2)
        newer = await call("getUpdates", offset=str(first + 3), timeout="0")
        assert (await older)["error_code"] == 409 and newer["result"] == []
        text = await call("sendMessage", chat_id="42", text="123")
        assert text["result"]["text"] == "123" and fake.calls[-1].params["text"] == "123"
