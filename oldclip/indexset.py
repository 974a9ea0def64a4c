"""One process's in-memory search state: the indexes, what each holds, and the fingerprint cache.

Two hash indexes are kept: the search index of the media a match can point at (clips and
sighted media), and a small one of benign media (channel intros, logos, test cards, stock
footage), whose frames are ignored in every match and which are never reported themselves.
Every other signal (local features, sound: ``fingerprint.signal``) has its own index of the
same media, opened or built with the search index and kept in step with it.

``IndexSet`` owns them all and keeps each index and its record of what it holds in step: the
replica (``oldclip.replica``) changes them only through ``drop``, ``add_rows``, ``add_media``,
``drop_signals``, ``add_signal`` and ``read_benign``.  Opening from and saving to the files
beside the database is ``oldclip.indexfiles``.  The ``Library`` owns one, builds it on first
use and passes it the database for every step that reads storage (a worker swaps the
library's database for a threaded one: ``oldclip.worker``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import storage
from fingerprint.types import INDEXED_VARIANTS, Fingerprint

from . import indexfiles
from .indexfiles import IndexFiles
from .replica import ReplicaState, follow, searchable, signature

if TYPE_CHECKING:
    import numpy as np

    from fingerprint import HashIndex
    from fingerprint.signal import SignalIndex
    from storage.engine import Database

CACHE_SIZE = 256  # fingerprints of candidate media kept in memory between checks

log = logging.getLogger(__name__)


class IndexSet:
    """The indexes of one library, built by ``build`` (``search`` is None until then)."""

    def __init__(self, files: IndexFiles):
        self.files = files
        self.search: HashIndex | None = None
        # What the search index holds: media id -> a signature of the hashes it was given
        # (ids of deleted media are reused by SQLite, so an id alone does not say which file).
        self._indexed: dict[int, int] = {}
        self.benign: HashIndex | None = None  # benign media's hashes, built with the index
        self.benign_ids: frozenset[int] = frozenset()
        # The other signals' indexes by signal name, and the media ids each holds.
        self.signals: dict[str, SignalIndex] = {}
        self._held: dict[str, set[int]] = {}
        # storage.library_version at the last sync: the id of the last change applied.
        self.version: int | None = None
        self.state = ReplicaState()
        self._cache: OrderedDict[int, Fingerprint] = OrderedDict()
        self.unsaved = False  # an index changed since it was last read or saved

    @property
    def built(self) -> bool:
        return self.search is not None

    # --- opening and saving -------------------------------------------------------------------

    def build(self, db: Database) -> None:
        """Every index: the search index from its saved file when that can be trusted and
        brought up to date, else from the database, in one pass over the stored fingerprints
        (then saved)."""
        # Read first: whatever changes while we read moves it, and is caught by the next sync.
        self.version = storage.library_version(db)
        opened = indexfiles.open_search(self.files, db, self.version)
        if opened is not None:
            saved, saved_version = opened
            self.search = saved
            self._indexed = {m: signature(saved.hashes_of(m)) for m in saved.media_ids()}
            # Not saved (it is small): read now; changes after ``saved_version`` follow.
            self.read_benign(db, frozenset(storage.benign_media_ids(db)))
            rebuilt = self._open_signals(db, saved_version)
            self.unsaved = follow(self, db, self.version, since=saved_version) or rebuilt
            return
        self._read_all(db)
        self.signals, self._held = {}, {}
        for name in storage.stored_signal_names():
            self._read_signal(db, name)
        self.unsaved = True
        self.save()

    def _open_signals(self, db: Database, saved_version: int) -> bool:
        """The other signals' indexes, each from its saved file when that was saved with the
        search index just opened (``saved_version``), else from the database.  Returns whether
        any was built from the database (its file is then saved again)."""
        self.signals, self._held = {}, {}
        rebuilt = False
        for name in storage.stored_signal_names():
            index = indexfiles.open_signal(self.files, name, saved_version)
            if index is None:
                self._read_signal(db, name)
                rebuilt = True
                continue
            # Kept whole, media without frame hashes (flat pictures) included: an id that
            # stands for another file since is a 'removed' change the catch-up applies.
            self.signals[name], self._held[name] = index, set(index.media_ids())
        return rebuilt

    def save(self) -> None:
        """Save every index beside the database; a failure only costs the next start."""
        if self.search is not None and indexfiles.save_all(
            self.files, self.search, self.signals, self.version
        ):
            self.unsaved = False

    def _read_all(self, db: Database) -> None:
        """The search and benign indexes from every stored fingerprint."""
        import numpy as np

        evidence = storage.evidence_media_ids(db)
        benign = storage.benign_media_ids(db)
        benign_rows: list[tuple[int, np.ndarray]] = []
        self._indexed = {}

        def rows():
            for media_id, hashes, variants in storage.iter_index_rows(db):
                if media_id not in benign and media_id not in evidence:
                    continue  # media kept only to answer an asker stay out
                indexed = hashes[np.isin(variants, INDEXED_VARIANTS)]
                if media_id in benign:
                    benign_rows.append((media_id, indexed))
                else:
                    self._indexed[media_id] = signature(indexed)
                    yield media_id, indexed

        from fingerprint import HashIndex

        self.search = HashIndex.build(rows())
        self.benign = HashIndex.build(benign_rows)
        self.benign_ids = frozenset(benign)
        self._cache.clear()

    def _read_signal(self, db: Database, name: str) -> None:
        """One other signal's index, from every stored row of it of searchable media."""
        from fingerprint import signal

        wanted = storage.evidence_media_ids(db) - storage.benign_media_ids(db)
        index, held = signal.get(name).new_index(), set()
        for media_id, data in storage.iter_signal_rows(db, name):
            if media_id in wanted:
                index.add(media_id, data)
                held.add(media_id)
        self.signals[name], self._held[name] = index, held
        log.info("built the %s index from the database (%d media)", name, len(held))

    # --- catching up --------------------------------------------------------------------------

    def refresh(self, db: Database) -> bool:
        """Catch up with the library (``oldclip.replica``); whether it had moved.  Costs one
        tiny query when nothing changed."""
        if self.search is None:
            # Not built yet: it will be built from the library as it is then (not stale).
            self.state.caught_up_at = time.monotonic()
            return False
        version = storage.library_version(db)
        moved = version != self.version
        if moved:
            self.unsaved |= follow(self, db, version)
        self.state.caught_up_at = time.monotonic()
        return moved

    def catch_up(self, db: Database, known: dict[int, Fingerprint] | None = None) -> None:
        """Sync now after a change made here (``known``: fingerprints at hand, not re-read)."""
        if self.search is not None:
            version = storage.library_version(db)
            if version != self.version:
                self.unsaved |= follow(self, db, version, known)

    # --- what the replica changes -------------------------------------------------------------

    def indexed(self) -> dict[int, int]:
        """A copy of what the search index holds: media id -> signature of its hashes."""
        return dict(self._indexed)

    def drop(self, media_id: int) -> bool:
        """Take media out of the search index; whether it was there."""
        if media_id not in self._indexed:
            return False
        self.search.remove(media_id)
        del self._indexed[media_id]
        return True

    def add_rows(self, rows: list[tuple[int, np.ndarray]]) -> bool:
        """Put (media id, indexed hashes) rows in the search index in one go; whether any
        had hashes to hold."""
        self.search.add_many(rows)
        changed = False
        for media_id, hashes in rows:
            if len(hashes):
                self._indexed[media_id] = signature(hashes)
                changed = True
        return changed

    def add_media(self, db: Database, media_id: int, fp: Fingerprint | None = None) -> None:
        """Put stored media in the search index (``fp``: its fingerprint, when at hand)."""
        fp = fp if fp is not None else self.load(db, media_id)
        if fp is not None:
            hashes = searchable(fp)
            self.search.add(media_id, hashes)
            self._indexed[media_id] = signature(hashes)
            self.unsaved = True

    def held(self, name: str) -> frozenset[int]:
        """The media ids signal ``name``'s index holds."""
        return frozenset(self._held[name])

    def drop_signals(self, media_id: int, names: list[str] | None = None) -> bool:
        """Take media out of the signals' indexes (``names``, default all); whether any held it."""
        changed = False
        for name in self.signals if names is None else names:
            if media_id in self._held[name]:
                self.signals[name].remove(media_id)
                self._held[name].discard(media_id)
                changed = True
        return changed

    def add_signal(self, name: str, media_id: int, data: object) -> bool:
        """Put media's data of signal ``name`` in its index, unless it holds it; whether added."""
        if name not in self.signals or media_id in self._held[name]:
            return False
        self.signals[name].add(media_id, data)
        self._held[name].add(media_id)
        return True

    def read_benign(self, db: Database, benign: frozenset[int]) -> None:
        """A new benign index, of these media: never the one in use changed in place (a bot's
        matching thread may be searching it right now, ``Matcher.askers_of``).  It is small."""
        from fingerprint import HashIndex

        self.benign = HashIndex.build(
            (media_id, searchable(fp))
            for media_id in sorted(benign)
            if (fp := self.load(db, media_id)) is not None
        )
        self.benign_ids = benign

    def index_media(self, db: Database, media_id: int, fp: Fingerprint | None = None) -> None:
        """Make stored media searchable (once), e.g. when a feed sights a file someone sent.

        Benign media never are: their frames are ignored, not found.
        """
        if self.search is None or media_id in self._indexed or media_id in self.benign_ids:
            return
        self.add_media(db, media_id, fp)
        fp = fp if fp is not None else self.load(db, media_id)
        for name, data in (fp.signals if fp is not None else {}).items():
            self.add_signal(name, media_id, data)

    # --- the fingerprint cache ----------------------------------------------------------------

    def load(self, db: Database, media_id: int) -> Fingerprint | None:
        """Stored media's fingerprint, from the cache when it is there."""
        if media_id in self._cache:
            self._cache.move_to_end(media_id)
            return self._cache[media_id]
        fp = storage.load_fingerprint(db, media_id)
        if fp is not None:
            self.remember(media_id, fp)
        return fp

    def remember(self, media_id: int, fp: Fingerprint) -> None:
        self._cache[media_id] = fp
        self._cache.move_to_end(media_id)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, media_id: int | None = None) -> None:
        """Drop a cached fingerprint (None: all): the id may stand for another file now."""
        if media_id is None:
            self._cache.clear()
        else:
            self._cache.pop(media_id, None)
