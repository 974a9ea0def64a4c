"""Admins from Telegram (/feeds, /addfeed, /removefeed, /trust, /untrust) and links to posts.

End to end like test_bot_e2e (whose fixtures and helpers this module reuses): the real
`oldclip run` process against the fake Bot API.  Link downloads go through a proxy on a closed
local port, so "a supported site without network" is the same on every machine.
"""

from __future__ import annotations

import asyncio
import html
import socket
import time
from pathlib import Path

import bot_process as e2e
import pytest
from bot_process import ADMIN, FACT_CHECKER, STRANGER, Running, texts_to, wait_text
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from feed_server import FeedServer
from media import CHAIR_RECUT

import storage
from bot.app import run_bot
from bot.deps import Deps
from bot.i18n import t
from bot.settings import BotSettings
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.run import LibraryChecker
from oldclip.workers import media_workers

library_template = e2e.library_template
running = e2e.running

NEWCOMER = 777


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def link_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys written right after e2e.write_config's [bot] table join it."""
    write_config = e2e.write_config

    def with_links(folder: Path, base_url: str, extra: str = "") -> Path:
        link_keys = f'link_proxy = "http://127.0.0.1:{_closed_port()}"\nlink_timeout_s = 5.0\n'
        return write_config(folder, base_url, link_keys + extra)

    monkeypatch.setattr(e2e, "write_config", with_links)


async def reply(tg: FakeTelegram, user_id: int, text: str, timeout: float = 30) -> str:
    """Send ``text`` as ``user_id`` and return the bot's next message to them."""
    before = len(texts_to(tg, user_id))
    tg.send_text(tg.user(user_id), text)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = texts_to(tg, user_id)
        if len(sent) > before:
            return sent[before]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text!r} for {user_id}; got {texts_to(tg, user_id)}")


def db_of(running: Running):
    return storage.open_db(running.folder / "library.db")


async def test_admin_adds_lists_and_removes_a_feed(
    running: Running, feed_server: FeedServer
) -> None:
    tg, db = running.tg, db_of(running)
    assert await reply(tg, ADMIN, "/feeds") == t("en", "feeds_none")

    url = feed_server.url("/feeds/rss.xml")
    assert "Now watching" in await reply(tg, ADMIN, f"/addfeed rss {url} 10m")
    (feed,) = storage.list_feeds(db)
    assert (feed.kind, feed.url, feed.interval_s, feed.source) == ("rss", url, 600, "cli")
    assert "Already watching" in await reply(tg, ADMIN, f"/addfeed rss {url}")

    listed = await reply(tg, ADMIN, "/feeds")
    assert "Watched feeds" in listed and url in listed and f"{feed.id}:" in listed
    assert "every 600s" in listed
    assert any(h in listed for h in ("not polled yet", "failing", "ok, last polled"))

    assert "Stopped watching" in await reply(tg, ADMIN, f"/removefeed {feed.id}")
    assert storage.list_feeds(db) == []
    assert str(feed.id) in await reply(tg, ADMIN, f"/removefeed {feed.id}")  # no such feed now
    assert await reply(tg, ADMIN, "/feeds") == t("en", "feeds_none")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/addfeed nosuchkind something", "unknown feed kind 'nosuchkind'"),
        ("/addfeed telegram some_channel 5x", "is not a duration"),
        ("/addfeed telegram some_channel 3s", "too short"),
        ("/addfeed rss", "Usage: /addfeed"),
        ("/removefeed one", "Usage: /removefeed"),
        ("/trust someone", "Usage: /trust"),
    ],
)
async def test_bad_admin_commands_get_a_clear_answer(
    running: Running, command: str, expected: str
) -> None:
    answer = html.unescape(await reply(running.tg, ADMIN, command))  # the fake echoes HTML
    assert expected in answer and "Traceback" not in answer
    assert storage.list_feeds(db_of(running)) == []


async def test_others_cannot_use_admin_commands(running: Running) -> None:
    tg, db = running.tg, db_of(running)
    for user in (STRANGER, FACT_CHECKER):
        for command in (
            "/addfeed telegram some_channel 10m",
            f"/trust {user}",
            f"/untrust {FACT_CHECKER}",
            "/feeds",
            "/removefeed 1",
        ):
            assert await reply(tg, user, command) == t("en", "admin_only")
    assert storage.list_feeds(db) == []
    assert storage.trusted_users(db) == []


async def test_trust_makes_a_fact_checker_and_untrust_reverts(running: Running) -> None:
    tg, db = running.tg, db_of(running)
    assert await reply(tg, NEWCOMER, "/subscribe") == t("en", "not_allowed")

    assert str(NEWCOMER) in await reply(tg, ADMIN, f"/trust {NEWCOMER}")
    assert storage.trusted_users(db) == [NEWCOMER]
    assert await reply(tg, NEWCOMER, "/subscribe") == t("en", "subscribed")
    assert [s.user_id for s in storage.all_subscriptions(db)] == [NEWCOMER]

    assert "no longer" in await reply(tg, ADMIN, f"/untrust {NEWCOMER}")
    assert storage.trusted_users(db) == []
    assert await reply(tg, NEWCOMER, "/subscriptions") == t("en", "not_allowed")


async def test_links_to_other_hosts_are_refused_without_a_request(
    running: Running, feed_server: FeedServer
) -> None:
    tg = running.tg
    for user_id, url in (
        (60, feed_server.url("/media/videos/chair-20-sd-bar.mp4")),
        (61, feed_server.url("/redirect-private")),
    ):
        answer = await reply(tg, user_id, f"is this old? {url}")
        assert answer == t("en", "link_unsupported")
    assert feed_server.requests == []


async def test_a_supported_site_without_network_answers_quickly(running: Running) -> None:
    tg = running.tg
    started = time.monotonic()
    tg.send_text(tg.user(62), "seen this? https://t.me/some_channel/123")
    text = await wait_text(tg, 62, "could not download that link", timeout=30)
    assert time.monotonic() - started < 30
    reason = text.split(":", 1)[1].strip()
    assert reason and "Traceback" not in text and "ERROR" not in text
    await wait_text(tg, 62, t("en", "checking"), timeout=1)  # the status it replaced


class CopyingLinks:
    """A LinkFetcher that "downloads" a local file: the link path without the network."""

    def __init__(self, source: Path):
        self.source, self.fetched = source, []

    def supports(self, url: str) -> bool:
        return url.startswith("https://t.me/")

    async def fetch(self, url: str, folder: Path) -> Path:
        self.fetched.append(url)
        path = folder / "clip1.mp4"
        path.write_bytes(self.source.read_bytes())
        return path


async def test_a_links_video_is_checked_like_an_uploaded_file(
    tmp_path: Path, library_template: Path
) -> None:
    """In process (oldclip's real Checker, a stand-in downloader): the same verdict and picture
    as for the file itself, and the question is remembered like one about an upload."""
    for item in library_template.iterdir():
        if item.is_file():
            (tmp_path / item.name).write_bytes(item.read_bytes())
    library = Library.open(load_config(None, tmp_path / "library.db"))
    links = CopyingLinks(CHAIR_RECUT)
    async with media_workers(library.config) as workers, FakeTelegram() as tg:
        settings = BotSettings(token=DEFAULT_TOKEN, api_base_url=tg.base_url)
        deps = Deps(
            db=library.db,
            checker=LibraryChecker(library, workers),
            settings=settings,
            links=links,
        )
        stop = asyncio.Event()
        bot = asyncio.create_task(run_bot(deps, stop))
        try:
            tg.send_text(tg.user(63), "old? https://t.me/frontline_clips/1202")
            text = await wait_text(tg, 63, e2e.CHAIR_TITLE, timeout=60)
            assert "2017-06-20" in text
            await tg.wait_for(lambda c: c.method == "sendPhoto" and c.params["chat_id"] == 63, 30)
            tg.send_text(tg.user(64), "and this? https://example.org/clip.mp4")
            await wait_text(tg, 64, t("en", "link_unsupported"), timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
    library.close()
    assert links.fetched == ["https://t.me/frontline_clips/1202"]
