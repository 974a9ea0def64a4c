"""The library service: the archive (``storage``) and the in-memory indexes, kept in step.

This is where storage/ and fingerprint/ meet: the CLI, the watchers' pipeline and the bot all
go through it, so "add a clip" and "check a file" mean the same thing everywhere.

A ``Library`` is a database plus one ``IndexSet`` (``oldclip.indexset``: the search, benign
and other signals' indexes, saved beside the database by ``oldclip.indexfiles``), built on
first use.  Other processes change the library too (`oldclip add`, `import-bundle`, `benign
add`, `remove` while `oldclip run` is up): every ``match`` first checks the library's version,
one tiny query, and brings the indexes in step when it moved, applying only the changes logged
since (``oldclip.replica``).  Adding, removing and marking clips benign is
``oldclip.curation``; changed indexes are saved again, atomically, when the library is closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import storage
from fingerprint.types import Fingerprint, Match

from . import curation
from .config import Config
from .indexfiles import IndexFiles
from .indexset import IndexSet
from .replica import ReplicaState

if TYPE_CHECKING:
    from fingerprint import HashIndex
    from fingerprint.signal import SignalIndex

# numpy, the index (faiss), decoding (FFmpeg) and matching load where they are first needed, so that
# `oldclip list` or `show` does not pay for them (see bench/startup.py).

T = TypeVar("T")


@dataclass(frozen=True)
class ClipMatch:
    """A match with what the library knows about the matched media."""

    match: Match
    clip: storage.Clip | None
    sightings: list[storage.Sighting]  # earliest first
    kind: str = "video"  # of the matched media: "video" or "photo"

    def evidence(
        self, at: datetime, min_age_h: float, *, other_than: str | None = None
    ) -> tuple[str, str] | None:
        """(first seen, where) when this match makes footage seen at ``at`` old, else None.

        The one rule for the CLI, the bot and the watchers: a library clip is old footage; a
        sighting by the watchers is only when it is at least ``min_age_h`` hours older (the
        same video spreading on its first day is news, not reuse).  ``other_than`` leaves out
        sightings of that post itself.  A match of the sound alone (``Match.sound_only``: the
        picture differs) never makes footage old: music and voice-overs are reused over new
        footage all the time.
        """
        if self.match.sound_only:
            return None
        if self.clip is not None:
            return self.clip.first_seen, self.clip.source
        limit = at - timedelta(hours=min_age_h)
        for s in self.sightings:
            if s.post_url != other_than and parse_time(s.seen_at) <= limit:
                return s.seen_at, s.post_url or s.url
        return None

    @property
    def agreement(self) -> str:
        """ "picture", "picture_and_sound" or "sound_only" (``fingerprint.signal.agreement``)."""
        from fingerprint.signal import agreement

        return agreement(self.match.signals, self.match.sound_only)

    def as_dict(self, at: datetime | None = None, min_age_h: float = 0.0) -> dict:
        """The facts the text answer shows, for scripts."""
        m, clip = self.match, self.clip
        first = self.sightings[0] if self.sightings else None
        return {
            "clip_id": clip.id if clip else None,
            "old": self.evidence(at or datetime.now(UTC), min_age_h) is not None,
            "title": clip.title if clip else None,
            "description": clip.description if clip else None,
            "first_seen": clip.first_seen if clip else (first.seen_at if first else None),
            "source": clip.source if clip else (first.post_url or first.url if first else None),
            "claim": clip.claim if clip else None,
            "rating": clip.rating if clip else None,
            "verdict_url": clip.verdict_url if clip else None,
            "media_kind": self.kind,
            "score": round(m.score, 4),
            "query_start": round(m.query_start, 2),
            "query_end": round(m.query_end, 2),
            "clip_start": round(m.ref_start, 2),
            "clip_end": round(m.ref_end, 2),
            "frames_matched": m.frames_matched,
            "mirrored": m.mirrored,
            "signals": list(m.signals),
            "agreement": self.agreement,
            "sound_only": m.sound_only,
        }


def parse_time(value: str | None) -> datetime:
    """An ISO 8601 time as aware UTC (naive ones are UTC); None or "" is now."""
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CheckResult:
    matches: list[ClipMatch]
    fingerprint_ms: float
    fingerprint: Fingerprint


class Library:
    """Open with ``Library.open(config)``; the indexes are built on first use."""

    def __init__(self, db, config: Config):
        self.db = db
        self.config = config
        self.indexes = IndexSet(IndexFiles(config.local_path))
        # Held by whoever uses the indexes from a storage thread (a worker's, see
        # storage.threads): the indexes and the cache are never changed by two at once.
        self.lock = threading.Lock()

    def locked(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` holding the library's lock."""
        with self.lock:
            return fn(*args)

    @classmethod
    def open(cls, config: Config) -> Library:
        return cls(storage.open_db(config.database), config)

    def close(self) -> None:
        if self.indexes.unsaved:
            self.indexes.save()
        self.db.close()

    @property
    def index_path(self) -> Path:
        """Where the search index is saved: beside the database (or, for PostgreSQL, in the
        data folder: ``Config.local_path``), named after it."""
        return self.indexes.files.search

    def signal_index_path(self, name: str) -> Path:
        """Where the index of signal ``name`` (not PDQ) is saved: beside the search index."""
        return self.indexes.files.signal(name)

    @property
    def replica(self) -> ReplicaState:
        """How well the indexes follow the library (``oldclip.replica``)."""
        return self.indexes.state

    def _built(self) -> IndexSet:
        if not self.indexes.built:
            self.indexes.build(self.db)
        return self.indexes

    @property
    def index(self) -> HashIndex:
        return self._built().search

    @property
    def benign_index(self) -> HashIndex:
        """The hashes of benign media, whose frames every match ignores."""
        return self._built().benign

    @property
    def signal_indexes(self) -> dict[str, SignalIndex]:
        """The indexes of the signals other than PDQ, by name (built with the search index)."""
        return self._built().signals

    def refresh(self) -> bool:
        """Catch up with clips added, removed or marked benign since the last look, by anyone.

        Costs one tiny query when nothing changed (``storage.library_version``).  Otherwise
        only the changes logged since are applied (``oldclip.replica``): the search index gains
        the media that became evidence and drops those that stopped being (or became benign),
        and the benign and other signals' indexes follow.  Returns whether anything changed.
        """
        return self.indexes.refresh(self.db)

    def fingerprint(self, path: str | Path, *, store: bool = False) -> Fingerprint:
        """``store`` for a file being stored as a clip (or benign): it is then also sampled
        between grid frames where it moves fast, so a screenshot of a fast pan finds it.  A
        file being checked keeps the plain grid (``fingerprint.decode``: extra query frames
        move the temporal vote)."""
        from fingerprint import fingerprint_file

        return fingerprint_file(path, self.config.limits, fast_motion=store)

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
        """Make stored media searchable (once), e.g. when a feed sights a file someone sent.

        Benign media never are: their frames are ignored, not found.
        """
        self.indexes.index_media(self.db, media_id, fp)

    # --- curation (``oldclip.curation``) ------------------------------------------------------

    def add_clip(
        self, path: str | Path, *, fp: Fingerprint | None = None, **provenance
    ) -> tuple[int, bool]:
        """Fingerprint a file (unless ``fp`` is given) and record it as a clip: (clip id,
        created?).  See ``curation.add_clip``."""
        fp = fp if fp is not None else self.fingerprint(path, store=True)
        return curation.add_clip(
            self.db, self.indexes, self.config.media_dir, path, fp, **provenance
        )

    def add_benign(
        self,
        path: str | Path,
        *,
        fp: Fingerprint | None = None,
        title: str | None = None,
        note: str | None = None,
        added_by: str | None = None,
    ) -> tuple[int, bool]:
        """Put a file on the benign list: (clip id, whether a new clip was made).  See
        ``curation.add_benign``."""
        fp = fp if fp is not None else self.fingerprint(path, store=True)
        return curation.add_benign(
            self.db, self.indexes, self.config.media_dir, Path(path), fp, title, note, added_by
        )

    def set_benign(self, clip_id: int, benign: bool = True) -> bool:
        """Mark a clip benign (or not any more); False if there is no such clip."""
        return curation.set_benign(self.db, self.indexes, clip_id, benign)

    def keep_copy(self, media_id: int, path: Path, sha256: str) -> None:
        """Archive a copy of a library file, so evidence pictures can be drawn from it later."""
        curation.keep_copy(self.db, self.config.media_dir, media_id, path, sha256)

    def remove_clip(self, clip_id: int) -> bool:
        return curation.remove_clip(self.db, self.indexes, clip_id)

    # --- checking -----------------------------------------------------------------------------

    def check_file(self, path: str | Path) -> CheckResult:
        started = time.perf_counter()
        fp = self.fingerprint(path)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(self.match(fp), elapsed, fp)

    def match(self, fp: Fingerprint) -> list[ClipMatch]:
        """Matches of a fingerprint among stored media, best first, with their provenance.

        Media known only because someone asked about them (no clip, never sighted) are not
        evidence of anything and are left out; benign clips are never reported, and frames
        that look like them count for nothing.  Clips other processes added, removed or
        marked benign are taken into account first (``refresh``).
        """
        indexes = self._built()
        self.refresh()
        from fingerprint import find_matches

        found = find_matches(
            fp,
            indexes.search,
            self.load,
            self.config.matching,
            ignore=indexes.benign,
            indexes=indexes.signals,
        )
        matches = []
        for m in found:
            clip = storage.clip_for_media(self.db, m.media_id)
            sightings = storage.sightings_for_media(self.db, m.media_id)
            if (clip is not None and not clip.benign) or (clip is None and sightings):
                media = storage.get_media(self.db, m.media_id)
                kind = media.kind if media is not None else "video"
                matches.append(ClipMatch(m, clip, sightings, kind))
        # A clip with provenance ranks above a sighting of the same footage (a sighting is only
        # the watchers' archive); within each, the best score first, as found.
        return sorted(matches, key=lambda c: c.clip is None)

    def load(self, media_id: int) -> Fingerprint | None:
        """Stored media's fingerprint (cached: ``IndexSet.load``)."""
        return self.indexes.load(self.db, media_id)
