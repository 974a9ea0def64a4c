"""The watchers' pipeline end to end: a local feed server (tests/feed_server.py), a real SQLite
library holding the chair clip, the real shared videos, no mocks and no network.

What a user would notice: a repost of a library clip is reported once, however often the feed
is polled and wherever the process is restarted; a broken or hostile source is recorded on its
feed without holding up the others; a dead feed raises one alert and its recovery another;
keyword filters keep only matching posts; the schedule backs off and never overlaps polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from feed_server import FeedServer
from media import CHAIR

import storage
import watchers.poll
from oldclip.config import (
    Config,
    ConfigError,
    FeedSpec,
    NetworkSettings,
    WatchSettings,
    load_config,
)
from oldclip.feeds import add_feed, sync_config_feeds
from oldclip.http import http_session
from oldclip.library import Library
from oldclip.pipeline import Pipeline
from oldclip.render import feed_line
from oldclip.watch import run_once
from oldclip.workers import media_workers
from watchers.schedule import PollSchedule

LOOPBACK = ("127.0.0.0/8",)  # the feed server; every other private address stays refused
CHAIR_TITLE = "Folding chair in a hallway"
CHAIR_FIRST_SEEN = "2017-06-20"
CHAIR_SOURCE = "https://example.org/2017/chair"
# The two statuses of mastodon_tag.json: the chair re-cut (chair-20-sd-bar.mp4) and a boost
# with two bridge photos and a pattern loop (nothing in the library).
CHAIR_POST = "https://mastodon.example/@verifier/113541200000000003"
BOOST_POST = "https://other.example/@eyewitness/113530000000000555"
MIXED_POST = "https://mastodon.example/@mixer/113541300000000009"


def make_config(db: Path, *, feeds: tuple[FeedSpec, ...] = (), **watch: object) -> Config:
    return Config(
        database=db,
        watch=WatchSettings(**watch),
        network=NetworkSettings(allow_private_addresses=False, allowed_networks=LOOPBACK),
        feeds=feeds,
    )


@pytest.fixture(scope="module")
def chair_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library file holding the chair clip, fingerprinted once for the whole module."""
    db = tmp_path_factory.mktemp("template") / "library.db"
    library = Library.open(make_config(db))
    try:
        library.add_clip(CHAIR, title=CHAIR_TITLE, first_seen=CHAIR_FIRST_SEEN, source=CHAIR_SOURCE)
    finally:
        library.close()  # the last connection checkpoints the WAL into the file
    return db


@pytest.fixture
def chair_db(chair_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the library with the chair clip."""
    db = tmp_path / "library.db"
    shutil.copyfile(chair_template, db)
    return db


@contextlib.asynccontextmanager
async def pipeline_for(library: Library, config: Config) -> AsyncIterator[Pipeline]:
    """A Pipeline with the session run_once would use (same address policy), closed after."""
    async with http_session(config) as session, media_workers(config) as workers:
        yield Pipeline(library, config, session, workers)


def count(library: Library, sql: str, params: list | None = None) -> int:
    return int(library.db.execute(sql, params or []).fetchone()[0])


def reposts_of(library: Library, post_url: str) -> list[storage.Repost]:
    return [r for r in storage.list_reposts(library.db) if r.post_url == post_url]


def alerts(library: Library, kind: str) -> list[storage.OutboxItem]:
    return [a for a in storage.pending_alerts(library.db, limit=1000) if a.kind == kind]


def post_urls(library: Library) -> set[str]:
    return {row[0] for row in library.db.execute("SELECT post_url FROM posts").fetchall()}


def assert_chair_reported_once(library: Library) -> None:
    (repost,) = reposts_of(library, CHAIR_POST)
    assert repost.clip_title == CHAIR_TITLE
    assert repost.first_seen == CHAIR_FIRST_SEEN
    assert repost.first_source == CHAIR_SOURCE
    assert repost.score is not None and repost.score >= 0.45
    (alert,) = alerts(library, "repost")
    assert alert.id == repost.outbox_id
    assert alert.count == 1
    assert alert.payload["clip_title"] == CHAIR_TITLE
    assert alert.payload["first_seen"] == CHAIR_FIRST_SEEN
    assert [p["post_url"] for p in alert.payload["posts"]] == [CHAIR_POST]


# ------------------------------------------------------------------- a repost, exactly once


async def test_chair_repost_is_reported_once_across_two_polls(
    feed_server: FeedServer, chair_db: Path
) -> None:
    config = make_config(chair_db)
    library = Library.open(config)
    try:
        add_feed(library, "mastodon", feed_server.url("/feeds/mastodon_tag.json"), interval_s=600)
        first = await run_once(library, config)
        second = await run_once(library, config)

        assert (first.polled, first.failed_polls, first.new_posts) == (1, 0, 2)
        assert first.reposts == 1 and first.failed_media == 0
        assert first.processed == 4  # the chair video, and the boost's 2 photos and loop
        assert (second.polled, second.failed_polls, second.new_posts) == (1, 0, 0)
        assert (second.processed, second.reposts) == (0, 0)
        assert_chair_reported_once(library)
        # Only the chair matched; everything else was archived, nothing is left to do.
        assert count(library, "SELECT COUNT(*) FROM reposts") == 1
        states = library.db.execute("SELECT DISTINCT state FROM post_media").fetchall()
        assert states == [("notified",)]
        assert storage.due_media(library.db) == []
    finally:
        library.close()


@pytest.mark.parametrize("stop_after", ["fetched", "fingerprinted"])
async def test_restart_in_the_middle_of_processing_reports_once(
    feed_server: FeedServer, chair_db: Path, stop_after: str
) -> None:
    config = make_config(chair_db)
    feed_url = feed_server.url("/feeds/mastodon_tag.json")

    # First run: poll, then take the chair video only part of the way, then "crash": the
    # Library, Pipeline and session are dropped and nothing in memory survives.
    library = Library.open(config)
    try:
        feed_id, _ = add_feed(library, "mastodon", feed_url, interval_s=600, include=["checkpoint"])
        async with pipeline_for(library, config) as pipeline:
            assert await pipeline.poll_feed(feed_id) == 1
            (item,) = storage.due_media(library.db)
            assert (item.post_url, item.state) == (CHAIR_POST, "new")
            item = await pipeline.media.download(item)
            if stop_after == "fingerprinted":
                item = await pipeline.media.fingerprint(item)
            assert item.state == stop_after
    finally:
        library.close()

    # Restart: a new Library and Pipeline on the same file finish the job.
    library = Library.open(config)
    try:
        async with pipeline_for(library, config) as pipeline:
            report = await pipeline.work_queue()
            assert (report.processed, report.reposts, report.failed_media) == (1, 1, 0)
            done = storage.get_post_media(library.db, item.id)
            assert done is not None and done.state == "notified"
            assert_chair_reported_once(library)

            # A crash after the repost was committed but before this worker saw the state
            # change: deciding again, from whatever state it last read, records nothing more.
            for stale in ("notified", "matched", "fingerprinted"):
                await pipeline.media.decide(replace(done, state=stale))
            assert_chair_reported_once(library)
            sightings = storage.sightings_for_media(library.db, done.media_id)
            assert [s.post_url for s in sightings] == [CHAIR_POST]

        again = await run_once(library, config)
        assert (again.new_posts, again.processed, again.reposts) == (0, 0, 0)
        assert_chair_reported_once(library)
        assert count(library, "SELECT COUNT(*) FROM posts") == 1
    finally:
        library.close()


# ------------------------------------------------------------------------- hostile sources


HOSTILE = {
    # path: (kind, what the feed's last_error must say)
    "/500": ("rss", "HTTP 500"),
    "/slow": ("rss", "no complete answer within 1 s"),
    "/redirect-loop": ("rss", "redirect loop"),
    "/redirect-private": ("rss", "http://10.0.0.1/ was refused"),
    "/malformed.xml": ("rss", "the XML is malformed or truncated"),
    "/malformed.json": ("mastodon", "the response is not JSON"),
    "/huge": ("rss", f"over the limit of {watchers.poll.FEED_MAX_BYTES} bytes"),
}


async def test_hostile_feeds_are_recorded_while_the_good_feed_works(
    feed_server: FeedServer, chair_db: Path
) -> None:
    feed_server.slow_seconds = 10
    config = make_config(chair_db, feed_timeout_s=1.0)
    library = Library.open(config)
    try:
        good, _ = add_feed(
            library,
            "mastodon",
            feed_server.url("/feeds/mastodon_tag.json"),
            interval_s=600,
            include=["checkpoint"],
        )
        bad = {
            path: add_feed(library, kind, feed_server.url(path), interval_s=600)[0]
            for path, (kind, _) in HOSTILE.items()
        }
        started = time.monotonic()
        report = await run_once(library, config)
        elapsed = time.monotonic() - started

        assert elapsed < 25, f"a hostile source held the pass up for {elapsed:.0f} s"
        assert (report.polled, report.failed_polls) == (1 + len(HOSTILE), len(HOSTILE))
        assert (report.new_posts, report.reposts) == (1, 1)

        feeds = {f.id: f for f in storage.list_feeds(library.db)}
        ok = feeds[good]
        assert (ok.consecutive_failures, ok.last_error) == (0, None)
        assert ok.last_success_at is not None
        assert_chair_reported_once(library)
        for path, (_, expected) in HOSTILE.items():
            feed = feeds[bad[path]]
            assert feed.consecutive_failures == 1, path
            assert feed.last_success_at is None, path
            assert expected in (feed.last_error or ""), (path, feed.last_error)
            # One readable line for `oldclip feeds list`: what failed and what to do.
            line = feed_line(feed)
            assert f"FAILING x1: {feed.last_error}" in line
            assert "\n" not in line and "Traceback" not in line
            assert len(feed.last_error) < 500
        assert post_urls(library) == {CHAIR_POST}
        private = feeds[bad["/redirect-private"]].last_error
        assert "SSRF protection" in private
    finally:
        library.close()


async def test_loopback_is_refused_without_an_allowed_network(
    feed_server: FeedServer, chair_db: Path
) -> None:
    config = replace(make_config(chair_db), network=NetworkSettings())  # the defaults
    library = Library.open(config)
    try:
        add_feed(library, "mastodon", feed_server.url("/feeds/mastodon_tag.json"), interval_s=600)
        report = await run_once(library, config)
        assert (report.failed_polls, report.new_posts) == (1, 0)
        (feed,) = storage.list_feeds(library.db)
        assert "SSRF protection" in feed.last_error
        assert not any(r.path.startswith("/feeds/") for r in feed_server.requests)
    finally:
        library.close()


@pytest.mark.parametrize(
    ("kind", "name", "posts", "media"),
    [("mastodon", "mastodon_tag.json", 2, 4), ("rss", "rss.xml", 2, 2)],
)
async def test_a_feed_that_repeats_every_post_adds_no_duplicates(
    feed_server: FeedServer, chair_db: Path, kind: str, name: str, posts: int, media: int
) -> None:
    config = make_config(chair_db)
    library = Library.open(config)
    try:
        feed_id, _ = add_feed(library, kind, feed_server.url(f"/nocache/{name}"), interval_s=600)
        async with pipeline_for(library, config) as pipeline:
            assert await pipeline.poll_feed(feed_id) == posts
            for _ in range(2):
                assert await pipeline.poll_feed(feed_id) == 0
        # The server really sent everything again (no validators, so no 304 to hide behind).
        polls = [r for r in feed_server.requests if r.path == f"/nocache/{name}"]
        assert len(polls) == 3
        assert not any("If-None-Match" in r.headers for r in polls)
        assert count(library, "SELECT COUNT(*) FROM posts") == posts
        assert count(library, "SELECT COUNT(*) FROM post_media") == media
        (feed,) = storage.list_feeds(library.db)
        assert (feed.consecutive_failures, feed.last_error) == (0, None)
    finally:
        library.close()


async def test_media_that_is_a_web_page_fails_and_the_post_still_processes(
    feed_server: FeedServer, chair_db: Path
) -> None:
    # A web page or an over-size file is final at once: asking again gives the same answer.
    config = make_config(chair_db, max_media_mb=3)
    library = Library.open(config)
    try:
        add_feed(
            library, "mastodon", feed_server.url("/feeds/mastodon_mixed_media.json"), interval_s=600
        )
        started = time.monotonic()
        report = await run_once(library, config)
        assert time.monotonic() - started < 25
        assert (report.new_posts, report.reposts) == (1, 1)
        assert report.failed_media == 2
        report = await run_once(library, config)
        assert (report.new_posts, report.reposts, report.processed) == (0, 0, 0)
        items = {m.url.removeprefix(feed_server.base_url): m for m in media_of(library)}
        page = items["/html-as-video.mp4"]
        assert (page.state, page.attempts) == ("failed", 1)
        assert "text/html" in page.error and "not a video or photo" in page.error
        assert page.file_path is None and page.next_attempt_at is None

        huge = items["/huge"]  # 1 GB without Content-Length: stopped at the 3 MB cap
        assert (huge.state, huge.attempts, huge.file_path) == ("failed", 1, None)
        assert f"over the limit of {3 * 1024 * 1024} bytes" in huge.error

        chair = items["/media/videos/chair-20-sd-bar.mp4"]
        assert chair.state == "notified" and chair.error is None
        (repost,) = reposts_of(library, MIXED_POST)
        assert (repost.post_media_id, repost.clip_title) == (chair.id, CHAIR_TITLE)
        archived = sorted(p.name for p in config.media_dir.rglob("*") if p.is_file())
        assert archived == [f"{chair.id}.mp4"]  # no web page or partial download kept
    finally:
        library.close()


def media_of(library: Library) -> list[storage.PostMedia]:
    ids = [row[0] for row in library.db.execute("SELECT id FROM post_media").fetchall()]
    return [storage.get_post_media(library.db, i) for i in ids]


# ------------------------------------------------------------------------------ feed health


async def test_feed_down_alert_once_then_feed_up_once(
    feed_server: FeedServer, chair_db: Path
) -> None:
    config = make_config(chair_db, down_after=3)
    library = Library.open(config)
    try:
        feed_id, _ = add_feed(
            library,
            "mastodon",
            feed_server.url("/flaky/mastodon_tag.json"),
            interval_s=600,
            label="verifiers",
            include=["no-such-word-in-any-post"],  # polls only: nothing to download
        )
        down_counts = []
        for _ in range(5):
            report = await run_once(library, config)
            assert report.failed_polls == 1
            down_counts.append(len(alerts(library, "feed_down")))
        assert down_counts == [0, 0, 1, 1, 1]
        feed = storage.get_feed(library.db, feed_id)
        assert (feed.consecutive_failures, feed.down_alerted) == (5, True)
        (down,) = alerts(library, "feed_down")
        assert down.payload["feed_id"] == feed_id
        assert down.payload["label"] == "verifiers"
        assert "HTTP 503" in down.payload["error"]

        feed_server.flaky_down = False
        for _ in range(2):  # the second poll is a 304, still a success
            report = await run_once(library, config)
            assert report.failed_polls == 0
        (up,) = alerts(library, "feed_up")
        assert up.payload["feed_id"] == feed_id and up.payload["error"] is None
        feed = storage.get_feed(library.db, feed_id)
        assert (feed.consecutive_failures, feed.down_alerted) == (0, False)
        assert feed.last_success_at is not None

        # Failing again, fewer times than down_after: no new alert.
        feed_server.flaky_down = True
        for _ in range(2):
            await run_once(library, config)
        kinds = [a.kind for a in storage.pending_alerts(library.db)]
        assert kinds == ["feed_down", "feed_up"]
    finally:
        library.close()


# -------------------------------------------------------------------------- keyword filters


@pytest.mark.parametrize(
    ("include", "exclude", "kept"),
    [
        ([], [], {CHAIR_POST, BOOST_POST}),
        (["checkpoint"], [], {CHAIR_POST}),
        (["CHECKPOINT", "no-such-word"], [], {CHAIR_POST}),  # any one, case-insensitive
        ([], ["checkpoint"], {BOOST_POST}),
        (["osint"], ["bridge"], {CHAIR_POST}),  # both carry #OSINT; the boost is about a bridge
        (["no-such-word"], [], set()),
    ],
)
async def test_keyword_filters_keep_only_matching_posts(
    feed_server: FeedServer, chair_db: Path, include: list, exclude: list, kept: set
) -> None:
    config = make_config(chair_db)
    library = Library.open(config)
    try:
        feed_id, _ = add_feed(
            library,
            "mastodon",
            feed_server.url("/feeds/mastodon_tag.json"),
            interval_s=600,
            include=include,
            exclude=exclude,
        )
        async with pipeline_for(library, config) as pipeline:
            assert await pipeline.poll_feed(feed_id) == len(kept)
        assert post_urls(library) == kept
    finally:
        library.close()


async def test_config_feed_filters_apply_and_follow_config_changes(
    feed_server: FeedServer, chair_db: Path
) -> None:
    url = feed_server.url("/nocache/mastodon_tag.json")
    spec = FeedSpec(kind="mastodon", target=url, label="cfg", exclude=("checkpoint",))
    config = make_config(chair_db, feeds=(spec,))
    library = Library.open(config)
    try:
        sync_config_feeds(library, config)
        (feed,) = storage.list_feeds(library.db)
        assert (feed.source, feed.label, feed.exclude) == ("config", "cfg", ["checkpoint"])
        async with pipeline_for(library, config) as pipeline:
            assert await pipeline.poll_feed(feed.id) == 1
        assert post_urls(library) == {BOOST_POST}
        # The config now keeps only the chair post: the next start applies it.
        config = replace(config, feeds=(replace(spec, exclude=(), include=("checkpoint",)),))
        sync_config_feeds(library, config)
        async with pipeline_for(library, config) as pipeline:
            await pipeline.poll_feed(feed.id)
        assert post_urls(library) == {BOOST_POST, CHAIR_POST}
        assert len(storage.list_feeds(library.db)) == 1
    finally:
        library.close()


# ------------------------------------------------------------------ [network] in the config


def test_allowed_networks_are_read_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[network]\nallowed_networks = ["127.0.0.0/8", "10.1.2.3"]\n')
    assert load_config(path).network.allowed_networks == ("127.0.0.0/8", "10.1.2.3")
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert load_config(example).network.allowed_networks == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"127.0.0.0/8"', "network.allowed_networks must be a list of strings"),
        ("[127]", "network.allowed_networks must be a list of strings"),
        ('["localhost"]', "'localhost' is not a network"),
    ],
)
def test_bad_allowed_networks_are_a_clear_config_error(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[network]\nallowed_networks = {value}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# ------------------------------------------------------------------------------ the schedule


async def test_schedule_backoff_doubles_while_a_feed_fails_and_resets_on_success() -> None:
    loop = asyncio.get_running_loop()
    calls: list[tuple[float, float]] = []  # (time, backoff_s when the poll started)
    third = asyncio.Event()
    schedule: PollSchedule

    async def poll(feed_id: int) -> bool:
        calls.append((loop.time(), schedule.backoff_s(feed_id)))
        if len(calls) == 3:
            third.set()
            return True
        return False

    schedule = PollSchedule(poll, jitter=0.1, max_backoff_s=3600)
    schedule.start()
    try:
        schedule.set_feed(7, 1)
        await asyncio.wait_for(third.wait(), 15)
        await asyncio.sleep(0.05)  # let the third poll's bookkeeping run
        assert [backoff for _, backoff in calls] == [1, 2, 4]
        gaps = [b - a for (a, _), (b, _) in zip(calls, calls[1:], strict=False)]
        # Waits of 2 s then 4 s (late wake-ups under load only make them longer); without
        # backoff a poll would come every 1 to 2 s (interval plus jitter).
        assert 1.95 <= gaps[0] < 3.5
        assert 3.95 <= gaps[1] < 5.5
        assert schedule.backoff_s(7) == 1  # back on its interval after a success
    finally:
        schedule.shutdown()


async def test_schedule_never_polls_one_feed_twice_at_once() -> None:
    active = {1: 0, 2: 0}
    most = {1: 0, 2: 0}
    started = {1: 0, 2: 0}
    fast_during_slow = 0
    second_slow = asyncio.Event()

    async def poll(feed_id: int) -> bool:
        nonlocal fast_during_slow
        started[feed_id] += 1
        active[feed_id] += 1
        most[feed_id] = max(most[feed_id], active[feed_id])
        if feed_id == 2 and active[1]:
            fast_during_slow += 1
        try:
            if feed_id == 1:
                if started[1] == 2:
                    second_slow.set()
                await asyncio.sleep(2.5)  # longer than two intervals
            return True
        finally:
            active[feed_id] -= 1

    schedule = PollSchedule(poll, jitter=0.1)
    schedule.start()
    try:
        schedule.set_feed(1, 1)
        schedule.set_feed(2, 1)
        await asyncio.wait_for(second_slow.wait(), 15)
    finally:
        schedule.shutdown()
    assert most == {1: 1, 2: 1}
    assert fast_during_slow >= 1  # a slow feed does not hold up the others
