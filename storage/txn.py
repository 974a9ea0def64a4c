"""Write transactions and timestamps shared by the pipeline and feed queries.

Multi-statement writes that first read and then decide (is this post new? is there an open
alert to append to?) must hold the write lock from their first read, or two processes can both
decide "new".  ``immediate`` takes it (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
PostgreSQL: see storage.engine); nested inside an outer transaction it becomes a savepoint.

Every timestamp the pipeline compares (``next_attempt_at``, ``created_at``) is written by
``utc_iso`` in one fixed format, ISO 8601 UTC to the second, so that SQL string comparison is
time order.  The bot's outgoing messages use ``utc_iso_ms`` instead (to the millisecond: a
retry_after may be shorter than a second), and only ever compare it with itself.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from .engine import Database

When = datetime | str | None


def immediate(db: Database) -> contextlib.AbstractContextManager[Database]:
    """Run the block in one write transaction taken up front (a savepoint when nested)."""
    return db.immediate()


def to_datetime(value: When) -> datetime:
    """``value`` as an aware UTC datetime (now when None; naive values are taken as UTC)."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date-time, got {value!r}") from None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_iso(value: When = None) -> str:
    """The canonical stored form of a time: ISO 8601 UTC to the second."""
    return to_datetime(value).isoformat(timespec="seconds")


def utc_iso_after(seconds: float, now: When = None) -> str:
    """``utc_iso`` of ``now`` + ``seconds``, rounded up so a retry never comes early."""
    moment = to_datetime(now) + timedelta(seconds=seconds)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return utc_iso(moment)


def utc_iso_ms(value: When = None, *, after_s: float = 0.0) -> str:
    """ISO 8601 UTC to the millisecond, ``after_s`` seconds after ``value`` (default: now)."""
    moment = to_datetime(value) + timedelta(seconds=after_s)
    return moment.isoformat(timespec="milliseconds")
