"""Sightings: where and when stored media were seen reposted.

A repost is dated against the earliest of them (``storage.reposts``), so they are kept apart
from the clips, which record where footage was first *published*.
"""

from __future__ import annotations

from datetime import datetime

from .engine import Database
from .media import media_exists
from .models import Sighting
from .rows import one

_SIGHTING_COLUMNS = "id, media_id, url, source, post_url, seen_at"


def add_sighting(
    db: Database,
    media_id: int,
    *,
    url: str,
    source: str,
    seen_at: str,
    post_url: str | None = None,
) -> int:
    """Record that stored media was seen reposted; return the sighting id."""
    try:
        datetime.fromisoformat(seen_at)
    except (TypeError, ValueError):
        raise ValueError(f"seen_at must be an ISO 8601 date-time, got {seen_at!r}") from None
    if not media_exists(db, media_id):
        raise ValueError(f"no media with id {media_id}")
    cursor = db.execute(
        "INSERT INTO sightings (media_id, url, source, post_url, seen_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        [media_id, url, source, post_url, seen_at],
    )
    return int(cursor.fetchone()[0])


def sightings_for_media(db: Database, media_id: int) -> list[Sighting]:
    """Every sighting of a media item, earliest first (ties by insertion order)."""
    return [
        Sighting(**row)
        for row in db.query(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE media_id = ? ORDER BY seen_at, id",
            [media_id],
        )
    ]


def earliest_sighting(db: Database, media_id: int) -> Sighting | None:
    """The first recorded sighting of a media item (what a repost is dated against), or None."""
    row = one(
        db,
        f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE media_id = ? "
        "ORDER BY seen_at, id LIMIT 1",
        [media_id],
    )
    return Sighting(**row) if row else None
