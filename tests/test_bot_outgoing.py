"""The courier (bot/outgoing.py) with a real PTB Bot against the fake Bot API and a real
database: a lost answer is not sent again, an edit Telegram cannot make becomes a reply, and a
chat is paced to one message a second after a short burst."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.outgoing import Courier, send
from storage import outgoing
from storage.engine import Database


@pytest.fixture
async def courier(db: Database) -> AsyncIterator[tuple[Courier, FakeTelegram]]:
    async with FakeTelegram() as tg:
        bot = Bot(
            DEFAULT_TOKEN,
            base_url=f"{tg.base_url}/bot",
            request=HTTPXRequest(read_timeout=1.0),  # an unanswered call ends quickly
        )
        async with bot:
            sender = Courier(db, bot)
            stop = asyncio.Event()
            task = asyncio.create_task(sender.run(stop))
            try:
                yield sender, tg
            finally:
                stop.set()
                await task


async def settled(db: Database, row_id: int, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while (state := outgoing.get(db, row_id).state) in ("pending", "sending"):
        assert time.monotonic() < deadline, f"row {row_id} still {state}"
        await asyncio.sleep(0.05)
    return state


async def test_a_message_telegram_took_but_never_answered_is_not_sent_again(
    courier: tuple[Courier, FakeTelegram], db: Database
) -> None:
    sender, tg = courier
    tg.hang_after_accepting("sendMessage", chat_id=42)
    queued = await send(sender, 42, "Old footage: the chair")
    assert await settled(db, queued.row_id) == "unknown"
    after = await send(sender, 42, "next")  # the chat goes on
    assert await settled(db, after.row_id) == "sent"
    await asyncio.sleep(1.5)
    assert [m["text"] for m in tg.bot_messages(42)] == ["Old footage: the chair", "next"]
    assert len(tg.sent(42, "sendMessage")) == 2  # one call each: no retry of the first


async def test_an_edit_of_a_deleted_message_becomes_a_reply_to_it(
    courier: tuple[Courier, FakeTelegram], db: Database
) -> None:
    sender, tg = courier
    status = await send(sender, 42, "Checking...")
    assert await settled(db, status.row_id) == "sent"
    first = outgoing.get(db, status.row_id).message_id
    tg.messages.pop((42, first))  # the person deleted it
    verdict = await status.edit_text("OLD FOOTAGE")
    assert await settled(db, verdict.row_id) == "sent"
    (message,) = tg.bot_messages(42)
    assert message["text"] == "OLD FOOTAGE"
    (call,) = tg.sent(42, "sendMessage")[1:]
    assert call.params["reply_parameters"]["message_id"] == first
    # An edit of a message that is still there is an edit, buttons and all.
    again = await send(sender, 42, "v1")
    edited = await again.edit_text("v2")
    assert await settled(db, edited.row_id) == "sent"
    assert [m["text"] for m in tg.bot_messages(42)] == ["OLD FOOTAGE", "v2"]


async def test_a_chat_gets_a_burst_of_three_then_one_message_a_second(
    courier: tuple[Courier, FakeTelegram], db: Database
) -> None:
    sender, tg = courier
    start = time.monotonic()
    rows = [await send(sender, 42, f"message {n}") for n in range(6)]
    other = await send(sender, 43, "another chat is not held up")
    assert await settled(db, other.row_id) == "sent"
    assert time.monotonic() - start < 1.0
    for queued in rows:
        assert await settled(db, queued.row_id) == "sent"
    elapsed = time.monotonic() - start
    assert 2.5 <= elapsed < 6, elapsed
    assert [m["text"] for m in tg.bot_messages(42)] == [f"message {n}" for n in range(6)]
