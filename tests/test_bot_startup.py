"""`oldclip run` when Telegram cannot be reached or refuses the token: one line that says so and
what to do, no traceback, and the watchers keep working meanwhile (real processes, the local
feed server, and the fake Bot API coming up on the port the bot keeps knocking at)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot_process import write_config
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from feed_server import FeedServer
from media import REPO

import storage

WRONG_TOKEN = "999999:WRONG-token-for-tests_only_000000000"
UNREACHABLE = re.compile(
    r"oldclip: cannot reach Telegram \(.+\); retrying in \d+ s — the watchers keep running"
)


def watched(base_url: str) -> str:
    return (
        '\n[network]\nallowed_networks = ["127.0.0.0/8"]\n'
        f'\n[[feeds]]\nkind = "mastodon"\ntarget = "{base_url}/feeds/mastodon_tag.json"\n'
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start(config: Path, token: str, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    env |= {"OLDCLIP_BOT_TOKEN": token, "PYTHONPATH": str(REPO)}
    with log.open("wb") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oldclip", "--config", str(config), "run",
            cwd=config.parent, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


async def until(
    condition: Callable[[], bool],
    what: str,
    process: asyncio.subprocess.Process,
    log: Path,
    timeout: float = 90,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.returncode is None, f"oldclip run ended:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"never {what}:\n{log.read_text()}"
        await asyncio.sleep(0.2)


def feed_polled(db: Path) -> bool:
    if not db.exists():
        return False
    conn = storage.open_db(db)
    try:
        return any(f.last_success_at for f in storage.list_feeds(conn))
    finally:
        conn.conn.close()


async def stop(process: asyncio.subprocess.Process, log: Path) -> str:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0, log.read_text()
    return log.read_text()


async def test_telegram_unreachable_is_one_line_and_the_bot_starts_when_it_comes_up(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet: connections are refused
    config = write_config(tmp_path, f"http://127.0.0.1:{port}", watched(feed_server.base_url))
    log = tmp_path / "oldclip.log"
    process = await start(config, DEFAULT_TOKEN, log)
    try:
        await until(lambda: "cannot reach Telegram" in log.read_text(), "said", process, log)
        await until(lambda: feed_polled(tmp_path / "library.db"), "polled", process, log)
        async with FakeTelegram(port=port) as tg:  # Telegram is back
            await tg.wait_for("getUpdates", timeout=60)
            tg.send_text(tg.user(7), "/start")
            await tg.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == 7, 30)
            text = await stop(process, log)
    finally:
        if process.returncode is None:
            process.kill()
    assert "Traceback" not in text and "httpx" not in text, text
    said = [line for line in text.splitlines() if "cannot reach Telegram" in line]
    assert said and all(UNREACHABLE.fullmatch(line) for line in said), said
    assert said[0].endswith("retrying in 5 s — the watchers keep running")
    assert DEFAULT_TOKEN.split(":")[1] not in text


async def test_a_refused_token_is_one_line_and_the_watchers_keep_running(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeTelegram() as tg:  # answers 401 to any other token, as Telegram does
        config = write_config(tmp_path, tg.base_url, watched(feed_server.base_url))
        log = tmp_path / "oldclip.log"
        process = await start(config, WRONG_TOKEN, log)
        try:
            await until(lambda: "refused the bot token" in log.read_text(), "said", process, log)
            await until(lambda: feed_polled(tmp_path / "library.db"), "polled", process, log)
            await asyncio.sleep(1)
            assert process.returncode is None, log.read_text()  # still watching
            text = await stop(process, log)
        finally:
            if process.returncode is None:
                process.kill()
    assert "Traceback" not in text, text
    (said,) = [line for line in text.splitlines() if "refused the bot token" in line]
    assert said == (
        "oldclip: Telegram refused the bot token: set OLDCLIP_BOT_TOKEN (or [bot] token) to the "
        "token @BotFather gave; the bot stays off, the watchers keep running"
    )
    assert WRONG_TOKEN.split(":")[1] not in text
