"""The monitoring pipeline: post → media → fingerprint → match → alert or archive.

Two jobs, composed here: polling feeds into the queue (``oldclip.feedpoll``) and taking each
queued media item through its steps (``oldclip.mediasteps``); they share only a ``Steps`` (the
library and the settings, ``oldclip.steps``).  What this module adds is the queue of
`oldclip run` and `oldclip watch`: which due items are in hand at once, within the in-flight
and per-host download limits, and what a pass over them did.  `oldclip worker` calls
``poll_feed`` and ``process`` one job at a time instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

import storage

from .config import Config
from .downloads import Downloads
from .feedpoll import FeedPoller
from .library import Library
from .mediasteps import MediaSteps, Tell, silent
from .steps import Steps
from .workers import MediaWorkers

__all__ = ["PassReport", "Pipeline", "Tell", "silent"]

MAX_IN_FLIGHT = 64  # media items in hand at once (downloading, waiting for a worker, matching)
QUEUE_SCAN = 2000  # due items looked at for one whose host has a free download slot
QUEUE_LOOK_S = 1.0  # `watch --once`: how often due items are looked for while others run
QUEUE_PAUSE_S = 5.0  # `watch`: the same, between polls that queued nothing


@dataclass
class PassReport:
    """What one pass over the feeds and the queue did, for `oldclip watch --once`."""

    polled: int = 0
    failed_polls: int = 0
    new_posts: int = 0
    processed: int = 0
    reposts: int = 0
    library: int = 0  # media of fact-checks recorded in the library
    failed_media: int = 0
    skipped_items: int = 0  # items of feeds refused at the door (a post link not http/https)


class Pipeline:
    """Polls feeds into the queue and works the queue, decoding in the given workers."""

    def __init__(
        self,
        library: Library,
        config: Config,
        session: aiohttp.ClientSession,
        workers: MediaWorkers,
        tell: Tell = silent,
    ):
        self.library = library
        self.config = config
        watch = config.watch
        config.media_dir.mkdir(parents=True, exist_ok=True)
        self.downloads = Downloads(
            session,
            config.media_dir,
            max_bytes=watch.max_media_mb * 1024 * 1024,
            timeout_s=watch.download_timeout_s,
            max_downloads=watch.max_downloads,
            per_host=watch.downloads_per_host,
        )
        steps = Steps(library, config)
        self.feeds = FeedPoller(steps, session)
        self.media = MediaSteps(steps, workers, self.downloads, tell)
        self._inflight: dict[int, asyncio.Task[str]] = {}

    @property
    def skipped_items(self) -> int:
        """Items of feeds refused at the door since this pipeline started."""
        return self.feeds.skipped_items

    async def poll_feed(self, feed_id: int) -> int | None:
        """Poll one feed (``FeedPoller.poll_feed``): new posts queued, or None if it failed."""
        return await self.feeds.poll_feed(feed_id)

    async def process(self, post_media_id: int) -> str | None:
        """One stored media item as far as it goes now (``MediaSteps.process``)."""
        return await self.media.process(post_media_id)

    # --- the queue ----------------------------------------------------------------------------

    async def work_queue(self) -> PassReport:
        """Take every due media item as far as it goes; returns what happened."""
        return await self.run_queue()

    async def run_queue(
        self, stop: asyncio.Event | None = None, wake: asyncio.Event | None = None
    ) -> PassReport:
        """Work the queue: without ``stop`` until nothing is due or in hand, else until ``stop``.

        Each item moves on its own: a slow download holds only its item (and a slot of its
        host), while the others are downloaded, fingerprinted and matched.  Due items are
        looked for whenever one finishes, ``wake`` is set (new posts) or a moment has passed.
        """
        report, later = PassReport(), set()
        pause = QUEUE_LOOK_S if stop is None else QUEUE_PAUSE_S
        try:
            while True:
                for item_id, outcome in self._reap():
                    report.processed += 1
                    report.reposts += outcome == "repost"
                    report.library += outcome == "library"
                    report.failed_media += outcome == "failed"
                    if outcome == "later":
                        later.add(item_id)  # not taken again in this pass
                if stop is not None and stop.is_set():
                    break
                self._start_due(skip=later if stop is None else set())
                if stop is None and not self._inflight:
                    break
                await _first_done(list(self._inflight.values()), (stop, wake), pause)
                if wake is not None:
                    wake.clear()
        except BaseException:  # cancelled, or a bug: the items in hand stop with it
            await self._cancel_inflight()
            raise
        await self._cancel_inflight()  # stopped: they resume from their stored state
        return report

    def _start_due(self, skip: set[int]) -> None:
        """Start due items not already in hand, within the in-flight and download limits."""
        for item in storage.due_media(self.library.db, limit=QUEUE_SCAN):
            if len(self._inflight) >= MAX_IN_FLIGHT:
                return
            if item.id in self._inflight or item.id in skip:
                continue
            reserved = item.state == "new"
            if reserved and not self.downloads.reserve(item.url):
                continue  # its host (or every download slot) is busy: it waits in the database
            self._inflight[item.id] = asyncio.create_task(self.media.advance(item, reserved))

    def _reap(self) -> list[tuple[int, str]]:
        """The items finished since the last look, with how each ended."""
        done = [(i, task) for i, task in self._inflight.items() if task.done()]
        for item_id, _ in done:
            del self._inflight[item_id]
        return [(i, task.result()) for i, task in done if not task.cancelled()]

    async def _cancel_inflight(self) -> None:
        """Stop the items in hand; they resume from their stored state next time."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()


async def _first_done(
    tasks: list[asyncio.Task], events: tuple[asyncio.Event | None, ...], timeout: float
) -> None:
    """Wait until one of ``tasks`` ends, one of ``events`` is set, or ``timeout`` passes."""
    waiters = [asyncio.create_task(e.wait()) for e in events if e is not None]
    try:
        await asyncio.wait([*tasks, *waiters], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
