"""An `oldclip run` process talking to the local fake Bot API, for end-to-end bot tests.

The real process starts from a config file that points the bot at the fake (``[bot]
api_base_url``), with the token in the environment; users send updates through the fake and the
tests read what the bot sent back.  Test modules import the ``library_template`` and
``running`` fixtures from here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from media import CHAIR, REPO

from oldclip.config import load_config
from oldclip.library import Library

CHAIR_TITLE = "Folding chair in a hallway"
FACT_CHECKER, ADMIN, STRANGER = 100, 1, 555


@pytest.fixture(scope="module")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library holding the chair clip (with its archived copy), made once for the module."""
    folder = tmp_path_factory.mktemp("lib")
    library = Library.open(load_config(None, folder / "library.db"))
    library.add_clip(
        CHAIR, title=CHAIR_TITLE, first_seen="2017-06-20", source="https://example.org/chair"
    )
    library.close()
    return folder


def write_config(folder: Path, base_url: str, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[library]\ndatabase = "{folder / "library.db"}"\n'
        f'[bot]\napi_base_url = "{base_url}"\nfact_checkers = [{FACT_CHECKER}]\n'
        f"admins = [{ADMIN}]\nrequests_per_minute = 60.0\nalert_interval_s = 0.5\n{extra}"
    )
    return config


class Running:
    """An `oldclip run` process and the fake Telegram it talks to."""

    def __init__(self, tg: FakeTelegram, folder: Path):
        self.tg, self.folder = tg, folder
        self.process: asyncio.subprocess.Process | None = None
        self.extra_config = ""
        self.log = folder / "oldclip.log"  # a file, not a pipe: a full pipe would block it

    async def start(self) -> None:
        config = write_config(self.folder, self.tg.base_url, self.extra_config)
        env = {**os.environ, "OLDCLIP_BOT_TOKEN": DEFAULT_TOKEN, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "oldclip", "--config", str(config), "run",
                cwd=self.folder, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        await self.tg.wait_for("getUpdates", timeout=90)

    async def stop(self) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 30)
        return self.process.returncode, self.log.read_text(errors="replace")

    async def kill(self) -> None:
        """kill -9: no handler runs, nothing is flushed or settled."""
        assert self.process is not None
        self.process.kill()
        await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def running(tmp_path: Path, library_template: Path) -> AsyncIterator[Running]:
    for item in library_template.iterdir():
        target = tmp_path / item.name
        if item.is_file():
            target.write_bytes(item.read_bytes())
    (tmp_path / "media").mkdir(exist_ok=True)
    async with FakeTelegram() as tg:
        run = Running(tg, tmp_path)
        await run.start()
        try:
            yield run
        finally:
            if run.process and run.process.returncode is None:
                await run.stop()


def texts_to(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [
        str(c.params.get("text") or c.params.get("caption") or "")
        for c in tg.calls
        if c.params.get("chat_id") == chat_id
    ]


async def wait_text(tg: FakeTelegram, chat_id: int, needle: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in texts_to(tg, chat_id):
            if needle in text:
                return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"no message with {needle!r} to {chat_id}; got {texts_to(tg, chat_id)}")
