"""Running the watchers: one pass (`oldclip watch --once`) or for ever (`oldclip watch`).

Feeds declared in the config are merged into the database first, so `feeds list` shows them and
their health like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import storage
from watchers.http import make_session
from watchers.registry import KINDS
from watchers.schedule import PollSchedule

from .config import Config
from .library import Library
from .pipeline import PassReport, Pipeline
from .workers import MediaWorkers, media_workers

log = logging.getLogger(__name__)

QUEUE_PAUSE_S = 5.0  # how often the queue is looked at between polls


def add_feed(library: Library, kind: str, target: str, **options) -> tuple[int, bool]:
    """Register a feed by kind and target (a URL, or a channel name, handle or hashtag)."""
    if kind not in KINDS:
        raise ValueError(f"unknown feed kind {kind!r}: use one of {', '.join(sorted(KINDS))}")
    url = KINDS[kind].feed_url(target)
    return storage.add_feed(library.db, kind=kind, target=target, url=url, **options)


def sync_config_feeds(library: Library, config: Config) -> None:
    for spec in config.feeds:
        add_feed(
            library,
            spec.kind,
            spec.target,
            interval_s=spec.every_s or config.watch.poll_interval_s,
            label=spec.label,
            language=spec.language,
            include=spec.include,
            exclude=spec.exclude,
            source="config",
        )


def _session(config: Config):
    return make_session(
        allow_private_addresses=config.network.allow_private_addresses,
        per_host_limit=config.network.per_host_limit,
        allowed_networks=config.network.allowed_networks,
    )


async def run_once(
    library: Library, config: Config, workers: MediaWorkers | None = None
) -> PassReport:
    """Poll every feed once, then process everything that was queued.

    Without ``workers``, decoding workers are started for this pass and stopped after it.
    """
    if workers is None:
        async with media_workers(config) as own:
            return await run_once(library, config, own)
    sync_config_feeds(library, config)
    async with _session(config) as session:
        pipeline = Pipeline(library, config, session, workers)
        feeds = storage.list_feeds(library.db)
        outcomes = await asyncio.gather(*(pipeline.poll_feed(f.id) for f in feeds))
        report = await pipeline.work_queue()
    report.polled = len(feeds)
    report.failed_polls = sum(1 for new in outcomes if new is None)
    report.new_posts = sum(new for new in outcomes if new)
    return report


async def run_forever(
    library: Library, config: Config, stop: asyncio.Event, workers: MediaWorkers | None = None
) -> None:
    """Poll on schedule and work the queue until ``stop`` is set.

    Without ``workers`` (`oldclip watch`), decoding workers are started here, and stopped as
    soon as ``stop`` is set: a long decode in progress is abandoned, and resumed at the next
    start, rather than waited for.
    """
    if workers is None:
        async with media_workers(config, stop) as own:
            return await run_forever(library, config, stop, own)
    sync_config_feeds(library, config)
    async with _session(config) as session:
        pipeline = Pipeline(library, config, session, workers)
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
        try:
            while not stop.is_set():
                _reschedule(library, schedule, config)
                await pipeline.work_queue()
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, wake), QUEUE_PAUSE_S)
        finally:
            schedule.shutdown()


def _reschedule(library: Library, schedule: PollSchedule, config: Config) -> None:
    """Follow feeds added or removed (by the CLI or the bot) while running."""
    feeds = {f.id: f for f in storage.list_feeds(library.db)}
    for feed_id in schedule.feeds() - feeds.keys():
        schedule.remove_feed(feed_id)
    for feed_id in feeds.keys() - schedule.feeds():
        schedule.set_feed(feed_id, feeds[feed_id].interval_s)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
