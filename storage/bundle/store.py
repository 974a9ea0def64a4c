"""Writing validated clip lines into the library, merging as storage.add_clip merges."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from fingerprint.types import ALGORITHM

from ..engine import Database
from ..library import NEXT_CLIP_ID, add_clip, add_clip_source
from ..signals import insert_signals
from .validate import ClipLine


class Store:
    """Writes validated clips: new media with plain inserts, known media through add_clip."""

    def __init__(self, db: Database, via: str):
        self.db, self.via = db, via
        self.now = datetime.now(UTC).isoformat(timespec="seconds")
        self.new = self.merged = self.unchanged = self.unsafe_links = 0
        self.bytes = 0

    def add(self, c: ClipLine) -> None:
        self.bytes += len(c.hashes)
        self.unsafe_links += c.unsafe_links
        # New media (the usual case) in one statement; known media return no row.
        row = self.db.execute(
            "INSERT INTO media (sha256, kind, duration, width, height, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id",
            [c.sha256, c.kind, c.duration, c.width, c.height, c.size, self.now],
        ).fetchone()
        if row is not None:
            self._insert(row[0], c)
            self.new += 1
            return
        (media_id,) = self.db.execute(
            "SELECT id FROM media WHERE sha256 = ?", [c.sha256]
        ).fetchone()
        insert_signals(self.db, media_id, c.signals)  # where the library has none of its own
        if self._known(media_id, c):
            self.unchanged += 1
            return
        before = self.db.changes
        self._fingerprint(media_id, c, known_media=True)
        own = next((s for s in c.sources if s[0] == c.source), None)
        clip_id, created = add_clip(
            self.db,
            media_id,
            title=c.title,
            first_seen=c.first_seen,
            source=c.source,
            description=c.description,
            verdict_url=c.verdict_url,
            language=c.language,
            tags=c.tags,
            added_by=self.via,
            claim=c.claim,
            rating=c.rating,
            benign=c.benign,
            source_kind=own[2] if own else "publication",
            source_title=own[3] if own else None,
        )
        for url, first_seen, kind, title in c.sources:
            if url != c.source or first_seen < c.first_seen:
                add_clip_source(
                    self.db, clip_id, url=url, first_seen=first_seen, kind=kind, title=title,
                    via=self.via,
                )  # fmt: skip
        if created:
            self.new += 1
        elif self.db.changes != before:
            self.merged += 1
        else:
            self.unchanged += 1

    def _known(self, media_id: int, c: ClipLine) -> bool:
        """Whether the library already knows all the line says, so add_clip would write nothing.

        The test mirrors add_clip's merge exactly (a fingerprint is there; the clip exists; no
        empty field would be filled, no tag or benign flag added; every source is recorded
        with this date or an earlier one; the clip is dated by its earliest source), and is
        what makes importing a known bundle again cheap.
        """
        conn = self.db
        if conn.execute("SELECT 1 FROM fingerprints WHERE media_id = ?", [media_id]).fetchone():
            row = conn.execute(
                "SELECT id, first_seen, description, verdict_url, language, claim, rating, "
                "tags, benign FROM clips WHERE media_id = ? ORDER BY id LIMIT 1",
                [media_id],
            ).fetchone()
        else:
            row = None
        if row is None:
            return False
        clip_id, first_seen, *fields, tags, benign = row
        new = (c.description, c.verdict_url, c.language, c.claim, c.rating)
        if any(have is None and value is not None for have, value in zip(fields, new, strict=True)):
            return False
        if (c.benign and not benign) or (
            c.tags and not set(c.tags) <= set(json.loads(tags or "[]"))
        ):
            return False
        dates = dict(
            conn.execute("SELECT url, first_seen FROM clip_sources WHERE clip_id = ?", [clip_id])
        )
        if not dates or min(dates.values()) < first_seen:
            return False
        wanted = [(c.source, c.first_seen), *((url, date) for url, date, _, _ in c.sources)]
        return all(url in dates and dates[url] <= date for url, date in wanted)

    def _insert(self, media_id: int, c: ClipLine) -> None:
        """A clip on media new to the library: the rows add_media + add_clip would write."""
        self._fingerprint(media_id, c, known_media=False)
        insert_signals(self.db, media_id, c.signals)
        # add_clip's merge of the sources, done here: each URL once with its earliest date,
        # the clip's own source first, the clip dated by the earliest (first listed on a tie).
        own = next((s for s in c.sources if s[0] == c.source), None)
        merged: dict[str, list] = {
            c.source: [c.first_seen, *(own[2:] if own else ("publication", None))]
        }
        for url, first_seen, kind, title in c.sources:
            known = merged.setdefault(url, [first_seen, kind, title])
            known[0] = min(known[0], first_seen)
        first_seen, source = c.first_seen, c.source
        for url, (date, _, _) in merged.items():
            if date < first_seen:
                first_seen, source = date, url
        clip_id = self.db.execute(
            "INSERT INTO clips (id, media_id, title, description, first_seen, source, "
            "verdict_url, language, tags, added_by, added_at, claim, rating, benign) "
            f"VALUES ({NEXT_CLIP_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                media_id,
                c.title,
                c.description,
                first_seen,
                source,
                c.verdict_url,
                c.language,
                json.dumps(c.tags, ensure_ascii=False),
                self.via,
                self.now,
                c.claim,
                c.rating,
                int(c.benign),
            ],
        ).fetchone()[0]
        self.db.executemany(
            "INSERT INTO clip_sources (clip_id, url, first_seen, kind, title, via, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (clip_id, url, date, kind, title, self.via, self.now)
                for url, (date, kind, title) in merged.items()
            ],
        )

    def _fingerprint(self, media_id: int, c: ClipLine, *, known_media: bool) -> None:
        """The line's fingerprint; media the library knew keep theirs if they have one."""
        keep = " ON CONFLICT DO NOTHING" if known_media else ""
        self.db.execute(
            "INSERT INTO fingerprints (media_id, algorithm, frame_count, hashes, times, "
            f"variants) VALUES (?, ?, ?, ?, ?, ?){keep}",
            [media_id, ALGORITHM, c.frames, c.hashes, c.times, c.variants],
        )

    def compact(self) -> None:
        """After a big import, give the write-ahead log's disk space back, if no reader is in
        the way: with busy_timeout 0 the checkpoint never waits, so no writer waits on it."""
        if self.bytes < 64 * 1024 * 1024 or self.db.in_transaction or self.db.dialect != "sqlite":
            return
        (timeout,) = self.db.execute("PRAGMA busy_timeout").fetchone()
        try:
            self.db.execute("PRAGMA busy_timeout = 0")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # busy: the log is reused and truncated at a later checkpoint
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout)}")
