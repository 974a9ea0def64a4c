"""The library's change log (``library_changes``, migration 14), which index replicas tail.

Triggers log every clip added, removed or marked (not) benign and every sighting; a change
that no trigger sees (media given a signal's data) is logged here.  A change's id is the
``library_version`` it moved to: gapless, in commit order (see migration 14).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .engine import Database

BATCH = 500  # media ids per IN (...) list


@dataclass(frozen=True)
class Change:
    id: int
    media_id: int
    kind: str  # 'added', 'removed', 'benign', 'not_benign', 'sighted' or 'signals'


def changes_after(db: Database, after: int, limit: int | None = None) -> list[Change]:
    """The logged changes with an id above ``after``, oldest first."""
    sql = "SELECT id, media_id, kind FROM library_changes WHERE id > ? ORDER BY id"
    params: list[int] = [after]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [Change(int(i), int(m), k) for i, m, k in db.execute(sql, params)]


def mark_library_changed(db: Database, media_ids: Iterable[int]) -> None:
    """Log that these media gained a signal's data (no clip changed), so every process puts
    them in that signal's index; each moves ``library_version`` by one."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with db.atomic():
        for media_id in media_ids:
            db.execute("UPDATE library_state SET version = version + 1 WHERE id = 1")
            db.execute(
                "INSERT INTO library_changes (id, media_id, kind, at) "
                "SELECT version, ?, 'signals', ? FROM library_state WHERE id = 1",
                [media_id, now],
            )


def media_states(db: Database, media_ids: Iterable[int]) -> dict[int, tuple[bool, bool]]:
    """(evidence, benign) of each of these media now: whether a clip or sighting has it, and
    whether one of its clips is benign.  Media with neither are left out."""
    ids = sorted(set(media_ids))
    states: dict[int, tuple[bool, bool]] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        marks = ", ".join("?" for _ in chunk)
        for media_id, benign in db.execute(
            f"SELECT media_id, max(benign) FROM clips WHERE media_id IN ({marks}) "
            "GROUP BY media_id",
            chunk,
        ):
            states[int(media_id)] = (True, bool(benign))
        for (media_id,) in db.execute(
            f"SELECT DISTINCT media_id FROM sightings WHERE media_id IN ({marks})", chunk
        ):
            states.setdefault(int(media_id), (True, False))
    return states


def prune_library_changes(db: Database, before: str) -> int:
    """Delete the changes logged before ``before`` (ISO 8601 UTC); returns how many.

    A replica that had not seen them any more re-reads the whole library once."""
    return db.execute("DELETE FROM library_changes WHERE at < ?", [before]).rowcount
