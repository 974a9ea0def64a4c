"""State shared by several bot processes (schema 12): dialogues, rate limits, secrets, the
Telegram updates taken, and sends left behind by a process that died.

Behind one webhook any process may take a person's next update, so nothing a conversation
depends on may live in one process's memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import outgoing
from .checks import telegram_id
from .engine import Database
from .rows import one
from .txn import When, immediate, utc_iso, utc_iso_ms


@dataclass(frozen=True)
class Dialogue:
    """A conversation in progress with one person in one chat (e.g. the /add questions)."""

    chat_id: int
    user_id: int
    kind: str  # what the conversation is, e.g. "add"
    data: dict[str, Any]  # whatever its handler keeps between answers
    step: int  # answers taken so far: the compare-and-set between processes
    started_at: str  # ISO 8601 UTC


def start_dialogue(
    db: Database,
    chat_id: int,
    user_id: int,
    kind: str,
    data: dict[str, Any],
    *,
    forget_before: When = None,
) -> None:
    """Begin (or begin again) a person's dialogue in a chat, at step 0.

    Dialogues started before ``forget_before`` (anyone's: abandoned ones are otherwise never
    touched again) are deleted in the same transaction.
    """
    telegram_id("chat_id", chat_id)
    telegram_id("user_id", user_id)
    text = json.dumps(data, ensure_ascii=False)
    with immediate(db):
        if forget_before is not None:
            db.execute("DELETE FROM bot_dialogues WHERE started_at < ?", [utc_iso(forget_before)])
        db.execute(
            "INSERT INTO bot_dialogues (chat_id, user_id, kind, data, step, started_at) "
            "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(chat_id, user_id) DO UPDATE SET "
            "kind = excluded.kind, data = excluded.data, step = 0, "
            "started_at = excluded.started_at",
            [chat_id, user_id, kind, text, utc_iso()],
        )


def get_dialogue(db: Database, chat_id: int, user_id: int) -> Dialogue | None:
    """The person's dialogue in this chat, or None."""
    row = one(
        db,
        "SELECT chat_id, user_id, kind, data, step, started_at FROM bot_dialogues "
        "WHERE chat_id = ? AND user_id = ?",
        [chat_id, user_id],
    )
    return Dialogue(**{**row, "data": json.loads(row["data"])}) if row else None


def advance_dialogue(
    db: Database, chat_id: int, user_id: int, step: int, data: dict[str, Any]
) -> bool:
    """Record the answer to step ``step``; False if another process took an answer to it
    first (or the dialogue ended meanwhile): then this answer is not the dialogue's."""
    cursor = db.execute(
        "UPDATE bot_dialogues SET data = ?, step = step + 1 "
        "WHERE chat_id = ? AND user_id = ? AND step = ?",
        [json.dumps(data, ensure_ascii=False), chat_id, user_id, step],
    )
    return cursor.rowcount == 1


def end_dialogue(db: Database, chat_id: int, user_id: int, *, step: int | None = None) -> bool:
    """Delete the dialogue (only if still at ``step``, when given); True if this call did.

    With ``step``, of two processes finishing the same dialogue only one gets True.
    """
    sql = "DELETE FROM bot_dialogues WHERE chat_id = ? AND user_id = ?"
    params: list[Any] = [chat_id, user_id]
    if step is not None:
        sql += " AND step = ?"
        params.append(step)
    return db.execute(sql, params).rowcount == 1


def take_request(db: Database, user_id: int, *, per_minute: float, burst: int, now: float) -> float:
    """Take one request from the person's token bucket (``burst`` deep, refilled at
    ``per_minute``); 0 when it may go ahead, else the seconds until the next one.

    ``now`` is wall-clock seconds (time.time()): the bucket is shared by every bot process,
    so it cannot be a monotonic clock.  A clock that went back counts as no time passed.
    """
    telegram_id("user_id", user_id)
    rate = per_minute / 60.0
    with immediate(db):
        row = db.execute(
            "SELECT tokens, updated_at FROM bot_rate_limits WHERE user_id = ?", [user_id]
        ).fetchone()
        tokens, last = (float(burst), now) if row is None else (float(row[0]), float(row[1]))
        tokens = min(float(burst), tokens + max(now - last, 0.0) * rate)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
        if not wait:
            tokens -= 1.0
        db.execute(
            "INSERT INTO bot_rate_limits (user_id, tokens, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET tokens = excluded.tokens, "
            "updated_at = excluded.updated_at",
            [user_id, tokens, max(now, last)],
        )
    return wait


def shared_secret(db: Database, name: str, make: Callable[[], str]) -> str:
    """The secret called ``name``, made with ``make`` by whichever process asks first; every
    other process (another host on the same database) gets that same value."""
    with immediate(db):
        db.execute(
            "INSERT INTO bot_secrets (name, value, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO NOTHING",
            [name, make(), utc_iso()],
        )
        return str(db.execute("SELECT value FROM bot_secrets WHERE name = ?", [name]).fetchone()[0])


def claim_update(db: Database, update_id: int, *, forget_before: When = None) -> bool:
    """Take a Telegram update for processing; False if some process already took it (Telegram
    sent it again).  Ids received before ``forget_before`` are forgotten meanwhile."""
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        raise ValueError(f"update_id must be an integer, got {update_id!r}")
    with immediate(db):
        if forget_before is not None:
            db.execute("DELETE FROM bot_updates WHERE received_at < ?", [utc_iso(forget_before)])
        cursor = db.execute(
            "INSERT INTO bot_updates (update_id, received_at) VALUES (?, ?) "
            "ON CONFLICT(update_id) DO NOTHING",
            [update_id, utc_iso()],
        )
    return cursor.rowcount == 1


def recover_stale_sends(db: Database, *, claimed_before: When) -> list[outgoing.OutgoingMessage]:
    """``outgoing.recover`` for several senders on one database: only rows claimed before
    ``claimed_before`` are settled (their sender died; a live one would have had its answer by
    then), never a row another live process is sending right now.  Returns the sends now
    'unknown', for the log."""
    cutoff = utc_iso_ms(claimed_before)
    with immediate(db):
        ids = db.execute(
            "SELECT id FROM outgoing WHERE state = 'sending' AND claimed_at < ?", [cutoff]
        ).fetchall()
        stuck = [row for (row_id,) in ids if (row := outgoing.get(db, int(row_id))) is not None]
        for row in stuck:
            outgoing.unanswered(db, row.id, "the process sending this stopped during the call")
    return [row for row in stuck if row.method != "editMessageText"]
