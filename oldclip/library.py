"""The library service: the SQLite archive and the in-memory index, kept in step.

This is where storage/ and fingerprint/ meet: the CLI, the watchers' pipeline and the bot all
go through it, so "add a clip" and "check a file" mean the same thing everywhere.
"""

from __future__ import annotations

import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import storage
from fingerprint import (
    INDEXED_VARIANTS,
    Fingerprint,
    HashIndex,
    Match,
    find_matches,
    fingerprint_file,
)

from .config import Config

CACHE_SIZE = 256  # fingerprints of candidate media kept in memory between checks


@dataclass(frozen=True)
class ClipMatch:
    """A match with what the library knows about the matched media."""

    match: Match
    clip: storage.Clip | None
    sightings: list[storage.Sighting]

    def as_dict(self) -> dict:
        m, clip = self.match, self.clip
        first = self.sightings[0] if self.sightings else None
        return {
            "clip_id": clip.id if clip else None,
            "title": clip.title if clip else None,
            "first_seen": clip.first_seen if clip else (first.seen_at if first else None),
            "source": clip.source if clip else (first.url if first else None),
            "score": round(m.score, 4),
            "query_start": round(m.query_start, 2),
            "query_end": round(m.query_end, 2),
            "clip_start": round(m.ref_start, 2),
            "clip_end": round(m.ref_end, 2),
            "frames_matched": m.frames_matched,
            "mirrored": m.mirrored,
        }


@dataclass(frozen=True)
class CheckResult:
    matches: list[ClipMatch]
    fingerprint_ms: float
    fingerprint: Fingerprint


class Library:
    """Open with ``Library.open(config)``; the index is built on first use."""

    def __init__(self, db, config: Config):
        self.db = db
        self.config = config
        self._index: HashIndex | None = None
        self._cache: OrderedDict[int, Fingerprint] = OrderedDict()

    @classmethod
    def open(cls, config: Config) -> Library:
        return cls(storage.open_db(config.database), config)

    def close(self) -> None:
        self.db.conn.close()

    @property
    def index(self) -> HashIndex:
        if self._index is None:
            evidence = storage.evidence_media_ids(self.db)
            self._index = HashIndex.build(
                (media_id, hashes[np.isin(variants, INDEXED_VARIANTS)])
                for media_id, hashes, variants in storage.iter_index_rows(self.db)
                if media_id in evidence  # media kept only to answer an asker later stay out
            )
        return self._index

    def fingerprint(self, path: str | Path) -> Fingerprint:
        return fingerprint_file(path, self.config.limits)

    def add_fingerprint(self, fp: Fingerprint, *, index: bool = True) -> int:
        """Store media (once per content hash); returns the media id.

        ``index=False`` keeps it out of the search index: a file someone asked about is stored
        only to tell them later, and is evidence of nothing until a clip or a sighting has it.
        """
        media_id, _ = storage.add_media(self.db, fp)
        if index:
            self.index_media(media_id, fp)
        return media_id

    def index_media(self, media_id: int, fp: Fingerprint | None = None) -> None:
        """Make stored media searchable (once), e.g. when a feed sights a file someone sent."""
        if self._index is None or media_id in self._index:
            return
        fp = fp or self.load(media_id)
        if fp is not None:
            self._index.add(media_id, fp.hashes[np.isin(fp.variants, INDEXED_VARIANTS)])

    def add_clip(
        self, path: str | Path, *, fp: Fingerprint | None = None, **provenance
    ) -> tuple[int, bool]:
        """Fingerprint a file and record it as a clip: (clip id, created?).

        ``fp`` is the file's fingerprint when the caller already has it (the bot computes it
        in a worker process).  One transaction: a clip refused for its provenance (a bad date,
        no title) must not leave its media behind, or later checks would report a match with
        no clip to show.
        """
        fp = fp if fp is not None else self.fingerprint(path)
        with self.db.atomic():
            media_id, _ = storage.add_media(self.db, fp)
            result = storage.add_clip(self.db, media_id, **provenance)
        self.index_media(media_id, fp)  # a file someone asked about may be stored unindexed
        self.keep_copy(media_id, Path(path), fp.sha256)
        return result

    def keep_copy(self, media_id: int, path: Path, sha256: str) -> None:
        """Archive a copy of a library file, so evidence pictures can be drawn from it later."""
        media = storage.get_media(self.db, media_id)
        if media is None or (media.path and Path(media.path).is_file()):
            return
        target = self.config.media_dir / "library" / f"{sha256}{path.suffix.lower()}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        storage.set_media_path(self.db, media_id, str(target))

    def remove_clip(self, clip_id: int) -> bool:
        clip = storage.get_clip(self.db, clip_id)
        if clip is None or not storage.remove_clip(self.db, clip_id):
            return False
        if storage.get_media(self.db, clip.media_id) is None:
            self._cache.pop(clip.media_id, None)
            if self._index is not None:
                self._index.remove(clip.media_id)
        return True

    def check_file(self, path: str | Path) -> CheckResult:
        started = time.perf_counter()
        fp = self.fingerprint(path)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(self.match(fp), elapsed, fp)

    def match(self, fp: Fingerprint) -> list[ClipMatch]:
        """Matches of a fingerprint among stored media, best first, with their provenance.

        Media known only because someone asked about them (no clip, never sighted) are not
        evidence of anything and are left out.
        """
        found = find_matches(fp, self.index, self.load, self.config.matching)
        matches = [
            ClipMatch(
                m,
                storage.clip_for_media(self.db, m.media_id),
                storage.sightings_for_media(self.db, m.media_id),
            )
            for m in found
        ]
        return [m for m in matches if m.clip is not None or m.sightings]

    def load(self, media_id: int) -> Fingerprint | None:
        if media_id in self._cache:
            self._cache.move_to_end(media_id)
            return self._cache[media_id]
        fp = storage.load_fingerprint(self.db, media_id)
        if fp is not None:
            self._cache[media_id] = fp
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return fp
