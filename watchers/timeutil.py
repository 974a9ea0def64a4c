"""Turning the many date formats of sources into tz-aware UTC datetimes.

"Is this footage old?" is decided by comparing dates across sources, so every date must be
aware and in UTC; a naive or unparseable date becomes None rather than a wrong guess.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime


def parse_iso(value: object) -> datetime | None:
    """Parse an ISO 8601 timestamp ("2026-11-20T08:15:42Z", "+03:00", fractions) to UTC.

    A timestamp without a zone is taken as UTC (what Mastodon/Bluesky mean); anything that is
    not a string or does not parse gives None.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def from_struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's *_parsed fields are struct_time already normalised to UTC."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None
