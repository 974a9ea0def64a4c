"""The watchers' commands as a user runs them: `python -m oldclip --config FILE ...` in a
subprocess, against the local feed server running in the test's own event loop (so the
subprocess is awaited, never waited on), a real SQLite file and the real shared videos."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from feed_server import FeedServer
from media import CHAIR

import storage

CHAIR_POST = "https://mastodon.example/@verifier/113541200000000003"
MASTODON_TARGET = "https://mastodon.example/api/v1/timelines/tag/osint?only_media=true&limit=40"
SUMMARY = re.compile(
    r"polled (\d+) feeds? \((\d+) failed\), (\d+) new posts?, (\d+) media files? processed, "
    r"(\d+) reposts? found, (\d+) added to the library from fact-checks, "
    r"(\d+) media files? failed"
)
CHAIR_REPOST = (
    f"repost found: {CHAIR_POST} reuses clip 1 (Folding chair in a hallway), "
    "first published 2017-06-20 (score "
)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


async def oldclip(config: Path, *args: str | Path, timeout: float = 120) -> Run:
    """`python -m oldclip --config CONFIG ARGS`, awaited so the feed server keeps serving."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "oldclip",
        "--config",
        str(config),
        *(str(a) for a in args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=config.parent,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return Run(process.returncode, out.decode(), err.decode())


def write_config(tmp_path: Path, feeds: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[library]\ndatabase = "{tmp_path / "library.db"}"\n\n'
        "[network]\nallow_private_addresses = true\n" + feeds,
        encoding="utf-8",
    )
    return path


def stored_feeds(tmp_path: Path) -> list[storage.Feed]:
    db = storage.open_db(tmp_path / "library.db")
    try:
        return storage.list_feeds(db)
    finally:
        db.conn.close()


def one_error_line(run: Run) -> str:
    assert run.returncode == 1, run
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("oldclip: error: ")
    return lines[0]


async def test_feeds_add_list_remove(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    added = await oldclip(
        config,
        *("feeds", "add", "mastodon", MASTODON_TARGET, "--every", "10m", "--label", "L"),
        *("--include", "checkpoint", "--exclude", "advert"),
    )
    assert added.returncode == 0, added.stderr
    feed_id = int(added.stdout.strip())

    listed = await oldclip(config, "feeds", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (feed,) = json.loads(listed.stdout)
    assert feed["id"] == feed_id
    assert feed["kind"] == "mastodon"
    assert feed["target"] == feed["url"] == MASTODON_TARGET
    assert (feed["label"], feed["interval_s"], feed["source"]) == ("L", 600, "cli")
    assert (feed["include"], feed["exclude"]) == (["checkpoint"], ["advert"])
    # Its health, before any poll.
    assert feed["consecutive_failures"] == 0
    assert feed["last_error"] is None and feed["last_success_at"] is None
    assert feed["down_alerted"] is False

    text = await oldclip(config, "feeds", "list")
    assert text.returncode == 0
    row = rf"^\s*{feed_id}\s+mastodon\s+\S+ \[L\]\s+every 600s\s+not polled yet$"
    assert re.search(row, text.stdout, re.M), text.stdout

    removed = await oldclip(config, "feeds", "remove", str(feed_id))
    assert (removed.returncode, removed.stdout.strip()) == (0, f"removed feed {feed_id}")
    assert stored_feeds(tmp_path) == []
    again = await oldclip(config, "feeds", "remove", str(feed_id))
    assert f"no feed {feed_id}" in one_error_line(again)


async def test_feeds_add_refuses_a_bad_kind_or_interval_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bad_kind, bad_every, too_often, not_a_url = await asyncio.gather(
        oldclip(config, "feeds", "add", "myspace", "https://example.org/feed"),
        oldclip(config, "feeds", "add", "rss", "https://example.org/feed", "--every", "5x"),
        oldclip(config, "feeds", "add", "rss", "https://example.org/feed", "--every", "5s"),
        oldclip(config, "feeds", "add", "rss", "not-a-url"),
    )
    assert "'not-a-url' is not a feed address" in one_error_line(not_a_url)
    message = one_error_line(bad_kind)
    assert "unknown feed kind 'myspace'" in message
    assert "mastodon" in message and "telegram" in message  # says what would work
    assert "'5x' is not a duration" in one_error_line(bad_every)
    assert "'5s' is too short" in one_error_line(too_often)
    assert stored_feeds(tmp_path) == []


CONFIG_FEEDS = """
[[feeds]]
kind = "mastodon"
target = "{base}/feeds/mastodon_tag.json"
every = "15m"
label = "from-config"
include = ["checkpoint"]
"""


async def test_watch_once_finds_the_chair_repost_once(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, CONFIG_FEEDS.format(base=feed_server.base_url))
    add = await oldclip(
        config,
        *("add", CHAIR, "--title", "Folding chair in a hallway", "--first-seen", "2017-06-20"),
        *("--source", "https://example.org/2017/chair"),
    )
    assert add.returncode == 0, add.stderr
    broken = await oldclip(config, "feeds", "add", "rss", feed_server.url("/500"), "--label", "b")
    assert broken.returncode == 0, broken.stderr
    broken_id = int(broken.stdout)

    first = await oldclip(config, "watch", "--once")
    assert first.returncode == 0, first.stderr
    found, line = first.stdout.splitlines()  # the repost is said as it is found
    assert found.startswith(CHAIR_REPOST), found
    assert SUMMARY.fullmatch(line), line
    assert line == (
        "polled 2 feeds (1 failed), 1 new post, 1 media file processed, 1 repost found, "
        "0 added to the library from fact-checks, 0 media files failed"
    )

    listed = await oldclip(config, "feeds", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    feeds = {f["id"]: f for f in json.loads(listed.stdout)}
    failing = feeds.pop(broken_id)
    (from_config,) = feeds.values()  # the [[feeds]] entry, merged into the database
    assert (from_config["source"], from_config["label"]) == ("config", "from-config")
    assert (from_config["interval_s"], from_config["include"]) == (900, ["checkpoint"])
    assert from_config["consecutive_failures"] == 0 and from_config["last_error"] is None
    assert from_config["last_success_at"] is not None
    assert failing["consecutive_failures"] == 1
    assert failing["last_error"].startswith(f"Could not fetch {feed_server.url('/500')}: ")
    assert "HTTP 500" in failing["last_error"]

    text = await oldclip(config, "feeds", "list")
    assert text.returncode == 0
    (failing_line,) = [row for row in text.stdout.splitlines() if "FAILING" in row]
    assert f"FAILING x1: {failing['last_error']}" in failing_line
    assert "[from-config]" in text.stdout and "ok, last polled" in text.stdout

    second = await oldclip(config, "watch", "--once")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        "polled 2 feeds (1 failed), 0 new posts, 0 media files processed, 0 reposts found, "
        "0 added to the library from fact-checks, 0 media files failed"
    )

    reposts = await oldclip(config, "reposts", "--json")
    assert reposts.returncode == 0, reposts.stderr
    (repost,) = json.loads(reposts.stdout)
    assert repost["post_url"] == CHAIR_POST
    assert repost["clip_title"] == "Folding chair in a hallway"
    assert repost["first_seen"] == "2017-06-20"
    assert repost["first_source"] == "https://example.org/2017/chair"
    assert repost["source"] == "mastodon"


async def test_config_feeds_show_in_feeds_list_before_any_watch(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG_FEEDS.format(base="https://feeds.example.org"))
    listed = await oldclip(config, "feeds", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [f["label"] for f in json.loads(listed.stdout)] == ["from-config"]


JUNK_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Junk desk</title><link>{base}/junk/</link>
<item><title>Strike filmed this morning</title><link>{base}/junk/1</link><guid>junk-1</guid>
<pubDate>Fri, 20 Nov 2026 11:30:00 GMT</pubDate>
<enclosure url="{base}/files/junk.mp4" length="300000" type="video/mp4"/></item>
</channel></rss>"""


def serve_junk(feed_server: FeedServer) -> str:
    """A feed whose one enclosure is 300 kB of junk; its [[feeds]] entry."""
    base = feed_server.base_url
    feed_server.files["junk.mp4"] = np.random.default_rng(11).bytes(300_000)
    feed_server.files["junk.xml"] = JUNK_FEED.format(base=base).encode()
    return f'\n[[feeds]]\nkind = "rss"\ntarget = "{base}/files/junk.xml"\nlabel = "junk"\n'


def junk_failure(base: str, stderr: str) -> bool:
    """The junk enclosure's failure, said on stderr with its reason."""
    return bool(
        re.search(
            rf"^oldclip: media failed: {re.escape(base)}/files/junk\.mp4 \(from "
            rf"{re.escape(base)}/junk/1\): .*not a photo or video oldclip can read \(Invalid data",
            stderr,
            re.M,
        )
    )


async def test_watch_keeps_running_past_a_junk_enclosure(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """300 kB of junk in one feed used to end `oldclip watch` (exit 0) within a second."""
    base = feed_server.base_url
    junk_feed = serve_junk(feed_server)
    config = write_config(tmp_path, junk_feed + CONFIG_FEEDS.format(base=base))
    add = await oldclip(
        config,
        *("add", CHAIR, "--title", "Folding chair in a hallway", "--first-seen", "2017-06-20"),
        *("--source", "https://example.org/2017/chair"),
    )
    assert add.returncode == 0, add.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    log, out = tmp_path / "watch.log", tmp_path / "watch.out"
    with log.open("wb") as stderr, out.open("wb") as stdout:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oldclip", "--config", str(config), "watch",
            stdout=stdout, stderr=stderr, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        db = storage.open_db(tmp_path / "library.db")
        deadline = time.monotonic() + 120
        junk = reposts = None
        while time.monotonic() < deadline and process.returncode is None:
            junk = db.execute(
                "SELECT state, error FROM post_media WHERE url = ?", [f"{base}/files/junk.mp4"]
            ).fetchone()
            reposts = storage.list_reposts(db)
            if junk and junk[0] == "failed" and reposts:
                break
            await asyncio.sleep(0.2)
        assert process.returncode is None, log.read_text()
        assert junk is not None and junk[0] == "failed", junk
        assert "not a photo or video oldclip can read (Invalid data" in junk[1], junk
        assert [r.post_url for r in reposts] == [CHAIR_POST]  # the other feed's media
        await asyncio.sleep(1.0)
        assert process.returncode is None, log.read_text()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
    assert "stopped" in log.read_text()
    # Both were said as they happened: the repost on stdout, the failure and its reason on stderr
    (found,) = out.read_text().splitlines()
    assert found.startswith(CHAIR_REPOST), found
    assert junk_failure(base, log.read_text()), log.read_text()


async def test_watch_once_says_why_media_failed_and_fails_when_every_feed_failed(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    base = feed_server.base_url
    (tmp_path / "junk").mkdir()
    (tmp_path / "down").mkdir()
    junk = write_config(tmp_path / "junk", serve_junk(feed_server))
    down = write_config(tmp_path / "down", f'\n[[feeds]]\nkind = "rss"\ntarget = "{base}/500"\n')
    with_junk, all_down = await asyncio.gather(
        oldclip(junk, "watch", "--once"), oldclip(down, "watch", "--once")
    )

    assert with_junk.returncode == 0, with_junk.stderr
    assert junk_failure(base, with_junk.stderr), with_junk.stderr
    assert with_junk.stdout.strip().endswith(", 1 media file failed")
    assert "Traceback" not in with_junk.stderr

    assert all_down.returncode == 1, all_down.stderr
    assert all_down.stdout.strip().startswith("polled 1 feed (1 failed), 0 new posts, ")
    assert all_down.stderr.strip().splitlines()[-1] == (
        "oldclip: every feed failed (1 feed): their errors are above and in `oldclip feeds list`"
    )
    assert "HTTP 500" in all_down.stderr and "Traceback" not in all_down.stderr
