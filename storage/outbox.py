"""The alert outbox: alerts waiting for the bot (reposts, feeds down and up again).

The bot reads ``pending_alerts`` and plans each one's messages (storage.deliveries), which
marks it delivered in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .engine import Database
from .txn import When, utc_iso

ALERT_KINDS = frozenset({"repost", "feed_down", "feed_up"})
_OUTBOX_COLUMNS = (
    "id, kind, group_key, payload, count, created_at, updated_at, delivered_at, attempts, "
    "next_attempt_at"
)


@dataclass(frozen=True)
class OutboxItem:
    """An alert waiting for (or given to) the bot."""

    id: int
    kind: str  # "repost", "feed_down", "feed_up"
    group_key: str | None
    payload: dict[str, Any]
    count: int  # how many events were grouped into this alert
    created_at: str
    updated_at: str
    delivered_at: str | None
    attempts: int  # failed delivery attempts
    next_attempt_at: str | None


def _outbox_item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(**{**row, "payload": json.loads(row["payload"])})


def insert_alert(
    db: Database,
    kind: str,
    payload: Mapping[str, Any],
    group_key: str | None,
    now: str,
) -> int:
    """Write a new alert (the caller holds the transaction); return its outbox id."""
    if kind not in ALERT_KINDS:
        raise ValueError(f"alert kind must be one of {', '.join(sorted(ALERT_KINDS))}")
    cursor = db.execute(
        "INSERT INTO outbox (kind, group_key, payload, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        [kind, group_key, json.dumps(dict(payload), ensure_ascii=False), now, now],
    )
    return int(cursor.fetchone()[0])


def add_alert(
    db: Database,
    kind: str,
    payload: Mapping[str, Any],
    group_key: str | None = None,
) -> int:
    """Queue an alert (e.g. 'feed_down' / 'feed_up' for admins); return its outbox id."""
    return insert_alert(db, kind, payload, group_key, utc_iso())


def get_alert(db: Database, outbox_id: int) -> OutboxItem | None:
    """One outbox item, delivered or not, or None."""
    row = next(
        iter(db.query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", [outbox_id])), None
    )
    return _outbox_item(row) if row else None


def pending_alerts(db: Database, *, now: When = None, limit: int = 50) -> list[OutboxItem]:
    """Undelivered alerts that are due, oldest first."""
    rows = db.query(
        f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        [utc_iso(now), limit],
    )
    return [_outbox_item(row) for row in rows]
