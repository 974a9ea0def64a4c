"""Which processes hold an index replica, and how well each follows the library (migration 15).

Every matching process (``oldclip worker``, ``run``, ``bot``) writes its row at each catch-up
and at least every ~15 s (``oldclip.presence``); ``oldclip status`` reads them all, from any
host, to tell whether every replica is within its bound.  Times are ISO 8601 UTC to the
millisecond, from the writing host's clock (hosts are expected to share the wall clock, as
``bot_rate_limits`` already does); they are only ever compared with each other as strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Database
from .txn import When, utc_iso_ms

_COLUMNS = (
    "host, pid, role, started_at, refresh_s, version, behind_s, applied, full_reads, "
    "caught_up_at, seen_at"
)


@dataclass(frozen=True)
class ReplicaRow:
    """One process's last report."""

    host: str
    pid: int
    role: str  # 'worker', 'run' or 'bot'
    started_at: str
    refresh_s: float  # its ``[library] refresh_s``: its bound is twice that
    version: int | None  # the library version its indexes applied; None: not loaded yet
    behind_s: float  # how far behind it was when it reported
    applied: int  # changes applied one by one since it started
    full_reads: int  # whole-library re-reads since it started
    caught_up_at: str  # when it was last known in step with the library
    seen_at: str  # when it reported


def record_replica(db: Database, row: ReplicaRow) -> None:
    """Write (or replace) this process's row."""
    values = [
        row.host,
        row.pid,
        row.role,
        row.started_at,
        row.refresh_s,
        row.version,
        row.behind_s,
        row.applied,
        row.full_reads,
        row.caught_up_at,
        row.seen_at,
    ]
    db.execute(
        f"INSERT INTO replicas ({_COLUMNS}) VALUES ({', '.join('?' for _ in values)}) "
        "ON CONFLICT (host, pid) DO UPDATE SET role = excluded.role, "
        "started_at = excluded.started_at, refresh_s = excluded.refresh_s, "
        "version = excluded.version, behind_s = excluded.behind_s, "
        "applied = excluded.applied, full_reads = excluded.full_reads, "
        "caught_up_at = excluded.caught_up_at, seen_at = excluded.seen_at",
        values,
    )


def forget_replica(db: Database, host: str, pid: int) -> bool:
    """Delete a process's row (it stops cleanly); whether there was one."""
    return db.execute("DELETE FROM replicas WHERE host = ? AND pid = ?", [host, pid]).rowcount > 0


def list_replicas(db: Database) -> list[ReplicaRow]:
    """Every row, by host, role and pid."""
    rows = db.query(f"SELECT {_COLUMNS} FROM replicas ORDER BY host, role, pid")
    return [
        ReplicaRow(
            **{
                **row,
                "pid": int(row["pid"]),
                "version": None if row["version"] is None else int(row["version"]),
            }
        )
        for row in rows
    ]


def prune_replicas(db: Database, before: When) -> int:
    """Delete the rows of processes not heard from since ``before``; returns how many."""
    return db.execute("DELETE FROM replicas WHERE seen_at < ?", [utc_iso_ms(before)]).rowcount
