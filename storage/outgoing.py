"""Every message the bot sends, as a durable row: queued, claimed, sent at most once.

A row is one Bot API call that shows something to a person: sendMessage, sendPhoto,
sendMediaGroup or editMessageText.  Its life:

    pending --claim--> sending --answer--> sent
       ^                  |  \\--refused--> pending (retry at next_attempt_at) or failed
       |                  \\--no answer--> unknown (sends) / pending (edits)

The guarantee is **at most once**: a row is claimed (committed as 'sending') before its HTTP
call and is never sent again once claimed, unless Telegram answered that it was refused (429,
400, 403... then nothing was sent).  When the call ends without an answer (connection lost,
read timeout, or oldclip killed during it) nobody knows whether Telegram delivered it, so a
send becomes 'unknown' and is not repeated: a person may miss it, but never gets it twice.
An edit is idempotent (editing to the same text changes nothing), so an unanswered edit goes
back to 'pending' and is made again.  ``recover`` applies this at start-up to rows a killed
process left 'sending'.

Rows of one chat go out in id order (``due`` returns only the head of each chat's queue), so a
reply, its later edit and a photo replying to it keep their order.  ``target`` names an
earlier row: an edit changes that row's message; a send replies to it.  Retries continue until
``give_up_at`` (48 hours by default), not for a fixed count, so a long 429 storm delays
messages and loses none.

Times here are ISO 8601 UTC to the millisecond (``utc_iso_ms``), compared only with each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .checks import telegram_id
from .engine import Database
from .txn import When, immediate, utc_iso, utc_iso_ms

METHODS = ("sendMessage", "sendPhoto", "sendMediaGroup", "editMessageText")
STATES = ("pending", "sending", "sent", "failed", "unknown")
GIVE_UP_AFTER_S = 48 * 3600

_COLUMNS = (
    "id, chat_id, method, params, outbox_id, target, reply_to, state, attempts, "
    "next_attempt_at, give_up_at, message_id, shown_count, error, created_at, claimed_at, sent_at"
)
# The first not-yet-settled row of each chat: only it may go out.
_HEADS = "SELECT min(id) AS id FROM outgoing WHERE state IN ('pending', 'sending') GROUP BY chat_id"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message (or edit) the bot owes a chat."""

    id: int
    chat_id: int
    method: str  # one of METHODS
    params: dict[str, Any]  # Bot API parameters: text, caption, parse_mode, reply_markup...
    outbox_id: int | None  # the alert it shows: its text is drawn from the alert when sent
    target: int | None  # the earlier row it edits (editMessageText) or replies to
    reply_to: int | None  # a Telegram message id to reply to (when ``target`` has no message)
    state: str  # one of STATES
    attempts: int  # calls made (refused or not)
    next_attempt_at: str | None  # not before this; None: now
    give_up_at: str
    message_id: int | None  # the Telegram message once sent (the edited one, for an edit)
    shown_count: int | None  # for alerts: how many reposts the sent text showed
    error: str | None
    created_at: str
    claimed_at: str | None
    sent_at: str | None


def _row(row: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(**{**row, "params": json.loads(row["params"] or "{}")})


def queue(
    db: Database,
    chat_id: int,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    target: int | None = None,
    reply_to: int | None = None,
    outbox_id: int | None = None,
    shown_count: int | None = None,
    files: Iterable[bytes] = (),
    give_up_after_s: float = GIVE_UP_AFTER_S,
    now: When = None,
) -> int:
    """Queue a message for ``chat_id``; return its row id.  ``files`` are the pictures of a
    sendPhoto (one) or sendMediaGroup (several), kept until the row is settled."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "editMessageText" and target is None and not (params or {}).get("message_id"):
        raise ValueError("an edit needs the row (target) or the message_id it changes")
    pictures = list(files)
    if method in ("sendPhoto", "sendMediaGroup") and not pictures and outbox_id is None:
        raise ValueError(f"{method} needs at least one picture")
    with immediate(db):
        cursor = db.execute(
            "INSERT INTO outgoing (chat_id, method, params, outbox_id, target, reply_to, "
            "shown_count, give_up_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                telegram_id("chat_id", chat_id),
                method,
                json.dumps(dict(params or {}), ensure_ascii=False),
                outbox_id,
                target,
                reply_to,
                shown_count,
                utc_iso_ms(now, after_s=give_up_after_s),
                utc_iso_ms(now),
            ],
        )
        row_id = int(cursor.fetchone()[0])
        for position, data in enumerate(pictures):
            db.execute(
                "INSERT INTO outgoing_files (outgoing_id, position, data) VALUES (?, ?, ?)",
                [row_id, position, bytes(data)],
            )
    return row_id


def get(db: Database, row_id: int) -> OutgoingMessage | None:
    row = next(iter(db.query(f"SELECT {_COLUMNS} FROM outgoing WHERE id = ?", [row_id])), None)
    return _row(row) if row else None


def files(db: Database, row_id: int) -> list[bytes]:
    """The pictures queued with a row, in order (none once it is settled)."""
    return [
        bytes(r[0])
        for r in db.execute(
            "SELECT data FROM outgoing_files WHERE outgoing_id = ? ORDER BY position", [row_id]
        )
    ]


def due(db: Database, *, now: When = None, limit: int = 100) -> list[OutgoingMessage]:
    """The rows that may go out now: the head of each chat's queue, if pending and due."""
    rows = db.query(
        f"SELECT {_COLUMNS} FROM outgoing WHERE id IN ({_HEADS}) AND state = 'pending' "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        [utc_iso_ms(now), limit],
    )
    return [_row(row) for row in rows]


def next_due_at(db: Database) -> str | None:
    """When the earliest waiting head of a queue is due (ISO, ms); None if nothing waits."""
    row = db.execute(
        f"SELECT count(*), min(coalesce(next_attempt_at, '')) FROM outgoing "
        f"WHERE id IN ({_HEADS}) AND state = 'pending'"
    ).fetchone()
    if not row[0]:
        return None
    return row[1] or utc_iso_ms()


def claim(db: Database, row_id: int, *, now: When = None) -> bool:
    """Take a pending row for sending (committed before the HTTP call); False if it is not
    pending any more.  From here on the row is never sent again unless Telegram refuses it."""
    cursor = db.execute(
        "UPDATE outgoing SET state = 'sending', claimed_at = ?, attempts = attempts + 1 "
        "WHERE id = ? AND state = 'pending'",
        [utc_iso_ms(now), row_id],
    )
    return cursor.rowcount == 1


def sent(
    db: Database,
    row_id: int,
    message_id: int | None,
    *,
    shown_count: int | None = None,
    now: When = None,
) -> bool:
    """Telegram accepted the claimed row as ``message_id``; its pictures are dropped."""
    with immediate(db):
        cursor = db.execute(
            "UPDATE outgoing SET state = 'sent', message_id = ?, sent_at = ?, error = NULL, "
            "next_attempt_at = NULL, shown_count = coalesce(?, shown_count) "
            "WHERE id = ? AND state = 'sending'",
            [message_id, utc_iso_ms(now), shown_count, row_id],
        )
        db.execute("DELETE FROM outgoing_files WHERE outgoing_id = ?", [row_id])
    return cursor.rowcount == 1


def refused(
    db: Database,
    row_id: int,
    error: str,
    *,
    retry_in_s: float | None,
    now: When = None,
) -> str:
    """Telegram answered that the claimed row was not sent.  It is retried after
    ``retry_in_s`` unless that is None (a permanent refusal) or its give-up time has passed;
    returns the row's new state ('pending' or 'failed')."""
    moment = utc_iso_ms(now)
    retry_at = None if retry_in_s is None else utc_iso_ms(now, after_s=retry_in_s)
    with immediate(db):
        db.execute(
            "UPDATE outgoing SET error = ?, "
            # CAST: PostgreSQL cannot tell the type of a bare NULL parameter.
            "state = CASE WHEN CAST(? AS TEXT) IS NULL OR give_up_at <= ? "
            "THEN 'failed' ELSE 'pending' END, "
            "next_attempt_at = CASE WHEN CAST(? AS TEXT) IS NULL OR give_up_at <= ? "
            "THEN NULL ELSE CAST(? AS TEXT) END "
            "WHERE id = ? AND state = 'sending'",
            [error, retry_at, moment, retry_at, moment, retry_at, row_id],
        )
        state = db.execute("SELECT state FROM outgoing WHERE id = ?", [row_id]).fetchone()
        if state is not None and state[0] == "failed":
            db.execute("DELETE FROM outgoing_files WHERE outgoing_id = ?", [row_id])
    return state[0] if state else "failed"


def unanswered(db: Database, row_id: int, error: str) -> str:
    """The call of a claimed row ended without an answer: Telegram may have delivered it.

    A send becomes 'unknown' and is not repeated (at most once); an edit goes back to
    'pending', as making it again cannot show anything twice.  Returns the new state.
    """
    with immediate(db):
        db.execute(
            "UPDATE outgoing SET error = ?, next_attempt_at = NULL, "
            "state = CASE WHEN method = 'editMessageText' THEN 'pending' ELSE 'unknown' END "
            "WHERE id = ? AND state = 'sending'",
            [error, row_id],
        )
        db.execute(
            "DELETE FROM outgoing_files WHERE outgoing_id = ? AND outgoing_id IN "
            "(SELECT id FROM outgoing WHERE state = 'unknown')",
            [row_id],
        )
        state = db.execute("SELECT state FROM outgoing WHERE id = ?", [row_id]).fetchone()
    return state[0] if state else "unknown"


def send_instead(db: Database, row_id: int) -> bool:
    """An edit whose message cannot be edited (deleted, never sent, or maybe not) becomes a
    new message, replying to that one if it exists, due now.  Only a pending row, or a claimed
    one Telegram refused, so nothing was shown."""
    cursor = db.execute(
        "UPDATE outgoing SET method = 'sendMessage', state = 'pending', next_attempt_at = NULL "
        "WHERE id = ? AND state IN ('pending', 'sending') AND method = 'editMessageText'",
        [row_id],
    )
    return cursor.rowcount == 1


def recover(db: Database) -> list[OutgoingMessage]:
    """At start-up: rows left 'sending' by a process that died during their call are settled
    as ``unanswered`` would; returns the sends now 'unknown', for the log."""
    with immediate(db):
        stuck = [
            _row(row)
            for row in db.query(f"SELECT {_COLUMNS} FROM outgoing WHERE state = 'sending'")
        ]
        for row in stuck:
            unanswered(db, row.id, "oldclip stopped while this was being sent")
    return [row for row in stuck if row.method != "editMessageText"]


# --- alerts -----------------------------------------------------------------------------------


def plan_alert_edits(db: Database, *, since_s: float = GIVE_UP_AFTER_S) -> int:
    """Queue an edit for every alert message that shows fewer reposts than its alert now has.

    Only alerts updated in the last ``since_s`` seconds are looked at.  An alert message that
    is sent (or 'unknown': the edit then becomes a new message) gets at most one edit waiting
    at a time; the edit draws the alert's text when it is made, so it shows every repost that
    joined until then.  A failed edit is not planned again until the alert grows further.
    Returns how many edits were queued.
    """
    since = utc_iso(utc_iso_ms(after_s=-since_s))
    with immediate(db):
        rows = db.execute(
            "SELECT m.chat_id, m.outbox_id, m.id, a.count FROM outbox a "
            "JOIN outgoing m ON m.outbox_id = a.id AND m.target IS NULL "
            "WHERE a.kind = 'repost' AND a.count > 1 AND a.updated_at >= ? "
            "AND m.state IN ('sent', 'unknown') "
            "AND a.count > (SELECT max(coalesce(o.shown_count, 0)) FROM outgoing o "
            "WHERE o.outbox_id = m.outbox_id AND o.chat_id = m.chat_id) "
            "AND NOT EXISTS (SELECT 1 FROM outgoing o WHERE o.outbox_id = m.outbox_id "
            "AND o.chat_id = m.chat_id AND o.state IN ('pending', 'sending'))",
            [since],
        ).fetchall()
        for chat_id, outbox_id, target, count in rows:
            queue(
                db,
                chat_id,
                "editMessageText",
                target=target,
                outbox_id=outbox_id,
                shown_count=count,
            )
    return len(rows)
