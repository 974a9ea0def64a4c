"""A matching process's indexes as a replica of the library: they follow its change log.

Every matching process (each `oldclip worker`, `oldclip run`, the bot) holds the whole index
in memory.  When another process changes the library, re-reading every evidence id would cost
O(library) per change; instead the process applies the changes logged since the last one it
saw (``storage.changes``), each touching one media item.  A replica that fell behind the
oldest kept change (they are pruned) re-reads the library once, and says so.  Both ways change
the process's ``IndexSet`` (``oldclip.indexset``) only through its methods.

Staleness is bounded: a worker catches up at least every ``[library] refresh_s`` even when
idle (``keep_fresh``), and says in a log line how far behind it is when it goes over twice
that.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import storage
from fingerprint.types import INDEXED_VARIANTS

if TYPE_CHECKING:
    import numpy as np

    from fingerprint.types import Fingerprint
    from storage.engine import Database

    from .indexset import IndexSet
    from .library import Library

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0


@dataclass
class ReplicaState:
    """How well this process's indexes follow the library, for logs and tests."""

    caught_up_at: float = field(default_factory=time.monotonic)  # last successful catch-up
    applied: int = 0  # changes applied one by one since start
    full_reads: int = 0  # times the whole library was re-read to catch up

    def behind_s(self) -> float:
        """Seconds since the indexes were last known to be in step with the library."""
        return time.monotonic() - self.caught_up_at


def follow(
    indexes: IndexSet,
    db: Database,
    version: int,
    known: dict[int, Fingerprint] | None = None,
    since: int | None = None,
) -> bool:
    """Apply the changes logged after ``since`` (default: the last applied), or re-read the
    library (``resync``) when they are no longer all kept; returns whether a saved index
    changed."""
    since = indexes.version if since is None else since
    changes = storage.changes_after(db, since) if since is not None else []
    if not changes and since == version:
        return False
    if not changes or changes[0].id != since + 1:
        log.info("library changes after %s are no longer kept: re-reading the whole library", since)
        indexes.state.full_reads += 1
        return resync(indexes, db, version, known)
    indexes.version = changes[-1].id
    indexes.state.applied += len(changes)
    return apply_changes(indexes, db, changes, known or {})


def resync(
    indexes: IndexSet, db: Database, version: int, known: dict[int, Fingerprint] | None = None
) -> bool:
    """Bring every index in step with the whole library; returns whether a saved one (the
    search index, another signal's) changed."""
    known = known or {}
    indexes.version = version
    indexes.forget()  # a media id may now stand for another file
    for media_id, fp in known.items():
        indexes.remember(media_id, fp)
    benign = frozenset(storage.benign_media_ids(db))
    wanted = storage.evidence_media_ids(db) - benign
    before = indexes.indexed()
    for media_id in before.keys() - wanted:
        indexes.drop(media_id)
    replaced = _replaced(indexes, db, before, wanted)
    for media_id in replaced:
        indexes.drop(media_id)  # re-added below, with its new hashes
    for media_id in sorted(wanted - indexes.indexed().keys()):
        indexes.add_media(db, media_id)
    signals_changed = _resync_signals(indexes, db, wanted, set(replaced), known)
    if benign != indexes.benign_ids:
        indexes.read_benign(db, benign)
    return indexes.indexed() != before or signals_changed


def _resync_signals(
    indexes: IndexSet,
    db: Database,
    wanted: set[int],
    replaced: set[int],
    known: dict[int, Fingerprint],
) -> bool:
    """The other signals' indexes in step: what stopped being searchable or stands for
    another file goes, what is searchable and has the signal's data comes in (media given
    a signal later, by ``refingerprint``, included).  Returns whether any changed."""
    changed = False
    for name in list(indexes.signals):
        held = indexes.held(name)
        for media_id in (held - wanted) | (held & replaced):
            changed |= indexes.drop_signals(media_id, [name])
        for media_id in sorted((wanted & storage.signal_media_ids(db, name)) - indexes.held(name)):
            fp = known.get(media_id)
            data = (fp.signals if fp is not None else {}).get(name)
            if data is None:
                data = storage.load_signals(db, media_id).get(name)
            if data is not None:
                changed |= indexes.add_signal(name, media_id, data)
    return changed


def _replaced(
    indexes: IndexSet, db: Database, indexed: dict[int, int], wanted: set[int]
) -> list[int]:
    """Indexed media ids that now stand for another file (deleted, then the id reused).

    SQLite gives a new row the highest id + 1, so an id is only reused once every id above it
    was deleted too: checking from the highest id down, the first one still holding what was
    indexed clears all those below it.  Usually one fingerprint read.
    """
    replaced = []
    for media_id in sorted(indexed.keys() & wanted, reverse=True):
        fp = indexes.load(db, media_id)
        if fp is not None and signature(searchable(fp)) == indexed[media_id]:
            break
        replaced.append(media_id)
    return replaced


def apply_changes(
    indexes: IndexSet, db: Database, changes: list[storage.Change], known: dict[int, Fingerprint]
) -> bool:
    """Bring the indexes in step with these changes only; returns whether a saved index (the
    search index, another signal's) changed.

    Each touched media item is looked at as it is now (evidence? benign?), so the order of its
    changes does not matter; a removal may have freed its id for another file (SQLite reuses
    media ids), so what was indexed under it is read again.  New media's hashes and signal
    data are read in a few batched queries, not one per media item.
    """
    kinds: dict[int, set[str]] = defaultdict(set)
    for change in changes:
        kinds[change.media_id].add(change.kind)
    for media_id in kinds:
        indexes.forget(media_id)  # perhaps another file now, or new signal data
    for media_id, fp in known.items():
        indexes.remember(media_id, fp)
    states = storage.media_states(db, kinds)
    changed = False
    look: list[int] = []  # wanted media that may have signal data the indexes lack
    benign_ids, benign_reread = set(indexes.benign_ids), False
    indexed = indexes.indexed()
    for media_id in sorted(kinds):
        evidence, benign = states.get(media_id, (False, False))
        wanted = evidence and not benign
        reused = "removed" in kinds[media_id]
        if not wanted or reused:
            changed |= indexes.drop(media_id)
            changed |= indexes.drop_signals(media_id)
            indexed.pop(media_id, None)
        if wanted and (media_id not in indexed or "signals" in kinds[media_id]):
            look.append(media_id)
        benign_reread |= (media_id in benign_ids) != benign or (benign and reused)
        (benign_ids.add if benign else benign_ids.discard)(media_id)
    if benign_reread:
        indexes.read_benign(db, frozenset(benign_ids))
    adding = [m for m in look if m not in indexed]
    changed |= indexes.add_rows(list(_searchable_rows(db, adding, known)))
    return _add_signals(indexes, db, look, known) or changed


def _searchable_rows(
    db: Database, media_ids: list[int], known: dict[int, Fingerprint]
) -> Iterator[tuple[int, np.ndarray]]:
    """(media id, indexed hashes) of these media: from ``known`` or read in batches."""
    for media_id in media_ids:
        if media_id in known:
            yield media_id, searchable(known[media_id])
    rest = [m for m in media_ids if m not in known]
    for media_id, hashes, variants in storage.iter_index_rows(db, rest):
        yield media_id, hashes[_indexed()[variants]]


def _add_signals(
    indexes: IndexSet, db: Database, media_ids: list[int], known: dict[int, Fingerprint]
) -> bool:
    """Put these (searchable) media in the signal indexes that lack them and have their data."""
    if not indexes.signals or not media_ids:
        return False
    data = {m: fp.signals for m, fp in known.items()}
    data.update(storage.signals_of(db, [m for m in media_ids if m not in known]))
    changed = False
    for name in indexes.signals:
        for media_id in media_ids:
            value = data.get(media_id, {}).get(name)
            if value is not None:
                changed |= indexes.add_signal(name, media_id, value)
    return changed


async def keep_fresh(
    library: Library, every_s: float, keep_h: float | None = None, role: str | None = None
) -> None:
    """Catch up with the library every ``every_s`` seconds until cancelled, even when no job
    comes (a worker's first match after a quiet night must not wait for a long catch-up), and
    report staleness above twice that.  Runs where the jobs' storage steps run: on the event
    loop, or in a storage thread on a worker's PostgreSQL.  With ``keep_h``, changes logged
    longer ago are pruned once an hour (every worker does it: idempotent and cheap).  With
    ``role`` ('worker', 'run', 'bot') the replica's state also goes into the database after
    every catch-up, for ``oldclip status`` (``oldclip.presence``)."""
    # Only the services keep fresh: a command (`oldclip check`) does not import the event loop
    # and its storage threads (asyncio, concurrent.futures: ~0.04 CPU s of every command).
    import asyncio  # noqa: PLC0415

    from storage.threads import run_step  # noqa: PLC0415

    from .presence import Presence

    presence = Presence(library, role, every_s) if role else None
    pruned_at = -PRUNE_EVERY_S
    try:
        while True:
            await (presence.wait(every_s) if presence else asyncio.sleep(every_s))
            try:
                await run_step(library.db, library.locked, library.refresh)
                if keep_h is not None and time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    before = datetime.now(UTC) - timedelta(hours=keep_h)
                    cutoff = before.isoformat(timespec="seconds")
                    await run_step(library.db, storage.prune_library_changes, library.db, cutoff)
                    pruned_at = time.monotonic()
            except Exception as exc:  # the database gone for a moment: try again next time
                log.warning("could not catch up with the library (%s): trying again", exc)
            report_staleness(library.replica, every_s * 2)
    finally:
        # Stopped (cancelled) wherever it was, asleep or catching up: the row goes.
        if presence is not None:
            await presence.leave_off_loop()


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


def searchable(fp: Fingerprint) -> np.ndarray:
    """The hashes of a media item that go into an index."""
    return fp.hashes[_indexed()[fp.variants]]


@functools.cache
def _indexed() -> np.ndarray:
    """By variant code: whether its hashes are indexed (built on first use: numpy loads only
    with the first fingerprint, not with every `oldclip` command)."""
    import numpy as np

    return np.isin(np.arange(256), INDEXED_VARIANTS)


def signature(hashes: np.ndarray) -> int:
    """A cheap token of indexed hashes: tells a reused media id from the file it stood for."""
    first = hashes[0].tobytes()[:8] if len(hashes) else b""
    return hash((len(hashes), first))
