"""When Telegram's 429 lets a bot send again, shared by every process sending with it.

Telegram answers a flood with 429 and ``retry_after``, and does not say whether the limit hit
was one chat's or the bot's: every sender of that bot must wait, or sending on prolongs the
wait.  With several senders (`oldclip bot` on two hosts behind a webhook) the one that got
the 429 is not the only one, so the time is recorded here, per bot (the numeric id that
begins its token, never the token), and every courier reads it before each send.

Times are ``utc_iso_ms`` strings (a retry_after may be under a second), only ever compared
with each other; a later 429 can only push the time further, never bring it forward.
"""

from __future__ import annotations

from datetime import datetime

from .engine import Database
from .txn import When, to_datetime, utc_iso_ms


def hold(db: Database, bot_id: int, seconds: float, *, now: When = None) -> str:
    """No message from bot ``bot_id`` for ``seconds`` from ``now``; returns the time kept."""
    until = utc_iso_ms(now, after_s=seconds)
    db.execute(
        "INSERT INTO bot_send_pauses (bot_id, not_before) VALUES (?, ?) "
        "ON CONFLICT (bot_id) DO UPDATE SET not_before = excluded.not_before "
        "WHERE excluded.not_before > bot_send_pauses.not_before",
        [bot_id, until],
    )
    return held_until(db, bot_id) or until


def held_until(db: Database, bot_id: int) -> str | None:
    """The last 429's end for this bot (past or future), or None if it never had one."""
    row = db.execute("SELECT not_before FROM bot_send_pauses WHERE bot_id = ?", [bot_id]).fetchone()
    return row[0] if row else None


def seconds_left(db: Database, bot_id: int, *, now: When = None) -> float:
    """How long bot ``bot_id`` must still wait before sending (0 when it may send now)."""
    until = held_until(db, bot_id)
    if until is None:
        return 0.0
    return max(0.0, (datetime.fromisoformat(until) - to_datetime(now)).total_seconds())
