"""Row helpers shared by the query modules (clips, media, sightings, the bot's tables).

Kept apart so that those modules, split by the tables they own, write timestamps and read
single rows the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .engine import Database


def now() -> str:
    """The current time as ISO 8601 UTC, to the second: what every *_at column stores."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def one(db: Database, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, list(params))), None)
