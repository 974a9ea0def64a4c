"""Deliveries: an alert's message to each subscribed chat.

The outbox holds one alert; ``plan_deliveries`` turns it into one message per chat in
storage.outgoing (where every message the bot sends waits, is retried and is sent at most
once), so an alert to many subscribers is sent per chat, each with its own retries, and a
restart resumes where it stopped.  Planning is idempotent per (alert, chat).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import outgoing
from .checks import id_list, require_alert
from .engine import Database
from .txn import When, immediate, utc_iso, utc_iso_ms

_DELIVERY_COLUMNS = (
    "id, outbox_id, chat_id, message_id, state, attempts, next_attempt_at, error, created_at, "
    "sent_at"
)  # of the alert's message in ``outgoing``


@dataclass(frozen=True)
class Delivery:
    """One alert's message to one chat (a row of storage.outgoing)."""

    id: int  # the outgoing row
    outbox_id: int
    chat_id: int
    message_id: int | None  # the Telegram message, once sent
    state: str  # one of storage.outgoing.STATES
    attempts: int  # calls made
    next_attempt_at: str | None  # not due before this (ISO 8601 UTC); None: due now
    error: str | None
    created_at: str
    sent_at: str | None


def plan_deliveries(
    db: Database,
    outbox_id: int,
    chat_ids: Iterable[int],
    *,
    evidence: bool = False,
    now: When = None,
) -> int:
    """Queue an alert's message for each chat (see storage.outgoing); return how many are new.

    Idempotent: a chat that already has this alert's message gets no second one, so planning
    again after a crash (or with a chat that subscribed since) is safe.  With ``evidence``,
    each new message is followed by a picture replying to it (drawn when it is sent).  The
    message's text is drawn from the alert when it is sent, and a repost that joins the alert
    later is shown by an edit (``plan_alert_edits``).

    In the same transaction the outbox item is marked delivered (planned) if it was not.
    """
    chats = id_list("chat_ids", chat_ids)
    planned = 0
    with immediate(db):
        require_alert(db, outbox_id)
        count = db.execute("SELECT count FROM outbox WHERE id = ?", [outbox_id]).fetchone()[0]
        for chat_id in chats:
            exists = db.execute(
                "SELECT 1 FROM outgoing WHERE outbox_id = ? AND chat_id = ? AND target IS NULL",
                [outbox_id, chat_id],
            ).fetchone()
            if exists:
                continue
            message = outgoing.queue(
                db, chat_id, "sendMessage", outbox_id=outbox_id, shown_count=count, now=now
            )
            if evidence:
                outgoing.queue(db, chat_id, "sendPhoto", outbox_id=outbox_id, target=message)
            planned += 1
        db.execute(
            "UPDATE outbox SET delivered_at = ?, next_attempt_at = NULL "
            "WHERE id = ? AND delivered_at IS NULL",
            [utc_iso(now), outbox_id],
        )
    return planned


def _deliveries(
    db: Database, where: str, params: list[Any], limit: int | None = None
) -> list[Delivery]:
    sql = (
        f"SELECT {_DELIVERY_COLUMNS} FROM outgoing "
        f"WHERE outbox_id IS NOT NULL AND target IS NULL AND {where} ORDER BY id"
    )
    if limit is not None:
        sql, params = f"{sql} LIMIT ?", [*params, limit]
    rows = db.query(sql, params)
    return [Delivery(**row) for row in rows]


def due_deliveries(db: Database, *, now: When = None, limit: int = 30) -> list[Delivery]:
    """Alert messages not sent yet that are due (no retry time, or it has come), oldest first."""
    return _deliveries(
        db,
        "state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        [utc_iso_ms(now)],
        limit,
    )


def deliveries_of(db: Database, outbox_id: int) -> list[Delivery]:
    """Every chat's message of one alert, in the order they were planned."""
    return _deliveries(db, "outbox_id = ?", [outbox_id])
