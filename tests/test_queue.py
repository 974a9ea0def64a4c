"""The job queue (oldclip.jobs) on a real PostgreSQL: a loopback feed, real media, no mocks.

What a user would notice: a feed polled through the queue has its posts recorded and the
repost of a library clip alerted once, and it stays once when every job runs a second time
(a killed worker's jobs are run again); `oldclip worker` refuses SQLite in one line.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import procrastinate
import pytest
from feed_server import FeedServer
from media import CHAIR, REPO, shared_fingerprint

import storage
from oldclip.config import Config, NetworkSettings, WatchSettings
from oldclip.feeds import add_feed
from oldclip.jobs import FORGET, MEDIA_JOB, POLL, defer_media, defer_poll, ensure_schema, make_app
from oldclip.library import Library
from oldclip.scheduler import schedule_once
from oldclip.worker import work

LOOPBACK = ("127.0.0.0/8",)
CHAIR_POST = "https://mastodon.example/@verifier/113541200000000003"  # mastodon_tag.json


def queue_config(url: str, folder: Path) -> Config:
    return Config(
        database=url,
        watch=WatchSettings(media_dir=str(folder / "media"), fingerprint_workers=1),
        network=NetworkSettings(allow_private_addresses=False, allowed_networks=LOOPBACK),
    )


def add_chair(library: Library) -> int:
    clip_id, _ = library.add_clip(
        CHAIR,
        fp=shared_fingerprint(CHAIR),
        title="Folding chair in a hallway",
        first_seen="2017-06-20",
        source="https://example.org/2017/chair",
    )
    return clip_id


UNFINISHED_JOBS = (
    "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
    "AND task_name <> 'oldclip:retry_stalled_jobs'"
)


async def drain(library: Library, config: Config, app: procrastinate.App) -> None:
    """Work jobs here until none is left (a worker with wait=False stops at the first moment
    it finds none, which may come while a poll is still queueing media)."""
    for _ in range(5):
        await work(library, config, app, concurrency=3, wait=False)
        if count(library, UNFINISHED_JOBS) == 0:
            return
    pytest.fail("jobs still left after 5 rounds")


def count(library: Library, sql: str) -> int:
    return int(library.db.execute(sql).fetchone()[0])


def alerted_posts(library: Library) -> list[str]:
    """Every post named by a repost alert, as often as it is named."""
    return [
        post["post_url"]
        for item in storage.pending_alerts(library.db, limit=10_000)
        if item.kind == "repost"
        for post in item.payload["posts"]
    ]


async def test_a_feed_polled_through_the_queue_alerts_its_repost_once_even_run_twice(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the saved search index
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        clip_id = add_chair(library)
        feed_url = feed_server.url("/feeds/mastodon_tag.json")
        feed_id, _ = add_feed(library, "mastodon", feed_url, interval_s=600)
        assert ensure_schema(library.db)
        assert not ensure_schema(library.db)  # every start runs it: the second does nothing
        app = make_app(postgres_schema)
        async with app.open_async():
            assert await defer_poll(app, feed_id)
            assert not await defer_poll(app, feed_id)  # one poll of a feed waiting, not two
            await drain(library, config, app)

            assert count(library, "SELECT count(*) FROM posts") == 2
            media = count(library, "SELECT count(*) FROM post_media")
            assert media == 4
            assert count(library, "SELECT count(*) FROM post_media WHERE state = 'notified'") == 4
            [repost] = storage.list_reposts(library.db)
            assert (repost.post_url, repost.clip_id) == (CHAIR_POST, clip_id)
            assert alerted_posts(library) == [CHAIR_POST]

            # Every job again, as after a worker killed mid-way: nothing is done twice.
            ids = [r[0] for r in library.db.execute("SELECT id FROM post_media").fetchall()]
            assert await defer_media(app, ids) == 4
            assert await defer_poll(app, feed_id)
            await drain(library, config, app)

            assert count(library, "SELECT count(*) FROM posts") == 2
            assert count(library, "SELECT count(*) FROM post_media WHERE state = 'notified'") == 4
            assert len(storage.list_reposts(library.db)) == 1
            assert alerted_posts(library) == [CHAIR_POST]

            # A day later the hourly clean-up deletes the finished jobs, not the pipeline's rows.
            done = (
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded' "
                f"AND task_name IN ('{POLL}', '{MEDIA_JOB}')"
            )
            assert count(library, done) > 0
            library.db.execute("UPDATE procrastinate_events SET at = at - interval '25 hours'")
            await app.tasks[FORGET].defer_async(timestamp=0)
            await drain(library, config, app)
            assert count(library, done) == 0
            assert count(library, "SELECT count(*) FROM post_media WHERE state = 'notified'") == 4
    finally:
        library.close()


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_the_queue_commands_refuse_sqlite_in_one_line(tmp_path: Path, command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oldclip", "--db", str(tmp_path / "lib.db"), command],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"oldclip: error: oldclip {command} needs a PostgreSQL database ([database] url); "
        "on one host use `oldclip run`"
    ]


async def test_two_schedulers_queue_each_due_feed_once_and_backoff_holds_a_failing_feed(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        fresh, _ = add_feed(library, "rss", "https://example.org/fresh.xml", interval_s=600)
        polled, _ = add_feed(library, "rss", "https://example.org/polled.xml", interval_s=600)
        failing, _ = add_feed(library, "rss", "https://example.org/failing.xml", interval_s=600)
        storage.record_poll_success(library.db, polled, etag=None, last_modified=None)
        for _ in range(3):  # 600 s doubled three times: not due for 80 minutes
            storage.record_poll_failure(library.db, failing, "HTTP 503", down_after=10)
        ensure_schema(library.db)
        one, two = make_app(postgres_schema), make_app(postgres_schema)
        async with one.open_async(), two.open_async():
            assert await schedule_once(one, library, config) == (1, 0)
            assert await schedule_once(two, library, config) == (0, 0)  # already waiting
        queued = library.db.execute(
            "SELECT args->>'feed_id' FROM procrastinate_jobs WHERE task_name = 'oldclip:poll_feed'"
        ).fetchall()
        assert queued == [(str(fresh),)]
    finally:
        library.close()


async def test_a_medium_that_fails_is_tried_again_after_its_backoff_then_given_up(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    config = replace(config, watch=replace(config.watch, retry_base_s=1.0, max_attempts=2))
    library = Library.open(config)
    try:
        post_id, _ = storage.record_post(
            library.db,
            feed_id=None,
            source="rss",
            external_id="broken",
            post_url="https://example.org/broken",
            author=None,
            published=None,
            text=None,
            forwarded_from=None,
            media=[{"url": feed_server.url("/500"), "kind": "video"}],
        )
        [item] = storage.media_of_post(library.db, post_id)
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            await defer_media(app, [item.id])
            await work(library, config, app, concurrency=1, wait=False)
            tried = storage.get_post_media(library.db, item.id)
            assert (tried.state, tried.attempts) == ("new", 1)  # a server error: again later
            assert count(library, UNFINISHED_JOBS) == 1  # queued for its retry time, not now
            for _ in range(20):  # its retry time comes after 1 s; a loaded machine is slower
                await asyncio.sleep(0.5)
                await work(library, config, app, concurrency=1, wait=False)
                if storage.get_post_media(library.db, item.id).state == "failed":
                    break
        given_up = storage.get_post_media(library.db, item.id)
        assert (given_up.state, given_up.attempts) == ("failed", 2)
        assert "500" in given_up.error
        assert count(library, UNFINISHED_JOBS) == 0
        assert sum(1 for r in feed_server.requests if r.path == "/500") == 2
    finally:
        library.close()
