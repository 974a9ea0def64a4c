"""Read-only counts of what is waiting, for ``oldclip status``: the pipeline, the alerts, the
bot's messages and procrastinate's job queue.

Each is one or two aggregate queries over indexed columns, cheap enough to run from a
monitoring check every minute.  "Stuck" means due now yet untouched since ``before``: an item
waiting for its retry time is not stuck, and one that is due is taken within seconds by a
running `oldclip run` or `oldclip worker`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Database
from .pipeline import ACTIVE_STATES, STATES
from .txn import When, utc_iso, utc_iso_ms


@dataclass(frozen=True)
class Backlog:
    """How many wait, how many of them are stuck, and since when the oldest waits (the
    oldest stuck one for media and messages, the oldest of all for alerts)."""

    waiting: int
    stuck: int
    stuck_since: str | None  # ISO 8601 UTC


def media_states(db: Database) -> dict[str, int]:
    """How many post media are in each pipeline state (every state, 0 included)."""
    counts = dict.fromkeys(STATES, 0)
    for state, n in db.execute("SELECT state, count(*) FROM post_media GROUP BY state"):
        counts[state] = int(n)
    return counts


def media_backlog(db: Database, before: When, now: When = None) -> Backlog:
    """Post media not yet done (in an active state), and those of them due but untouched
    since ``before``."""
    marks = ", ".join("?" for _ in ACTIVE_STATES)
    row = db.execute(
        "SELECT count(*), "
        "sum(CASE WHEN (next_attempt_at IS NULL OR next_attempt_at <= ?) AND updated_at < ? "
        "THEN 1 ELSE 0 END), "
        "min(CASE WHEN (next_attempt_at IS NULL OR next_attempt_at <= ?) AND updated_at < ? "
        "THEN updated_at END) "
        f"FROM post_media WHERE state IN ({marks})",
        [utc_iso(now), utc_iso(before)] * 2 + list(ACTIVE_STATES),
    ).fetchone()
    return Backlog(int(row[0]), int(row[1] or 0), row[2])


def alert_backlog(db: Database, before: When) -> Backlog:
    """Alerts in the outbox no bot has taken yet (planned into messages), and those of them
    created before ``before``; ``stuck_since``: when the oldest undelivered one was made."""
    row = db.execute(
        "SELECT count(*), sum(CASE WHEN created_at < ? THEN 1 ELSE 0 END), min(created_at) "
        "FROM outbox WHERE delivered_at IS NULL",
        [utc_iso(before)],
    ).fetchone()
    return Backlog(int(row[0]), int(row[1] or 0), row[2])


def message_backlog(db: Database, before: When) -> tuple[Backlog, dict[str, int], str | None]:
    """The bot's messages not sent yet (pending or being sent) and those queued before
    ``before``; the count of each unfinished state ('pending', 'sending', 'unknown',
    'failed'); the last error of a stuck one."""
    row = db.execute(
        "SELECT count(*), sum(CASE WHEN created_at < ? THEN 1 ELSE 0 END), "
        "min(CASE WHEN created_at < ? THEN created_at END) "
        "FROM outgoing WHERE state IN ('pending', 'sending')",
        [utc_iso_ms(before)] * 2,
    ).fetchone()
    counts = dict.fromkeys(("pending", "sending", "unknown", "failed"), 0)
    for state, n in db.execute(
        "SELECT state, count(*) FROM outgoing WHERE state <> 'sent' GROUP BY state"
    ):
        counts[state] = int(n)
    error = db.execute(
        "SELECT error FROM outgoing WHERE state IN ('pending', 'sending') AND created_at < ? "
        "AND error IS NOT NULL ORDER BY id LIMIT 1",
        [utc_iso_ms(before)],
    ).fetchone()
    return Backlog(int(row[0]), int(row[1] or 0), row[2]), counts, error and error[0]


@dataclass(frozen=True)
class Jobs:
    """procrastinate's queue: jobs by queue and status, and its workers alive."""

    counts: dict[str, dict[str, int]]  # queue name -> status -> jobs
    workers: int  # workers that sent a heartbeat in the last minute


def job_queue(db: Database) -> Jobs | None:
    """The job queue's counts, or None where it does not exist (SQLite, or no worker nor
    scheduler ever started on this PostgreSQL database)."""
    if db.dialect != "postgresql":
        return None
    if db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is None:
        return None
    counts: dict[str, dict[str, int]] = {}
    for queue, status, n in db.execute(
        "SELECT queue_name, CAST(status AS TEXT), count(*) FROM procrastinate_jobs "
        "GROUP BY queue_name, status ORDER BY queue_name, status"
    ):
        counts.setdefault(queue, {})[status] = int(n)
    workers = db.execute(
        "SELECT count(*) FROM procrastinate_workers "
        "WHERE last_heartbeat > now() - interval '1 minute'"
    ).fetchone()[0]
    return Jobs(counts, int(workers))


@dataclass(frozen=True)
class FailingFeed:
    id: int
    name: str  # its label, else what was typed to add it
    failures: int  # failed polls in a row
    down: bool  # the admins were alerted that it is down
    error: str | None


def feed_health(db: Database) -> tuple[int, list[FailingFeed]]:
    """How many feeds are watched, and those whose last poll failed, most failures first."""
    watched = int(db.execute("SELECT count(*) FROM feeds").fetchone()[0])
    failing = [
        FailingFeed(int(i), label or target, int(n), bool(down), error)
        for i, label, target, n, down, error in db.execute(
            "SELECT id, label, target, consecutive_failures, down_alerted, last_error "
            "FROM feeds WHERE consecutive_failures > 0 ORDER BY consecutive_failures DESC, id"
        )
    ]
    return watched, failing
