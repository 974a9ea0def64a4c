"""The monitoring pipeline: post → media → fingerprint → match → alert or archive.

Every step is recorded in SQLite before the next starts (``storage.pipeline``), and every
state change is compare-and-set, so a crash or restart anywhere resumes where it stopped,
processes nothing twice and alerts nothing twice.  A failure is recorded on its item (error,
attempts, next retry) and never holds up the others.

Fingerprinting is CPU work on untrusted files: it runs in isolated worker processes
(``oldclip.workers``), a bounded number at a time, so the event loop keeps polling while videos
are decoded and nothing a file does can stop the service.

Storage steps go through ``_db`` and steps on the in-memory index through ``_index``: on a
worker's PostgreSQL (``storage.threads``) they run in storage threads, so a statement waiting
for a lock holds up its own item only; the index steps also hold the library's lock, so the
index is never changed by two threads at once.  On SQLite both run right here, on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

import storage
from fingerprint import MediaError, sha256_file
from storage.bundle.importer import ImportReport, import_bundle
from storage.bundle.spec import BundleError
from storage.threads import run_step
from storage.urls import shown
from watchers import bundle
from watchers.errors import FeedError
from watchers.http import FetchError, fetch
from watchers.poll import FeedState, PollResult, poll
from watchers.post import Post, Provenance

from .config import Config
from .downloads import Downloads
from .library import ClipMatch, Library, parse_time
from .pageimport import record_provenance
from .workers import MediaWorkers, WorkersStopped

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_IN_FLIGHT = 64  # media items in hand at once (downloading, waiting for a worker, matching)
QUEUE_SCAN = 2000  # due items looked at for one whose host has a free download slot
QUEUE_LOOK_S = 1.0  # `watch --once`: how often due items are looked for while others run
QUEUE_PAUSE_S = 5.0  # `watch`: the same, between polls that queued nothing

# Told a line for a person as something happens (`oldclip watch` prints them): problem=True
# for a medium that failed, False for a repost found.
Tell = Callable[..., None]


def silent(line: str, *, problem: bool = False) -> None:
    """The default :data:`Tell`: the service (`oldclip run`) logs instead."""


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
        self.tell = tell
        self.config = config
        self.session = session
        self.watch = config.watch
        self.workers = workers
        # The workers may be shared with the bot: the queue takes only its share of them.
        self._slots = asyncio.Semaphore(max(1, self.watch.fingerprint_workers))
        config.media_dir.mkdir(parents=True, exist_ok=True)
        self.downloads = Downloads(
            session,
            config.media_dir,
            max_bytes=self.watch.max_media_mb * 1024 * 1024,
            timeout_s=self.watch.download_timeout_s,
            max_downloads=self.watch.max_downloads,
            per_host=self.watch.downloads_per_host,
        )
        self._inflight: dict[int, asyncio.Task[str]] = {}
        self.skipped_items = 0  # items refused at the door since this pipeline started

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A storage step: in a storage thread when the database has them, else here."""
        return await run_step(self.library.db, fn, *args, **kwargs)

    async def _index(self, fn: Callable[..., T], *args: Any) -> T:
        """A step on the library's in-memory index: a storage step under the library's lock."""
        return await self._db(self.library.locked, fn, *args)

    # --- polling ------------------------------------------------------------------------------

    async def poll_feed(self, feed_id: int) -> int | None:
        """Poll one feed, queue its new posts and record its health.

        Returns how many new posts were queued, or None when the poll failed.
        """
        feed = await self._db(storage.get_feed, self.library.db, feed_id)
        if feed is None:
            return 0  # removed since it was scheduled
        if feed.kind == bundle.KIND:
            return await self._pull_bundle(feed)
        try:
            return await self._poll(feed)
        except storage.DatabaseUnavailable:
            raise  # the server's trouble, not the feed's: the poll is tried again as it is
        except Exception as exc:  # a bug or an unforeseen answer: recorded, never a silent crash
            log.exception("poll of feed %s (%s)", feed.id, feed.url)
            why = f"the poll failed unexpectedly ({type(exc).__name__}: {exc})"
            await self._db(self._poll_failed, feed, why)
            return None

    async def _poll(self, feed: storage.Feed) -> int | None:
        state = FeedState(
            kind=feed.kind,
            url=feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            cursor=feed.cursor,
            include=tuple(feed.include),
            exclude=tuple(feed.exclude),
        )
        try:
            result = await poll(self.session, state, timeout_s=self.watch.feed_timeout_s)
        except (FetchError, FeedError) as exc:
            await self._db(self._poll_failed, feed, str(exc))
            return None
        return await self._db(self._record_poll, feed, result)

    def _record_poll(self, feed: storage.Feed, result: PollResult) -> int:
        """Store a poll's posts and the feed's new state; how many posts were new."""
        new = 0
        for post in result.posts:
            try:
                new += self._record(feed, post)
            except ValueError as exc:  # refused at the door (its link): the others go on
                self._skipped(feed, post.external_id or post.post_url, str(exc))
        if result.url:
            storage.set_feed_url(self.library.db, feed.id, result.url)
        self._polled(feed, result.etag, result.last_modified, result.cursor)
        return new

    def _record(self, feed: storage.Feed, post: Post) -> bool:
        """Store one post and its media; whether it was new."""
        post_id, created = storage.record_post(
            self.library.db,
            feed_id=feed.id,
            source=post.source,
            external_id=post.external_id,
            post_url=post.post_url,
            author=post.author,
            published=post.published.isoformat() if post.published else None,
            text=post.text,
            forwarded_from=post.forwarded_from,
            provenance=post.provenance.as_dict() if post.provenance else None,
            published_from=post.published_from,
            media=[
                {
                    "url": m.url,
                    "kind": m.kind,
                    "mime": m.mime,
                    "too_big": m.too_big,
                    "thumbnail_url": m.thumbnail_url,
                }
                for m in post.media
            ],
        )
        for item in storage.media_of_post(self.library.db, post_id) if created else ():
            if item.state == "failed":  # refused at the door: not a web link, too big
                log.warning("feed %s (%s): %s", feed.id, feed.url, item.error)
        return created

    def _skipped(self, feed: storage.Feed, item: str, reason: str) -> None:
        """An item of the feed that cannot be taken: recorded on the feed once, with why."""
        if storage.record_skipped_item(self.library.db, feed.id, shown(item), reason):
            self.skipped_items += 1
            log.warning("feed %s (%s): skipped an item: %s", feed.id, feed.url, reason)

    def _polled(self, feed: storage.Feed, etag, last_modified, cursor=None) -> None:
        db = self.library.db
        if storage.record_poll_success(
            db, feed.id, etag=etag, last_modified=last_modified, cursor=cursor
        ):
            storage.add_alert(db, "feed_up", _feed_alert(feed, None))

    def _poll_failed(self, feed: storage.Feed, error: str) -> None:
        db = self.library.db
        if storage.record_poll_failure(db, feed.id, error, down_after=self.watch.down_after):
            storage.add_alert(db, "feed_down", _feed_alert(feed, error))
        log.warning("feed %s (%s): %s", feed.id, feed.url, error)

    async def _pull_bundle(self, feed: storage.Feed) -> int | None:
        """Download another newsroom's bundle (if it changed) and merge it into the library.

        The import runs in a thread on its own connection: a large bundle takes seconds, and
        the bot and the watchers keep going meanwhile.  Returns the clips it added.
        """
        with tempfile.NamedTemporaryFile(dir=self.config.media_dir, suffix=".bundle") as sink:
            try:
                result = await fetch(
                    self.session,
                    feed.url,
                    max_bytes=self.watch.bundle_max_mb * 1024 * 1024,
                    timeout_s=self.watch.bundle_timeout_s,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    sink=sink,
                )
                if not result.not_modified:
                    sink.flush()
                    report = await asyncio.to_thread(
                        _import_bundle, self.config.database, Path(sink.name)
                    )
                    log.info("feed %s (%s): %s", feed.id, feed.url, report.summary())
            except (FetchError, BundleError) as exc:
                await self._db(self._poll_failed, feed, str(exc))
                return None
        await self._db(self._polled, feed, result.etag, result.last_modified)
        return 0 if result.not_modified else report.new

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
            self._inflight[item.id] = asyncio.create_task(self._advance(item, reserved))

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

    async def process(self, post_media_id: int) -> str | None:
        """Take one stored media item as far as it goes now: a job of `oldclip worker`.

        Returns how it ended (as the queue of `oldclip run` counts it), or None when the item
        is gone or already final.  A job run twice (a killed worker's job retried) therefore
        finds the work done, or resumes it from the stored state: every step is
        compare-and-set.
        """
        item = await self._db(storage.get_post_media, self.library.db, post_media_id)
        if item is None or item.state not in storage.ACTIVE_STATES:
            return None
        return await self._advance(item)

    async def _advance(self, item: storage.PostMedia, reserved: bool = False) -> str:
        """Move one media item through its remaining states; return how it ended."""
        try:
            if item.state == "new":
                url = item.url
                try:
                    item = await self._download(item)
                finally:
                    if reserved:
                        self.downloads.release(url)  # the host's slot, not the whole item's
            if item.state == "fetched":
                item = await self._fingerprint(item)
            if item.state in ("fingerprinted", "matched"):
                return await self._decide(item)
        except WorkersStopped:
            return "later"  # shutting down: not the file's fault, it is resumed at the next start
        except (FetchError, MediaError, OSError) as exc:
            return await self._failed(item, exc)
        except storage.DatabaseUnavailable:
            raise  # the server's trouble, not the file's: no failure to record against it
        except Exception as exc:  # an unforeseen bug must cost one item, not the service
            log.exception("media %s of %s", item.url, item.post_url)
            return await self._failed(item, exc)
        return "later"

    async def _download(self, item: storage.PostMedia) -> storage.PostMedia:
        folder = self.config.media_dir / f"{item.post_id % 1000:03d}"
        path = await self.downloads.download(item.url, folder, str(item.id))
        return await self._db(self._moved, item, "fetched", "new", file_path=str(path))

    def _moved(
        self, item: storage.PostMedia, state: str, expect: str, **fields: Any
    ) -> storage.PostMedia:
        """The item moved on to ``state`` (compare-and-set), as it is stored now."""
        storage.advance(self.library.db, item.id, state, expect=expect, **fields)
        return storage.get_post_media(self.library.db, item.id)

    async def _fingerprint(self, item: storage.PostMedia) -> storage.PostMedia:
        db = self.library.db
        path = Path(item.file_path or "")
        sha256 = await asyncio.to_thread(sha256_file, path)
        known = await self._db(storage.media_by_sha256, db, sha256)
        fp = None
        if known is None:  # seen before: the same file is not fingerprinted again
            async with self._slots:
                fp = await self.workers.fingerprint(path)
        media_id = await self._db(self._sighted, item, known.id if known else None, fp, path)
        # Sighted now: searchable, even if someone sent it.
        await self._index(self.library.index_media, media_id, fp)
        return await self._db(self._moved, item, "fingerprinted", "fetched", media_id=media_id)

    def _sighted(self, item: storage.PostMedia, media_id, fp, path: Path) -> int:
        """Store the item's media (``fp``, when not already known as ``media_id``) and its
        sighting; returns the media id."""
        db = self.library.db
        if media_id is None:
            media_id, _ = storage.add_media(db, fp)
            storage.set_media_path(db, media_id, str(path))  # the archived download
        storage.add_sighting(
            db,
            media_id,
            url=item.url,
            source=item.source,
            seen_at=item.published or item.first_seen_at,
            post_url=item.post_url,
        )
        return media_id

    async def _decide(self, item: storage.PostMedia) -> str:
        """Repost of a clip or an older sighting → alert; otherwise archive.

        Media of a fact-check (a post with provenance) are library material, not reposts:
        they become a clip, or a source of the clip they show, and alert nobody.
        """
        if item.provenance is not None:
            return await self._index(self._to_library, item)
        best = await self._index(self._earlier, item)
        outcome = await self._db(self._record_decision, item, best)
        if best is not None:
            self._tell_repost(item, best)
        return outcome

    def _record_decision(
        self, item: storage.PostMedia, best: tuple[ClipMatch, str, str] | None
    ) -> str:
        """Archive the item, or record it as a repost of ``best`` and alert it."""
        db = self.library.db
        if item.state == "fingerprinted":
            storage.advance(db, item.id, "matched", expect="fingerprinted")
        if best is None:
            storage.archive(db, item.id)
            return "archived"
        found, first_seen, first_source = best
        m = found.match
        storage.record_repost_and_alert(
            db,
            item.id,
            {
                "matched_media_id": m.media_id,
                "clip_id": found.clip.id if found.clip else None,
                "score": m.score,
                "query_start": m.query_start,
                "query_end": m.query_end,
                "ref_start": m.ref_start,
                "ref_end": m.ref_end,
                "frames_matched": m.frames_matched,
                "first_seen": first_seen,
                "first_source": first_source,
                "agreement": found.agreement,
            },
            window_s=self.watch.group_window_s,
        )
        return "repost"

    def _tell_repost(self, item: storage.PostMedia, best: tuple[ClipMatch, str, str]) -> None:
        found, first_seen, first_source = best
        m, clip = found.match, found.clip
        what = (
            f"clip {clip.id} ({clip.title}), first published {first_seen}"
            if clip is not None
            else f"footage first seen {first_seen} at {first_source}"
        )
        line = f"repost found: {item.post_url or item.url} reuses {what} (score {m.score:.2f})"
        log.info("%s", line)
        self.tell(line)

    def _to_library(self, item: storage.PostMedia) -> str:
        fp = self.library.load(item.media_id)
        if fp is not None:
            record_provenance(
                self.library,
                item.media_id,
                fp,
                Provenance.from_dict(item.provenance),
                via=f"feed {item.feed_label or item.feed_id}",
            )
        if item.state == "fingerprinted":
            storage.advance(self.library.db, item.id, "matched", expect="fingerprinted")
        storage.archive(self.library.db, item.id)
        return "library"

    def _earlier(self, item: storage.PostMedia) -> tuple[ClipMatch, str, str] | None:
        """The best match that makes this post's footage old (``ClipMatch.evidence``)."""
        fp = self.library.load(item.media_id)
        if fp is None:
            return None
        seen_at = parse_time(item.published or item.first_seen_at)
        for found in self.library.match(fp):
            evidence = found.evidence(
                seen_at, self.watch.sighting_min_age_h, other_than=item.post_url
            )
            if evidence is not None:
                return found, *evidence
        return None

    async def _failed(self, item: storage.PostMedia, exc: Exception) -> str:
        permanent = isinstance(exc, MediaError) or (isinstance(exc, FetchError) and exc.permanent)
        if not isinstance(exc, (FetchError, MediaError, OSError)):
            permanent = item.attempts + 1 >= 2  # an unexpected error: one more try, then give up
        retry = None if permanent else self.watch.retry_base_s * 2**item.attempts
        await self._db(
            storage.fail,
            self.library.db,
            item.id,
            str(exc),
            retry_in_s=retry,
            max_attempts=self.watch.max_attempts,
        )
        log.info("media %s of %s: %s", item.url, item.post_url, exc)
        where = f"{item.url} (from {item.post_url})" if item.post_url else item.url
        retried = retry is not None and item.attempts + 1 < self.watch.max_attempts
        again = "; it will be tried again" if retried else ""
        self.tell(f"media failed: {where}: {exc}{again}", problem=True)
        return "failed"


def _import_bundle(database: Path, path: Path) -> ImportReport:
    db = storage.open_db(database)
    try:
        return import_bundle(db, path, in_batches=True)
    finally:
        db.close()


def _feed_alert(feed: storage.Feed, error: str | None) -> dict:
    return {
        "feed_id": feed.id,
        "kind": feed.kind,
        "target": feed.target,
        "label": feed.label,
        "error": error,
    }


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
