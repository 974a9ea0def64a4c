"""Two senders with one bot on one database (`oldclip bot` on two hosts): a 429 answered to one
holds the other too, on both engines (storage.sendpause, bot/outgoing.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from telegram import Bot

from bot.outgoing import Courier, bot_id, send
from storage import open_db, outgoing, sendpause

pytestmark = pytest.mark.both_engines


async def test_a_429_answered_to_one_sender_holds_every_sender_of_the_bot(db_url: str) -> None:
    first_db, second_db = open_db(db_url), open_db(db_url)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with FakeTelegram() as tg:
            first_bot = Bot(DEFAULT_TOKEN, base_url=f"{tg.base_url}/bot")
            second_bot = Bot(DEFAULT_TOKEN, base_url=f"{tg.base_url}/bot")
            async with first_bot, second_bot:
                first = Courier(first_db, first_bot, shared=True)
                second = Courier(second_db, second_bot, shared=True)
                tg.fail_next("sendMessage", retry_after=3, chat_id=1)
                tasks.append(asyncio.create_task(first.run(stop)))
                refused = await send(first, 1, "to the first chat")
                deadline = time.monotonic() + 10
                while (until := sendpause.held_until(second_db, bot_id(DEFAULT_TOKEN))) is None:
                    assert time.monotonic() < deadline, "the 429 never held the other sender"
                    await asyncio.sleep(0.02)
                assert outgoing.get(first_db, refused.row_id).state == "pending"  # tried again

                # The second sender starts now, with a message of its own for another chat.
                tasks.append(asyncio.create_task(second.run(stop)))
                await send(second, 2, "to the second chat")
                left = (datetime.fromisoformat(until) - datetime.now(UTC)).total_seconds()
                assert left > 1.5, "the test machine was too slow to tell anything"
                await asyncio.sleep(left - 0.3)
                assert tg.sent(2, "sendMessage") == []  # held by the other's 429
                assert len(tg.sent(1, "sendMessage")) == 1

                await tg.wait_for(lambda call: call.params.get("chat_id") == 2, timeout=10)
                await tg.wait_for(
                    lambda call: (
                        call.params.get("text") == "to the first chat"
                        and len(tg.sent(1, "sendMessage")) == 2
                    ),
                    timeout=10,
                )
                assert datetime.now(UTC) >= datetime.fromisoformat(until)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        first_db.close()
        second_db.close()
