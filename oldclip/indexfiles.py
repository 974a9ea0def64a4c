"""The indexes' files beside the database: where they are, what a file must agree on, opening
and saving them.

Every index is kept on disk beside the database (``<database stem>.index`` for the search
index, ``<database stem>.<signal>.index`` for the others), so a command does not rebuild them
from every stored fingerprint: a saved file says which media it holds, and opening it brings
it in step with the library as it is now (``oldclip.replica``), exactly as a running process
catches up.  All files are saved together, stamped with the library's version: a signal's file
is used only with the search index saved at the same time (which tells reused media ids apart)
and only if its signal and index format are those of this oldclip.  A file from another
library state, format or fingerprint algorithm is rebuilt; one that is truncated or corrupt
too, with one log line.

These are plain functions over paths and indexes: what is in memory is ``IndexSet``'s
business (``oldclip.indexset``), which calls them when it opens and when it is saved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import storage
from fingerprint.types import ALGORITHM, INDEXED_VARIANTS

if TYPE_CHECKING:
    from fingerprint import HashIndex
    from fingerprint.signal import SignalIndex
    from storage.engine import Database

# A saved index missing more media than this (and a quarter of the library) is rebuilt in one
# pass over the database rather than caught up one fingerprint at a time.
CATCH_UP_LIMIT = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexFiles:
    """Where a library's indexes are saved: beside ``database`` (its local path: for
    PostgreSQL, in the data folder, ``Config.local_path``), named after it."""

    database: Path

    @property
    def search(self) -> Path:
        """The search index's file."""
        return self.database.with_name(f"{self.database.stem}.index")

    def signal(self, name: str) -> Path:
        """The file of the index of signal ``name`` (not PDQ): beside the search index."""
        return self.database.with_name(f"{self.database.stem}.{name}.index")


def search_meta(version: int | None) -> dict:
    """What a saved search index must agree on besides its media: how hashes were chosen."""
    return {
        "library_version": version,
        "algorithm": ALGORITHM,
        "variants": list(INDEXED_VARIANTS),
    }


def signal_meta(name: str, index: SignalIndex, version: int | None) -> dict:
    """What a signal's saved index must agree on: the library state it was saved with (that of
    the search index saved with it), the signal's data and the index's format."""
    from fingerprint import signal

    return {
        "library_version": version,
        "signal": name,
        "signal_version": signal.get(name).version,
        "format": index.format,
    }


def open_search(files: IndexFiles, db: Database, version: int) -> tuple[HashIndex, int] | None:
    """The saved search index and the library version it was saved at, if it is there, sound
    and close enough to catch up with the library at ``version``."""
    from fingerprint.index_file import IndexFileError, load_index

    try:
        loaded = load_index(files.search)
    except (IndexFileError, OSError) as exc:
        log.warning("search index %s unusable (%s): rebuilding it", files.search, exc)
        return None
    if loaded is None:
        return None
    index, meta = loaded
    expected = search_meta(version)
    if any(meta.get(k) != v for k, v in expected.items() if k != "library_version"):
        return None  # saved by a version of oldclip that chose other hashes
    saved_version = meta.get("library_version")
    if not isinstance(saved_version, int) or saved_version > (version or 0):
        return None  # saved from another (newer) state of the library: not this history
    wanted = storage.evidence_media_ids(db)
    missing = len(wanted - set(index.media_ids()))
    if missing > max(CATCH_UP_LIMIT, len(wanted) // 4):
        return None
    return index, saved_version


def open_signal(files: IndexFiles, name: str, saved_version: int) -> SignalIndex | None:
    """Signal ``name``'s saved index, when it was saved with the search index opened at
    ``saved_version``; None when it must be built from the database."""
    from fingerprint import signal
    from fingerprint.index_file import open_arrays

    path = files.signal(name)
    index = signal.get(name).new_index()
    try:
        opened = open_arrays(path, vouches="rows")
        if opened is None or opened.meta != signal_meta(name, index, saved_version):
            return None
        index.load_arrays(opened.arrays, checked=opened.checked)
    except (ValueError, OSError) as exc:  # IndexFileError is a ValueError
        log.warning("%s index %s unusable (%s): rebuilding it", name, path, exc)
        return None
    opened.mark_checked()  # its sums and the index's own checks: not read again next time
    return index


def save_all(
    files: IndexFiles, search: HashIndex, signals: dict[str, SignalIndex], version: int | None
) -> bool:
    """Save every index (atomically, each); whether it worked.  A failure only costs the next
    start a rebuild, so it is logged, not raised."""
    from fingerprint.index_file import save_arrays, save_index

    try:
        for name, index in signals.items():
            meta = signal_meta(name, index, version)
            save_arrays(files.signal(name), index.to_arrays(), meta)
        save_index(files.search, search, search_meta(version))
    except OSError as exc:
        log.warning("could not save the indexes beside %s: %s", files.database, exc)
        return False
    return True
