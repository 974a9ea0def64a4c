"""A matching process's indexes as a replica of the library: they follow its change log.

Every matching process (each `oldclip worker`, `oldclip run`, the bot) holds the whole index
in memory.  When another process changes the library, re-reading every evidence id would cost
O(library) per change; instead the process applies the changes logged since the last one it
saw (``storage.changes``), each touching one media item.  A replica that fell behind the
oldest kept change (they are pruned) re-reads the library once, and says so.

Staleness is bounded: a worker catches up at least every ``[library] refresh_s`` even when
idle (``keep_fresh``), and says in a log line how far behind it is when it goes over twice
that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import storage

if TYPE_CHECKING:
    from fingerprint.types import Fingerprint

    from .library import Library

log = logging.getLogger(__name__)


@dataclass
class ReplicaState:
    """How well this process's indexes follow the library, for logs and tests."""

    caught_up_at: float = field(default_factory=time.monotonic)  # last successful catch-up
    applied: int = 0  # changes applied one by one since start
    full_reads: int = 0  # times the whole library was re-read to catch up

    def behind_s(self) -> float:
        """Seconds since the indexes were last known to be in step with the library."""
        return time.monotonic() - self.caught_up_at


def apply_changes(
    library: Library, changes: list[storage.Change], known: dict[int, Fingerprint]
) -> bool:
    """Bring ``library``'s indexes in step with these changes only; returns whether a saved
    index (the search index, another signal's) changed.

    Each touched media item is looked at as it is now (evidence? benign?), so the order of its
    changes does not matter; a removal may have freed its id for another file (SQLite reuses
    media ids), so what was indexed under it is read again.
    """
    kinds: dict[int, set[str]] = defaultdict(set)
    for change in changes:
        kinds[change.media_id].add(change.kind)
    for media_id in kinds:
        library._cache.pop(media_id, None)  # perhaps another file now, or new signal data
    for media_id, fp in known.items():
        library._remember(media_id, fp)
    states = storage.media_states(library.db, kinds)
    changed = False
    for media_id in sorted(kinds):
        evidence, benign = states.get(media_id, (False, False))
        wanted = evidence and not benign
        reused = "removed" in kinds[media_id]
        if media_id in library._indexed and (not wanted or reused):
            library._index.remove(media_id)
            del library._indexed[media_id]
            changed = True
        added = wanted and media_id not in library._indexed
        if added:
            library._add(media_id)
            changed = True
        changed |= _apply_signals(
            library, media_id, wanted, reused, added or "signals" in kinds[media_id]
        )
        _apply_benign(library, media_id, benign, reused)
    return changed


def _apply_signals(library: Library, media_id: int, wanted: bool, reused: bool, look: bool) -> bool:
    """The other signals' indexes for one media item; ``look``: whether it may have data they
    do not hold yet (just made searchable, or given a signal's data)."""
    changed = False
    for name, index in library._signal_indexes.items():
        held = library._signal_held[name]
        if media_id in held and (not wanted or reused):
            index.remove(media_id)
            held.discard(media_id)
            changed = True
        if wanted and (look or reused) and media_id not in held:
            fp = library.load(media_id)
            data = fp.signals.get(name) if fp is not None else None
            if data is not None:
                index.add(media_id, data)
                held.add(media_id)
                changed = True
    return changed


def _apply_benign(library: Library, media_id: int, benign: bool, reused: bool) -> None:
    """The benign index for one media item (it is small, and never saved)."""
    was = media_id in library._benign_ids
    if was and (not benign or reused):
        library._benign.remove(media_id)
        library._benign_ids = library._benign_ids - {media_id}
    if benign and media_id not in library._benign_ids:
        fp = library.load(media_id)
        if fp is not None:
            from .library import _searchable

            library._benign.add(media_id, _searchable(fp))
            library._benign_ids = library._benign_ids | {media_id}


async def keep_fresh(library: Library, every_s: float) -> None:
    """Catch up with the library every ``every_s`` seconds until cancelled, even when no job
    comes (a worker's first match after a quiet night must not wait for a long catch-up), and
    report staleness above twice that.  Runs on the event loop, like the jobs using the same
    connection."""
    while True:
        await asyncio.sleep(every_s)
        try:
            library.refresh()
        except Exception as exc:  # the database gone for a moment: try again next time
            log.warning("could not catch up with the library (%s): trying again", exc)
        report_staleness(library.replica, every_s * 2)


def report_staleness(state: ReplicaState, bound_s: float) -> bool:
    """Log how far behind the library the indexes are when over ``bound_s``; whether it did."""
    behind = state.behind_s()
    if behind <= bound_s:
        return False
    log.warning(
        "index replica %.0f s behind the library (bound %.0f s; %d changes applied, "
        "%d full re-reads since start): check the database connection",
        behind,
        bound_s,
        state.applied,
        state.full_reads,
    )
    return True
