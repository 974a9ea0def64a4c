"""The library service: the SQLite archive and the in-memory index, kept in step.

This is where storage/ and fingerprint/ meet: the CLI, the watchers' pipeline and the bot all
go through it, so "add a clip" and "check a file" mean the same thing everywhere.

Two indexes are kept: the search index of the media a match can point at (clips and sighted
media), and a small one of benign media (channel intros, logos, test cards, stock footage),
whose frames are ignored in every match and which are never reported themselves.  Other
processes change the library too (`oldclip add`, `import-bundle`, `benign add`, `remove` while
`oldclip run` is up): every ``match`` first checks the library's version, one tiny query, and
brings both indexes in step when it moved, applying only the changes logged since
(``oldclip.replica``).

Every other signal (local features, sound: ``fingerprint.signal``) has its own index of the
same media, opened or built with the search index and kept in step with it by the same syncs.

Every index is kept on disk beside the database (``<database stem>.index`` for the search
index, ``<database stem>.<signal>.index`` for the others), so a command does not rebuild them
from every stored fingerprint: a saved file says which media it holds, and opening it brings
it in step with the library as it is now (clips and sightings added or removed by any process
since, media ids reused), exactly as a running process catches up.  All files are saved
together, stamped with the library's version: a signal's file is used only with the search
index saved at the same time (which tells reused media ids apart) and only if its signal and
index format are those of this oldclip.  A file from another library state, format or
fingerprint algorithm is rebuilt; one that is truncated or corrupt too, with one log line.
Changed indexes are saved again, atomically, when the library is closed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import storage
from fingerprint.types import ALGORITHM, INDEXED_VARIANTS, Fingerprint, Match

from .config import Config
from .replica import ReplicaState, apply_changes
from .replica import searchable as _searchable
from .replica import signature as _signature

if TYPE_CHECKING:
    import numpy as np

    from fingerprint import HashIndex
    from fingerprint.signal import SignalIndex

# numpy, the index (faiss), decoding (FFmpeg) and matching load where they are first needed, so that
# `oldclip list` or `show` does not pay for them (see bench/startup.py).

CACHE_SIZE = 256  # fingerprints of candidate media kept in memory between checks
# A saved index missing more media than this (and a quarter of the library) is rebuilt in one
# pass over the database rather than caught up one fingerprint at a time.
CATCH_UP_LIMIT = 256

log = logging.getLogger(__name__)
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
    """Open with ``Library.open(config)``; the index is built on first use."""

    def __init__(self, db, config: Config):
        self.db = db
        self.config = config
        self._index: HashIndex | None = None
        # What the search index holds: media id -> a signature of the hashes it was given
        # (ids of deleted media are reused by SQLite, so an id alone does not say which file).
        self._indexed: dict[int, int] = {}
        self._benign: HashIndex | None = None  # benign media's hashes, built with the index
        self._benign_ids: frozenset[int] = frozenset()
        # The other signals' indexes by signal name, and the media ids each holds.
        self._signal_indexes: dict[str, SignalIndex] = {}
        self._signal_held: dict[str, set[int]] = {}
        # storage.library_version at the last sync: the id of the last change applied.
        self._version: int | None = None
        self.replica = ReplicaState()
        self._cache: OrderedDict[int, Fingerprint] = OrderedDict()
        self._unsaved = False  # an index changed since it was last read or saved
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
        if self._unsaved:
            self._save()
        self.db.close()

    @property
    def index_path(self) -> Path:
        """Where the search index is saved: beside the database (or, for PostgreSQL, in the
        data folder: ``Config.local_path``), named after it."""
        database = self.config.local_path
        return database.with_name(f"{database.stem}.index")

    def signal_index_path(self, name: str) -> Path:
        """Where the index of signal ``name`` (not PDQ) is saved: beside the search index."""
        database = self.config.local_path
        return database.with_name(f"{database.stem}.{name}.index")

    @property
    def index(self) -> HashIndex:
        if self._index is None:
            self._build()
        return self._index

    @property
    def benign_index(self) -> HashIndex:
        """The hashes of benign media, whose frames every match ignores."""
        if self._index is None:
            self._build()  # built together with the search index
        return self._benign

    def _build(self) -> None:
        """Both indexes: the search index from its saved file when that can be trusted and
        brought up to date, else from the database, in one pass over the stored fingerprints
        (then saved)."""
        # Read first: whatever changes while we read moves it, and is caught by the next sync.
        self._version = storage.library_version(self.db)
        opened = self._open_saved()
        if opened is not None:
            saved, saved_version = opened
            self._index = saved
            self._indexed = {m: _signature(saved.hashes_of(m)) for m in saved.media_ids()}
            # Not saved (it is small): read now; changes after ``saved_version`` follow.
            self._read_benign(frozenset(storage.benign_media_ids(self.db)))
            rebuilt = self._open_signals(saved_version)
            self._unsaved = self._follow(self._version, since=saved_version) or rebuilt
            return
        self._read_all()
        self._signal_indexes, self._signal_held = {}, {}
        for name in storage.stored_signal_names():
            self._read_signal(name)
        self._unsaved = True
        self._save()

    def _index_meta(self) -> dict:
        """What a saved index must agree on besides its media: how hashes were chosen."""
        return {
            "library_version": self._version,
            "algorithm": ALGORITHM,
            "variants": list(INDEXED_VARIANTS),
        }

    def _signal_meta(self, name: str, index: SignalIndex, version: int | None) -> dict:
        """What a signal's saved index must agree on: the library state it was saved with
        (that of the search index saved with it), the signal's data and the index's format."""
        from fingerprint import signal

        return {
            "library_version": version,
            "signal": name,
            "signal_version": signal.get(name).version,
            "format": index.format,
        }

    def _open_saved(self) -> tuple[HashIndex, int] | None:
        """The saved search index and the library version it was saved at, if it is there,
        sound and close enough to catch up."""
        from fingerprint.index_file import IndexFileError, load_index

        try:
            loaded = load_index(self.index_path)
        except (IndexFileError, OSError) as exc:
            log.warning("search index %s unusable (%s): rebuilding it", self.index_path, exc)
            return None
        if loaded is None:
            return None
        index, meta = loaded
        expected = self._index_meta()
        if any(meta.get(k) != v for k, v in expected.items() if k != "library_version"):
            return None  # saved by a version of oldclip that chose other hashes
        if not isinstance(meta.get("library_version"), int) or meta["library_version"] > (
            self._version or 0
        ):
            return None  # saved from another (newer) state of the library: not this history
        wanted = storage.evidence_media_ids(self.db)
        missing = len(wanted - set(index.media_ids()))
        if missing > max(CATCH_UP_LIMIT, len(wanted) // 4):
            return None
        return index, meta["library_version"]

    def _open_signals(self, saved_version: int) -> bool:
        """The other signals' indexes, each from its saved file when that was saved with the
        search index just opened (``saved_version``), else from the database.  Returns whether
        any was built from the database (its file is then saved again)."""
        from fingerprint import signal
        from fingerprint.index_file import load_arrays

        self._signal_indexes, self._signal_held = {}, {}
        rebuilt = False
        for name in storage.stored_signal_names():
            path = self.signal_index_path(name)
            index = signal.get(name).new_index()
            try:
                loaded = load_arrays(path)
                usable = loaded is not None and loaded[1] == self._signal_meta(
                    name, index, saved_version
                )
                if usable:
                    index.load_arrays(loaded[0])
            except (ValueError, OSError) as exc:  # IndexFileError is a ValueError
                log.warning("%s index %s unusable (%s): rebuilding it", name, path, exc)
                usable = False
            if not usable:
                self._read_signal(name)
                rebuilt = True
                continue
            # Kept whole, media without frame hashes (flat pictures) included: an id that
            # stands for another file since is a 'removed' change the catch-up applies.
            self._signal_indexes[name], self._signal_held[name] = index, set(index.media_ids())
        return rebuilt

    def _save(self) -> None:
        """Save every index beside the database; a failure only costs the next start."""
        if self._index is None:
            return
        from fingerprint.index_file import save_arrays, save_index

        try:
            for name, index in self._signal_indexes.items():
                meta = self._signal_meta(name, index, self._version)
                save_arrays(self.signal_index_path(name), index.to_arrays(), meta)
            save_index(self.index_path, self._index, self._index_meta())
            self._unsaved = False
        except OSError as exc:
            log.warning("could not save the indexes beside %s: %s", self.config.database, exc)

    def _read_all(self) -> None:
        """Both indexes from every stored fingerprint."""
        import numpy as np

        evidence = storage.evidence_media_ids(self.db)
        benign = storage.benign_media_ids(self.db)
        benign_rows: list[tuple[int, np.ndarray]] = []
        self._indexed = {}

        def searchable():
            for media_id, hashes, variants in storage.iter_index_rows(self.db):
                if media_id not in benign and media_id not in evidence:
                    continue  # media kept only to answer an asker stay out
                indexed = hashes[np.isin(variants, INDEXED_VARIANTS)]
                if media_id in benign:
                    benign_rows.append((media_id, indexed))
                else:
                    self._indexed[media_id] = _signature(indexed)
                    yield media_id, indexed

        from fingerprint import HashIndex

        self._index = HashIndex.build(searchable())
        self._benign = HashIndex.build(benign_rows)
        self._benign_ids = frozenset(benign)
        self._cache.clear()

    def _read_signal(self, name: str) -> None:
        """One other signal's index, from every stored row of it of searchable media."""
        from fingerprint import signal

        wanted = storage.evidence_media_ids(self.db) - storage.benign_media_ids(self.db)
        index, held = signal.get(name).new_index(), set()
        for media_id, data in storage.iter_signal_rows(self.db, name):
            if media_id in wanted:
                index.add(media_id, data)
                held.add(media_id)
        self._signal_indexes[name], self._signal_held[name] = index, held
        log.info("built the %s index from the database (%d media)", name, len(held))

    @property
    def signal_indexes(self) -> dict[str, SignalIndex]:
        """The indexes of the signals other than PDQ, by name (built with the search index)."""
        if self._index is None:
            self._build()
        return self._signal_indexes

    def refresh(self) -> bool:
        """Catch up with clips added, removed or marked benign since the last look, by anyone.

        Costs one tiny query when nothing changed (``storage.library_version``).  Otherwise
        only the changes logged since are applied (``oldclip.replica``): the search index gains
        the media that became evidence and drops those that stopped being (or became benign),
        and the benign and other signals' indexes follow.  Returns whether anything changed.
        """
        if self._index is None:
            # Not built yet: it will be built from the library as it is then (not stale).
            self.replica.caught_up_at = time.monotonic()
            return False
        version = storage.library_version(self.db)
        moved = version != self._version
        if moved:
            self._unsaved |= self._follow(version)
        self.replica.caught_up_at = time.monotonic()
        return moved

    def _follow(
        self, version: int, known: dict[int, Fingerprint] | None = None, since: int | None = None
    ) -> bool:
        """Apply the changes logged after ``since`` (default: the last applied), or re-read
        the library (``_sync``) when they are no longer all kept; returns whether a saved
        index changed."""
        since = self._version if since is None else since
        changes = storage.changes_after(self.db, since) if since is not None else []
        if not changes and since == version:
            return False
        if not changes or changes[0].id != since + 1:
            log.info(
                "library changes after %s are no longer kept: re-reading the whole library", since
            )
            self.replica.full_reads += 1
            return self._sync(version, known)
        self._version = changes[-1].id
        self.replica.applied += len(changes)
        return apply_changes(self, changes, known or {})

    def _sync(self, version: int, known: dict[int, Fingerprint] | None = None) -> bool:
        """Bring every index in step with the library; returns whether a saved one (the
        search index, another signal's) changed."""
        self._version = version
        self._cache.clear()  # a media id may now stand for another file
        for media_id, fp in (known or {}).items():
            self._remember(media_id, fp)
        benign = frozenset(storage.benign_media_ids(self.db))
        wanted = storage.evidence_media_ids(self.db) - benign
        before = dict(self._indexed)
        for media_id in self._indexed.keys() - wanted:
            self._index.remove(media_id)
            del self._indexed[media_id]
        replaced = self._replaced(wanted)
        for media_id in replaced:
            # Re-added below, with its new hashes (the old rows are never served again).
            self._index.remove(media_id)
            del self._indexed[media_id]
        for media_id in sorted(wanted - self._indexed.keys()):
            self._add(media_id)
        signals_changed = self._sync_signals(wanted, set(replaced), known or {})
        if benign != self._benign_ids:
            self._read_benign(benign)
        return self._indexed != before or signals_changed

    def _read_benign(self, benign: frozenset[int]) -> None:
        """The benign index, of these media."""
        from fingerprint import HashIndex

        self._benign = HashIndex.build(
            (media_id, _searchable(fp))
            for media_id in sorted(benign)
            if (fp := self.load(media_id)) is not None
        )
        self._benign_ids = benign

    def _sync_signals(
        self, wanted: set[int], replaced: set[int], known: dict[int, Fingerprint]
    ) -> bool:
        """The other signals' indexes in step: what stopped being searchable or stands for
        another file goes, what is searchable and has the signal's data comes in (media given
        a signal later, by ``refingerprint``, included).  Returns whether any changed."""
        changed = False
        for name, index in self._signal_indexes.items():
            held = self._signal_held[name]
            for media_id in (held - wanted) | (held & replaced):
                index.remove(media_id)
                held.discard(media_id)
                changed = True
            for media_id in sorted((wanted & storage.signal_media_ids(self.db, name)) - held):
                fp = known.get(media_id)
                data = (fp.signals if fp is not None else {}).get(name)
                if data is None:
                    data = storage.load_signals(self.db, media_id).get(name)
                if data is not None:
                    index.add(media_id, data)
                    held.add(media_id)
                    changed = True
        return changed

    def _replaced(self, wanted: set[int]) -> list[int]:
        """Indexed media ids that now stand for another file (deleted, then the id reused).

        SQLite gives a new row the highest id + 1, so an id is only reused once every id
        above it was deleted too: checking from the highest id down, the first one still
        holding what was indexed clears all those below it.  Usually one fingerprint read.
        """
        replaced = []
        for media_id in sorted(self._indexed.keys() & wanted, reverse=True):
            fp = self.load(media_id)
            if fp is not None and _signature(_searchable(fp)) == self._indexed[media_id]:
                break
            replaced.append(media_id)
        return replaced

    def _add(self, media_id: int, fp: Fingerprint | None = None) -> None:
        fp = fp if fp is not None else self.load(media_id)
        if fp is not None:
            hashes = _searchable(fp)
            self._index.add(media_id, hashes)
            self._indexed[media_id] = _signature(hashes)
            self._unsaved = True

    def fingerprint(self, path: str | Path) -> Fingerprint:
        from fingerprint import fingerprint_file

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
        """Make stored media searchable (once), e.g. when a feed sights a file someone sent.

        Benign media never are: their frames are ignored, not found.
        """
        if self._index is None or media_id in self._indexed or media_id in self._benign_ids:
            return
        self._add(media_id, fp)
        fp = fp if fp is not None else self.load(media_id)
        for name, data in (fp.signals if fp is not None else {}).items():
            if name in self._signal_indexes and media_id not in self._signal_held[name]:
                self._signal_indexes[name].add(media_id, data)
                self._signal_held[name].add(media_id)

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
        # Indexed now, even a file someone asked about and stored unindexed (or, benign, its
        # frames ignored): the new clip moved the library's version.
        self._catch_up({media_id: fp})
        self.keep_copy(media_id, Path(path), fp.sha256)
        return result

    def add_benign(
        self,
        path: str | Path,
        *,
        fp: Fingerprint | None = None,
        title: str | None = None,
        note: str | None = None,
        added_by: str | None = None,
    ) -> tuple[int, bool]:
        """Put a file on the benign list: (clip id, whether a new clip was made).

        A file that already is a clip has that clip marked benign, and nothing else about it
        changes.  Otherwise it becomes a benign clip titled ``title`` (the file name by default)
        with ``note`` as its description.
        """
        path = Path(path)
        fp = fp if fp is not None else self.fingerprint(path)
        media = storage.media_by_sha256(self.db, fp.sha256)
        clip = storage.clip_for_media(self.db, media.id) if media is not None else None
        if clip is not None:
            self.set_benign(clip.id)
            return clip.id, False
        today = datetime.now(UTC).date().isoformat()
        return self.add_clip(
            path,
            fp=fp,
            title=title or path.name,
            first_seen=today,
            source=f"benign list: {path.name}",
            description=note,
            added_by=added_by,
            benign=True,
        )

    def set_benign(self, clip_id: int, benign: bool = True) -> bool:
        """Mark a clip benign (or not any more); False if there is no such clip."""
        if not storage.set_benign(self.db, clip_id, benign):
            return False
        self._catch_up()
        return True

    def _catch_up(self, known: dict[int, Fingerprint] | None = None) -> None:
        """Sync now after a change made here (``known``: fingerprints at hand, not re-read)."""
        if self._index is not None:
            version = storage.library_version(self.db)
            if version != self._version:
                self._unsaved |= self._follow(version, known)

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
        if not storage.remove_clip(self.db, clip_id):
            return False
        self._catch_up()  # its media stop matching, unless the watchers sighted them
        return True

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
        index = self.index
        self.refresh()
        from fingerprint import find_matches

        found = find_matches(
            fp,
            index,
            self.load,
            self.config.matching,
            ignore=self._benign,
            indexes=self._signal_indexes,
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
        if media_id in self._cache:
            self._cache.move_to_end(media_id)
            return self._cache[media_id]
        fp = storage.load_fingerprint(self.db, media_id)
        if fp is not None:
            self._remember(media_id, fp)
        return fp

    def _remember(self, media_id: int, fp: Fingerprint) -> None:
        self._cache[media_id] = fp
        self._cache.move_to_end(media_id)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
