"""Running the watchers: one pass (`oldclip watch --once`) or for ever (`oldclip watch`).

Feeds declared in the config are merged into the database first, so `feeds list` shows them and
their health like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import storage
from watchers.schedule import PollSchedule

from .config import Config
from .feeds import sync_config_feeds
from .http import http_session
from .library import Library
from .pipeline import PassReport, Pipeline, Tell, silent
from .workers import MediaWorkers, media_workers

log = logging.getLogger(__name__)

RESCHEDULE_S = 5.0  # how often feeds added or removed by others are taken into account


async def run_once(
    library: Library,
    config: Config,
    workers: MediaWorkers | None = None,
    tell: Tell = silent,
) -> PassReport:
    """Poll every feed once, then process everything that was queued.

    Without ``workers``, decoding workers are started for this pass and stopped after it.
    ``tell`` hears of each repost found and each medium that failed, as it happens.
    """
    if workers is None:
        async with media_workers(config) as own:
            return await run_once(library, config, own, tell)
    sync_config_feeds(library, config)
    async with http_session(config) as session:
        pipeline = Pipeline(library, config, session, workers, tell)
        feeds = storage.list_feeds(library.db)
        outcomes = await asyncio.gather(*(pipeline.poll_feed(f.id) for f in feeds))
        report = await pipeline.work_queue()
    report.polled = len(feeds)
    report.failed_polls = sum(1 for new in outcomes if new is None)
    report.new_posts = sum(new for new in outcomes if new)
    report.skipped_items = pipeline.skipped_items
    return report


def say_if_no_feeds(library: Library) -> None:
    """Watching nothing is allowed (feeds added meanwhile are picked up), but never silent."""
    if not storage.list_feeds(library.db) and not library.config.feeds:
        print(
            f"oldclip: no feeds to watch in {library.config.database_label}: add one with "
            "`oldclip feeds add KIND TARGET` (or [[feeds]] in the config file)",
            file=sys.stderr,
        )


async def run_forever(
    library: Library,
    config: Config,
    stop: asyncio.Event,
    workers: MediaWorkers | None = None,
    tell: Tell = silent,
) -> None:
    """Poll on schedule and work the queue until ``stop`` is set.

    Without ``workers`` (`oldclip watch`), decoding workers are started here, and stopped as
    soon as ``stop`` is set: a long decode in progress is abandoned, and resumed at the next
    start, rather than waited for.  ``tell`` is as for :func:`run_once`.
    """
    if workers is None:
        async with media_workers(config, stop) as own:
            return await run_forever(library, config, stop, own, tell)
    sync_config_feeds(library, config)
    async with http_session(config) as session:
        pipeline = Pipeline(library, config, session, workers, tell)
        wake = asyncio.Event()

        async def poll(feed_id: int) -> bool:
            new = await pipeline.poll_feed(feed_id)
            if new:
                wake.set()
            return new is not None

        schedule = PollSchedule(
            poll, jitter=config.watch.jitter, max_backoff_s=config.watch.max_backoff_s
        )
        schedule.start()
        queue = asyncio.create_task(pipeline.run_queue(stop, wake))
        queue_ended = _done(queue)
        try:
            while not stop.is_set() and not queue.done():
                _reschedule(library, schedule, config)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, queue_ended), RESCHEDULE_S)
            if queue.done():
                queue.result()  # the queue ended without a stop: its error surfaces here
        finally:
            schedule.shutdown()
            queue.cancel()
            await asyncio.gather(queue, return_exceptions=True)


def _reschedule(library: Library, schedule: PollSchedule, config: Config) -> None:
    """Follow feeds added or removed (by the CLI or the bot) while running."""
    feeds = {f.id: f for f in storage.list_feeds(library.db)}
    for feed_id in schedule.feeds() - feeds.keys():
        schedule.remove_feed(feed_id)
    for feed_id in feeds.keys() - schedule.feeds():
        schedule.set_feed(feed_id, feeds[feed_id].interval_s)


def _done(task: asyncio.Task) -> asyncio.Event:
    """An event set when ``task`` ends."""
    ended = asyncio.Event()
    task.add_done_callback(lambda _: ended.set())
    return ended


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
