"""`oldclip refingerprint`: give stored media the signals added to oldclip after them.

A library made before a signal existed (local features, sound) holds PDQ hashes only; its
clips still match by them.  The files the library keeps a copy of (``media.path``) are decoded
once more for the missing signals only (PDQ is never redone: stored hashes stay as they are),
so those clips also match by the new signals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import storage

if TYPE_CHECKING:
    from .library import Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefingerprintReport:
    media: int  # media items that lacked a signal and whose file is kept
    updated: int  # of which gained at least one signal
    added: dict[str, int]  # signal name -> media that gained it
    nothing: int  # files decoded whose signals had nothing to say (no sound track...)
    missing_files: int  # kept copies that are gone from disk
    failed: int  # files that could not be decoded (MediaError)


def refingerprint(library: Library) -> RefingerprintReport:
    """Extract and store the missing signals of every media item whose file is kept.

    The library's indexes, here and in other processes, catch up through its version, as
    for a new clip.  A file that no longer decodes is counted and logged, never fatal.
    """
    from fingerprint import MediaError, extract_signals

    db = library.db
    todo = storage.media_missing_signals(db, storage.stored_signal_names())
    added: dict[str, int] = {}
    updated = nothing = missing_files = failed = 0
    changed: list[int] = []
    for media_id, kept, names in todo:
        path = Path(kept)
        if not path.is_file():
            missing_files += 1
            continue
        try:
            found = extract_signals(path, path.name, library.config.limits, names)
        except MediaError as exc:
            log.warning("media %s (%s) not refingerprinted: %s", media_id, path, exc)
            failed += 1
            continue
        with db.atomic():
            stored = storage.store_signals(db, media_id, found)
        for name in stored:
            added[name] = added.get(name, 0) + 1
        updated += bool(stored)
        if stored:
            changed.append(media_id)
        nothing += not stored
    if updated:
        storage.mark_library_changed(db, changed)
        library.refresh()
    return RefingerprintReport(len(todo), updated, added, nothing, missing_files, failed)
