"""The monitoring pipeline: post → media → fingerprint → match → alert or archive.

Every step is recorded in SQLite before the next starts (``storage.pipeline``), and every
state change is compare-and-set, so a crash or restart anywhere resumes where it stopped,
processes nothing twice and alerts nothing twice.  A failure is recorded on its item (error,
attempts, next retry) and never holds up the others.

Fingerprinting is CPU work: it runs in worker processes, a bounded number at a time, so the
event loop keeps polling while videos are decoded.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

import storage
from fingerprint import Fingerprint, MediaError, fingerprint_file, sha256_file
from storage.bundle import BundleError, ImportReport, import_bundle
from watchers import bundle
from watchers.errors import FeedError
from watchers.http import FetchError, fetch
from watchers.poll import FeedState, poll
from watchers.post import Provenance

from .config import Config
from .library import ClipMatch, Library
from .pageimport import record_provenance

log = logging.getLogger(__name__)

MEDIA_TYPES = ("video/", "image/", "application/octet-stream", "binary/octet-stream")


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


class Pipeline:
    """Polls feeds into the queue and works the queue; owns the HTTP session and the workers."""

    def __init__(self, library: Library, config: Config, session: aiohttp.ClientSession):
        self.library = library
        self.config = config
        self.session = session
        self.watch = config.watch
        self._workers = self._new_workers()
        self._slots = asyncio.Semaphore(max(1, self.watch.fingerprint_workers))
        config.media_dir.mkdir(parents=True, exist_ok=True)

    def _new_workers(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=max(1, self.watch.fingerprint_workers))

    def close(self) -> None:
        # Not waiting: a decode in progress may take minutes, and shutdown must not.
        self._workers.shutdown(wait=False, cancel_futures=True)

    # --- polling ------------------------------------------------------------------------------

    async def poll_feed(self, feed_id: int) -> int | None:
        """Poll one feed, queue its new posts and record its health.

        Returns how many new posts were queued, or None when the poll failed.
        """
        db = self.library.db
        feed = storage.get_feed(db, feed_id)
        if feed is None:
            return 0  # removed since it was scheduled
        if feed.kind == bundle.KIND:
            return await self._pull_bundle(feed)
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
            self._poll_failed(feed, str(exc))
            return None
        new = 0
        for post in result.posts:
            _, created = storage.record_post(
                db,
                feed_id=feed_id,
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
            new += created
        if result.url:
            storage.set_feed_url(db, feed_id, result.url)
        self._polled(feed, result.etag, result.last_modified, result.cursor)
        return new

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
                self._poll_failed(feed, str(exc))
                return None
        self._polled(feed, result.etag, result.last_modified)
        return 0 if result.not_modified else report.new

    # --- the queue ----------------------------------------------------------------------------

    async def work_queue(self) -> PassReport:
        """Take every due media item as far as it goes; returns what happened."""
        report = PassReport()
        while True:
            due = storage.due_media(self.library.db, limit=50)
            if not due:
                return report
            results = await asyncio.gather(*(self._advance(item) for item in due))
            for outcome in results:
                report.processed += 1
                report.reposts += outcome == "repost"
                report.library += outcome == "library"
                report.failed_media += outcome == "failed"
            if all(outcome == "later" for outcome in results):
                return report

    async def _advance(self, item: storage.PostMedia) -> str:
        """Move one media item through its remaining states; return how it ended."""
        try:
            if item.state == "new":
                item = await self._download(item)
            if item.state == "fetched":
                item = await self._fingerprint(item)
            if item.state in ("fingerprinted", "matched"):
                return self._decide(item)
        except (FetchError, MediaError, OSError) as exc:
            return self._failed(item, exc)
        except BrokenProcessPool as exc:  # a worker died (out of memory, FFmpeg crash)
            self._workers = self._new_workers()
            return self._failed(item, exc)
        except Exception as exc:  # an unforeseen bug must cost one item, not the service
            log.exception("media %s of %s", item.url, item.post_url)
            return self._failed(item, exc)
        return "later"

    async def _download(self, item: storage.PostMedia) -> storage.PostMedia:
        result = await fetch(
            self.session,
            item.url,
            max_bytes=self.watch.max_media_mb * 1024 * 1024,
            timeout_s=self.watch.download_timeout_s,
        )
        content_type = result.content_type or ""
        if not content_type.startswith(MEDIA_TYPES):
            # Final: the link is a web page (or worse), asking again gives the same page.
            raise MediaError(
                item.url,
                f"the server sent {content_type or 'no content type'}, not a video or photo; "
                "the link probably points to a web page",
            )
        path = self._archive_path(item, content_type)
        path.write_bytes(result.body)
        storage.advance(self.library.db, item.id, "fetched", expect="new", file_path=str(path))
        return storage.get_post_media(self.library.db, item.id)

    def _archive_path(self, item: storage.PostMedia, content_type: str) -> Path:
        suffix = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
        folder = self.config.media_dir / f"{item.post_id % 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{item.id}{suffix}"

    async def _fingerprint(self, item: storage.PostMedia) -> storage.PostMedia:
        db = self.library.db
        path = Path(item.file_path or "")
        known = storage.media_by_sha256(db, await asyncio.to_thread(sha256_file, path))
        if known is not None:
            media_id = known.id  # seen before: the same file is not fingerprinted again
        else:
            async with self._slots:
                loop = asyncio.get_running_loop()
                fp: Fingerprint = await loop.run_in_executor(
                    self._workers, fingerprint_file, path, self.config.limits
                )
            media_id = self.library.add_fingerprint(fp)
            storage.set_media_path(db, media_id, str(path))  # the archived download
        storage.add_sighting(
            db,
            media_id,
            url=item.url,
            source=item.source,
            seen_at=item.published or item.first_seen_at,
            post_url=item.post_url,
        )
        self.library.index_media(media_id)  # sighted now: searchable, even if someone sent it
        storage.advance(db, item.id, "fingerprinted", expect="fetched", media_id=media_id)
        return storage.get_post_media(db, item.id)

    def _decide(self, item: storage.PostMedia) -> str:
        """Repost of a clip or an older sighting → alert; otherwise archive.

        Media of a fact-check (a post with provenance) are library material, not reposts:
        they become a clip, or a source of the clip they show, and alert nobody.
        """
        db = self.library.db
        if item.provenance is not None:
            return self._to_library(item)
        best = self._earlier(item)
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
            },
            window_s=self.watch.group_window_s,
        )
        return "repost"

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
        """The best match that is older than this post: a clip, or a sighting old enough."""
        fp = self.library.load(item.media_id)
        if fp is None:
            return None
        seen_at = _parse_time(item.published or item.first_seen_at)
        for found in self.library.match(fp):
            if found.clip is not None:
                return found, found.clip.first_seen, found.clip.source
            earlier = [
                s
                for s in found.sightings
                if s.post_url != item.post_url
                and _parse_time(s.seen_at)
                <= seen_at - timedelta(hours=self.watch.sighting_min_age_h)
            ]
            if earlier:
                first = min(earlier, key=lambda s: s.seen_at)
                return found, first.seen_at, first.post_url or first.url
        return None

    def _failed(self, item: storage.PostMedia, exc: Exception) -> str:
        permanent = isinstance(exc, MediaError) or (isinstance(exc, FetchError) and exc.permanent)
        if not isinstance(exc, (FetchError, MediaError, OSError)):
            permanent = item.attempts + 1 >= 2  # an unexpected error: one more try, then give up
        retry = None if permanent else self.watch.retry_base_s * 2**item.attempts
        storage.fail(
            self.library.db,
            item.id,
            str(exc),
            retry_in_s=retry,
            max_attempts=self.watch.max_attempts,
        )
        log.info("media %s of %s: %s", item.url, item.post_url, exc)
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


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
