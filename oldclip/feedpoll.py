"""Feed polling: a feed's new posts into the queue, its health recorded, bundles merged.

One of the pipeline's two jobs (``oldclip.pipeline``); the other, taking the queued media
through their steps, is ``oldclip.mediasteps``.  They share only a ``Steps`` (the library and
the settings): a poll stores posts and media rows, and never touches the indexes.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import aiohttp

import storage
from storage.bundle.importer import ImportReport, import_bundle
from storage.bundle.spec import BundleError
from storage.urls import shown
from watchers import bundle
from watchers.errors import FeedError
from watchers.http import FetchError, fetch
from watchers.poll import FeedState, PollResult, poll
from watchers.post import Post

from .steps import Steps

log = logging.getLogger(__name__)


class FeedPoller:
    """Polls feeds over ``session`` and records what they gave in the library's database."""

    def __init__(self, steps: Steps, session: aiohttp.ClientSession):
        self.steps = steps
        self.session = session
        self.skipped_items = 0  # items refused at the door since this poller started

    async def poll_feed(self, feed_id: int) -> int | None:
        """Poll one feed, queue its new posts and record its health.

        Returns how many new posts were queued, or None when the poll failed.
        """
        feed = await self.steps.store(storage.get_feed, self.steps.db, feed_id)
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
            await self.steps.store(self._poll_failed, feed, why)
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
            result = await poll(self.session, state, timeout_s=self.steps.watch.feed_timeout_s)
        except (FetchError, FeedError) as exc:
            await self.steps.store(self._poll_failed, feed, str(exc))
            return None
        return await self.steps.store(self._record_poll, feed, result)

    def _record_poll(self, feed: storage.Feed, result: PollResult) -> int:
        """Store a poll's posts and the feed's new state; how many posts were new."""
        new = 0
        for post in result.posts:
            try:
                new += self._record(feed, post)
            except ValueError as exc:  # refused at the door (its link): the others go on
                self._skipped(feed, post.external_id or post.post_url, str(exc))
        if result.url:
            storage.set_feed_url(self.steps.db, feed.id, result.url)
        self._polled(feed, result.etag, result.last_modified, result.cursor)
        return new

    def _record(self, feed: storage.Feed, post: Post) -> bool:
        """Store one post and its media; whether it was new."""
        post_id, created = storage.record_post(
            self.steps.db,
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
        for item in storage.media_of_post(self.steps.db, post_id) if created else ():
            if item.state == "failed":  # refused at the door: not a web link, too big
                log.warning("feed %s (%s): %s", feed.id, feed.url, item.error)
        return created

    def _skipped(self, feed: storage.Feed, item: str, reason: str) -> None:
        """An item of the feed that cannot be taken: recorded on the feed once, with why."""
        if storage.record_skipped_item(self.steps.db, feed.id, shown(item), reason):
            self.skipped_items += 1
            log.warning("feed %s (%s): skipped an item: %s", feed.id, feed.url, reason)

    def _polled(self, feed: storage.Feed, etag, last_modified, cursor=None) -> None:
        db = self.steps.db
        if storage.record_poll_success(
            db, feed.id, etag=etag, last_modified=last_modified, cursor=cursor
        ):
            storage.add_alert(db, "feed_up", _feed_alert(feed, None))

    def _poll_failed(self, feed: storage.Feed, error: str) -> None:
        db = self.steps.db
        if storage.record_poll_failure(db, feed.id, error, down_after=self.steps.watch.down_after):
            storage.add_alert(db, "feed_down", _feed_alert(feed, error))
        log.warning("feed %s (%s): %s", feed.id, feed.url, error)

    async def _pull_bundle(self, feed: storage.Feed) -> int | None:
        """Download another newsroom's bundle (if it changed) and merge it into the library.

        The import runs in a thread on its own connection: a large bundle takes seconds, and
        the bot and the watchers keep going meanwhile.  Returns the clips it added.
        """
        with tempfile.NamedTemporaryFile(dir=self.steps.config.media_dir, suffix=".bundle") as sink:
            try:
                result = await fetch(
                    self.session,
                    feed.url,
                    max_bytes=self.steps.watch.bundle_max_mb * 1024 * 1024,
                    timeout_s=self.steps.watch.bundle_timeout_s,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    sink=sink,
                )
                if not result.not_modified:
                    sink.flush()
                    report = await asyncio.to_thread(
                        _import_bundle, self.steps.config.database, Path(sink.name)
                    )
                    log.info("feed %s (%s): %s", feed.id, feed.url, report.summary())
            except (FetchError, BundleError) as exc:
                await self.steps.store(self._poll_failed, feed, str(exc))
                return None
        await self.steps.store(self._polled, feed, result.etag, result.last_modified)
        return 0 if result.not_modified else report.new


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
