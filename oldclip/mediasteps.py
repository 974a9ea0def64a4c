"""The media steps: a queued media item downloaded, fingerprinted, matched, then alerted or
archived.

Every step is recorded before the next starts (``storage.pipeline``), and every state change
is compare-and-set, so a crash or restart anywhere resumes where it stopped, processes nothing
twice and alerts nothing twice.  A failure is recorded on its item (error, attempts, next
retry) and never holds up the others.

Fingerprinting is CPU work on untrusted files: it runs in isolated worker processes
(``oldclip.workers``), a bounded number at a time, so the event loop keeps polling while videos
are decoded and nothing a file does can stop the service.  Which items move, and when, is the
queue's business (``oldclip.pipeline``); `oldclip worker` runs one item a job (``process``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import storage
from fingerprint import MediaError, sha256_file
from watchers.http import FetchError
from watchers.post import Provenance

from .downloads import Downloads
from .library import ClipMatch, parse_time
from .pageimport import record_provenance
from .steps import Steps
from .workers import MediaWorkers, WorkersStopped

log = logging.getLogger(__name__)

# Told a line for a person as something happens (`oldclip watch` prints them): problem=True
# for a medium that failed, False for a repost found.
Tell = Callable[..., None]


def silent(line: str, *, problem: bool = False) -> None:
    """The default :data:`Tell`: the service (`oldclip run`) logs instead."""


class MediaSteps:
    """Takes media items through their steps, decoding in ``workers`` (at most ``slots`` at
    once: they may be shared with the bot) and downloading through ``downloads``."""

    def __init__(
        self,
        steps: Steps,
        workers: MediaWorkers,
        downloads: Downloads,
        tell: Tell = silent,
    ):
        self.steps = steps
        self.workers = workers
        self.downloads = downloads
        self.tell = tell
        self._slots = asyncio.Semaphore(max(1, steps.watch.fingerprint_workers))

    async def process(self, post_media_id: int) -> str | None:
        """Take one stored media item as far as it goes now: a job of `oldclip worker`.

        Returns how it ended (as the queue of `oldclip run` counts it), or None when the item
        is gone or already final.  A job run twice (a killed worker's job retried) therefore
        finds the work done, or resumes it from the stored state: every step is
        compare-and-set.
        """
        item = await self.steps.store(storage.get_post_media, self.steps.db, post_media_id)
        if item is None or item.state not in storage.ACTIVE_STATES:
            return None
        return await self.advance(item)

    async def advance(self, item: storage.PostMedia, reserved: bool = False) -> str:
        """Move one media item through its remaining states; return how it ended.

        ``reserved``: the queue reserved a download slot of the item's host for it, given back
        as soon as the download ends (not when the item does)."""
        try:
            if item.state == "new":
                url = item.url
                try:
                    item = await self.download(item)
                finally:
                    if reserved:
                        self.downloads.release(url)  # the host's slot, not the whole item's
            if item.state == "fetched":
                item = await self.fingerprint(item)
            if item.state in ("fingerprinted", "matched"):
                return await self.decide(item)
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

    async def download(self, item: storage.PostMedia) -> storage.PostMedia:
        folder = self.steps.config.media_dir / f"{item.post_id % 1000:03d}"
        path = await self.downloads.download(item.url, folder, str(item.id))
        return await self.steps.store(self._moved, item, "fetched", "new", file_path=str(path))

    def _moved(
        self, item: storage.PostMedia, state: str, expect: str, **fields: Any
    ) -> storage.PostMedia:
        """The item moved on to ``state`` (compare-and-set), as it is stored now."""
        storage.advance(self.steps.db, item.id, state, expect=expect, **fields)
        return storage.get_post_media(self.steps.db, item.id)

    async def fingerprint(self, item: storage.PostMedia) -> storage.PostMedia:
        db = self.steps.db
        path = Path(item.file_path or "")
        sha256 = await asyncio.to_thread(sha256_file, path)
        known = await self.steps.store(storage.media_by_sha256, db, sha256)
        fp = None
        if known is None:  # seen before: the same file is not fingerprinted again
            async with self._slots:
                fp = await self.workers.fingerprint(path)
        media_id = await self.steps.store(
            self._sighted, item, known.id if known else None, fp, path
        )
        # Sighted now: searchable, even if someone sent it.
        await self.steps.on_index(self.steps.library.index_media, media_id, fp)
        return await self.steps.store(
            self._moved, item, "fingerprinted", "fetched", media_id=media_id
        )

    def _sighted(self, item: storage.PostMedia, media_id, fp, path: Path) -> int:
        """Store the item's media (``fp``, when not already known as ``media_id``) and its
        sighting; returns the media id."""
        db = self.steps.db
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

    async def decide(self, item: storage.PostMedia) -> str:
        """Repost of a clip or an older sighting → alert; otherwise archive.

        Media of a fact-check (a post with provenance) are library material, not reposts:
        they become a clip, or a source of the clip they show, and alert nobody.
        """
        if item.provenance is not None:
            return await self.steps.on_index(self._to_library, item)
        best = await self.steps.on_index(self._earlier, item)
        outcome = await self.steps.store(self._record_decision, item, best)
        if best is not None:
            self._tell_repost(item, best)
        return outcome

    def _record_decision(
        self, item: storage.PostMedia, best: tuple[ClipMatch, str, str] | None
    ) -> str:
        """Archive the item, or record it as a repost of ``best`` and alert it."""
        db = self.steps.db
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
            window_s=self.steps.watch.group_window_s,
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
        fp = self.steps.library.load(item.media_id)
        if fp is not None:
            record_provenance(
                self.steps.library,
                item.media_id,
                fp,
                Provenance.from_dict(item.provenance),
                via=f"feed {item.feed_label or item.feed_id}",
            )
        if item.state == "fingerprinted":
            storage.advance(self.steps.db, item.id, "matched", expect="fingerprinted")
        storage.archive(self.steps.db, item.id)
        return "library"

    def _earlier(self, item: storage.PostMedia) -> tuple[ClipMatch, str, str] | None:
        """The best match that makes this post's footage old (``ClipMatch.evidence``)."""
        fp = self.steps.library.load(item.media_id)
        if fp is None:
            return None
        seen_at = parse_time(item.published or item.first_seen_at)
        for found in self.steps.library.match(fp):
            evidence = found.evidence(
                seen_at, self.steps.watch.sighting_min_age_h, other_than=item.post_url
            )
            if evidence is not None:
                return found, *evidence
        return None

    async def _failed(self, item: storage.PostMedia, exc: Exception) -> str:
        permanent = isinstance(exc, MediaError) or (isinstance(exc, FetchError) and exc.permanent)
        if not isinstance(exc, (FetchError, MediaError, OSError)):
            permanent = item.attempts + 1 >= 2  # an unexpected error: one more try, then give up
        retry = None if permanent else self.steps.watch.retry_base_s * 2**item.attempts
        await self.steps.store(
            storage.fail,
            self.steps.db,
            item.id,
            str(exc),
            retry_in_s=retry,
            max_attempts=self.steps.watch.max_attempts,
        )
        log.info("media %s of %s: %s", item.url, item.post_url, exc)
        where = f"{item.url} (from {item.post_url})" if item.post_url else item.url
        retried = retry is not None and item.attempts + 1 < self.steps.watch.max_attempts
        again = "; it will be tried again" if retried else ""
        self.tell(f"media failed: {where}: {exc}{again}", problem=True)
        return "failed"
