"""`oldclip scheduler`: queues the polls of feeds when they are due, and media left due.

Feeds keep the schedule `oldclip run` gives them (``interval_s``, doubled after each failure up
to ``[watch] max_backoff_s``), read from the database at every tick, so feeds added by the CLI
or the bot are picked up.  Media whose job was lost (a crash between recording a post and
queueing its media) or whose retry time has come are queued again.  Two schedulers may run:
procrastinate's queueing lock keeps one waiting job per feed and per item, whoever queued it.

Why a rescan and not a media job queued in the transaction that records the post (the outbox
pattern issue 14 mentions): procrastinate defers through its own connector, another connection
and so another transaction; doing it on ours would mean calling its private SQL function
(``procrastinate_defer_jobs_v1`` and its composite type, which its schema migrations may
replace) from storage/, which must not know the queue and also runs on SQLite; and a queueing
lock already taken (a unique violation) would abort the post's own transaction.  The rescan
instead covers every way a job can go missing (a kill -9 between commit and defer, a job
deleted or out of retries), at the cost of ``LEFT_AFTER_S`` of delay for those media only
(tests/test_queue_orphans.py kills a poll right after it recorded its post).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import procrastinate

import storage
from storage.txn import to_datetime
from watchers.schedule import next_poll_in_s

from .config import Config
from .feeds import sync_config_feeds
from .jobs import defer_media, defer_poll, ensure_schema, make_app
from .library import Library
from .pipeline import QUEUE_SCAN
from .runner import run_until_signalled
from .worker import require_postgres

log = logging.getLogger(__name__)

TICK_S = 5.0
LEFT_AFTER_S = 120.0  # an active item untouched this long has no job working on it


def feed_due(feed: storage.Feed, now: datetime, max_backoff_s: float) -> bool:
    """Whether the feed's next poll has come (never polled: at once)."""
    if feed.last_polled_at is None:
        return True
    wait = next_poll_in_s(feed.interval_s, feed.consecutive_failures, max_backoff_s)
    return to_datetime(feed.last_polled_at) + timedelta(seconds=wait) <= now


async def schedule_once(
    app: procrastinate.App, library: Library, config: Config
) -> tuple[int, int]:
    """Queue what is due now; returns (polls, media items) queued."""
    db, now = library.db, datetime.now(UTC)
    polls = 0
    for feed in storage.list_feeds(db):
        if feed_due(feed, now, config.watch.max_backoff_s):
            polls += await defer_poll(app, feed.id)
    left = now - timedelta(seconds=LEFT_AFTER_S)
    items = [
        item.id
        for item in storage.due_media(db, limit=QUEUE_SCAN)
        if to_datetime(item.updated_at) <= left
    ]
    return polls, await defer_media(app, items)


async def tick(app: procrastinate.App, library: Library, config: Config) -> None:
    """One ``schedule_once``, logged; the database's trouble (server restarted) is one line and
    the next tick tries again on a new connection: nothing is lost, the due work stays due."""
    try:
        polls, media = await schedule_once(app, library, config)
    except storage.DatabaseUnavailable as exc:
        log.warning("%s (tried again in a moment)", exc)
        return
    if polls or media:
        log.info("queued: polls %d, media items %d", polls, media)


def run_scheduler(library: Library, config: Config, *, every_s: float = TICK_S) -> int:
    """Queue due work every ``every_s`` seconds until SIGINT/SIGTERM."""
    url = require_postgres(config, "scheduler")
    ensure_schema(library.db)
    sync_config_feeds(library, config)

    async def schedule(library: Library, config: Config, stop: asyncio.Event) -> None:
        app = make_app(url)
        async with app.open_async():
            while not stop.is_set():
                await tick(app, library, config)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)

    return run_until_signalled(schedule, library)
