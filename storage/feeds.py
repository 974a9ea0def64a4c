"""Watched feeds: what the user asked to follow, and each feed's polling state and health.

A feed is identified by (kind, url): adding it again returns the existing row.  Feeds listed in
the config file are re-applied at every start, so for ``source="config"`` a re-add updates the
settings the config owns (interval, label, language, filters); a re-add from the command line
changes nothing.

Health: ``record_poll_failure`` returns True exactly once when a feed reaches ``down_after``
consecutive failures, and ``record_poll_success`` returns True exactly once when a feed that
was reported down works again, so the caller sends one "down" and one "recovered" alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .engine import Database
from .txn import immediate, utc_iso
from .urls import web_url

FEED_SOURCES = frozenset({"cli", "config"})

_FEED_COLUMNS = (
    "id, kind, target, url, label, language, interval_s, include, exclude, source, created_at, "
    "etag, last_modified, cursor, last_polled_at, last_success_at, last_error, "
    "consecutive_failures, down_alerted, "
    "(SELECT count(*) FROM skipped_items s WHERE s.feed_id = feeds.id) AS skipped_items, "
    "(SELECT s.reason FROM skipped_items s WHERE s.feed_id = feeds.id ORDER BY s.id DESC LIMIT 1) "
    "AS last_skipped"
)


@dataclass(frozen=True)
class Feed:
    """One watched feed and its polling state."""

    id: int
    kind: str  # watcher kind: "rss", "telegram", "mastodon", ...
    target: str  # what the user typed (a handle, channel name or URL)
    url: str  # what is actually polled
    label: str | None
    language: str | None
    interval_s: int
    include: list[str]  # keep only posts matching one of these (empty: keep all)
    exclude: list[str]  # drop posts matching any of these
    source: str  # "cli" or "config": who added it
    created_at: str
    etag: str | None
    last_modified: str | None
    cursor: str | None
    last_polled_at: str | None
    last_success_at: str | None
    last_error: str | None
    consecutive_failures: int
    down_alerted: bool  # a "feed down" alert was raised and no success has been seen since
    skipped_items: int = 0  # items of the feed refused at the door (see record_skipped_item)
    last_skipped: str | None = None  # why the latest of them was refused


def _feed(row: dict[str, Any]) -> Feed:
    return Feed(
        **{
            **row,
            "include": json.loads(row["include"] or "[]"),
            "exclude": json.loads(row["exclude"] or "[]"),
            "down_alerted": bool(row["down_alerted"]),
        }
    )


def _terms(name: str, values: Iterable[str]) -> str:
    if isinstance(values, str):
        # A bare string would otherwise be stored as a list of its characters.
        raise TypeError(f"{name} must be a list of strings, not a single string")
    return json.dumps([str(v) for v in values], ensure_ascii=False)


def add_feed(
    db: Database,
    *,
    kind: str,
    target: str,
    url: str,
    interval_s: int,
    label: str | None = None,
    language: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    source: str = "cli",
) -> tuple[int, bool]:
    """Add a feed to watch; return (feed id, whether it was new).

    The same (kind, url) again returns the existing id; with ``source="config"`` the existing
    row takes this call's interval, label, language and filters.
    """
    if source not in FEED_SOURCES:
        raise ValueError(f"source must be 'cli' or 'config', got {source!r}")
    for name, value in (("kind", kind), ("target", target)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must not be empty")
    if isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s <= 0:
        raise ValueError(f"interval_s must be a positive number of seconds, got {interval_s!r}")
    include_json = _terms("include", include)
    exclude_json = _terms("exclude", exclude)
    url = web_url(url, "feed link")
    with immediate(db):
        cursor = db.execute(
            "INSERT INTO feeds (kind, target, url, label, language, interval_s, include, exclude, "
            "source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(kind, url) DO NOTHING",
            [
                kind,
                target,
                url,
                label,
                language,
                interval_s,
                include_json,
                exclude_json,
                source,
                utc_iso(),
            ],
        )
        created = cursor.rowcount == 1
        feed_id = int(
            db.execute("SELECT id FROM feeds WHERE kind = ? AND url = ?", [kind, url]).fetchone()[0]
        )
        if not created and source == "config":
            db.execute(
                "UPDATE feeds SET interval_s = ?, label = ?, language = ?, include = ?, "
                "exclude = ? WHERE id = ?",
                [interval_s, label, language, include_json, exclude_json, feed_id],
            )
    return feed_id, created


def list_feeds(db: Database) -> list[Feed]:
    """Every feed, oldest id first."""
    return [_feed(row) for row in db.query(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id")]


def get_feed(db: Database, feed_id: int) -> Feed | None:
    """The feed with this id, or None."""
    row = next(iter(db.query(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", [feed_id])), None)
    return _feed(row) if row else None


def remove_feed(db: Database, feed_id: int) -> bool:
    """Stop watching a feed; return False if there was none.  Its posts stay (feed_id NULL)."""
    with immediate(db):
        # Explicit, so posts survive even on a connection opened without foreign keys.
        db.execute("UPDATE posts SET feed_id = NULL WHERE feed_id = ?", [feed_id])
        db.execute("DELETE FROM skipped_items WHERE feed_id = ?", [feed_id])
        cursor = db.execute("DELETE FROM feeds WHERE id = ?", [feed_id])
    return cursor.rowcount == 1


def record_poll_success(
    db: Database,
    feed_id: int,
    *,
    etag: str | None,
    last_modified: str | None,
    cursor: str | None = None,
) -> bool:
    """Record a successful poll; return True if the feed had been reported down (recovered).

    ``etag`` and ``last_modified`` replace the stored ones (None clears them); ``cursor`` is
    kept when None, so a watcher that does not page by cursor never wipes one.
    """
    now = utc_iso()
    with immediate(db):
        row = db.execute("SELECT down_alerted FROM feeds WHERE id = ?", [feed_id]).fetchone()
        if row is None:
            return False
        db.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, cursor = COALESCE(?, cursor), "
            "last_polled_at = ?, last_success_at = ?, consecutive_failures = 0, "
            "down_alerted = 0 WHERE id = ?",
            [etag, last_modified, cursor, now, now, feed_id],
        )
    return bool(row[0])


def record_poll_failure(db: Database, feed_id: int, error: str, *, down_after: int) -> bool:
    """Record a failed poll; return True exactly once, when failures in a row reach
    ``down_after`` (the caller then sends one "feed down" alert)."""
    if down_after < 1:
        raise ValueError(f"down_after must be at least 1, got {down_after}")
    with immediate(db):
        row = db.execute(
            "SELECT consecutive_failures, down_alerted FROM feeds WHERE id = ?", [feed_id]
        ).fetchone()
        if row is None:
            return False
        failures = int(row[0]) + 1
        goes_down = failures >= down_after and not row[1]
        db.execute(
            "UPDATE feeds SET consecutive_failures = ?, last_error = ?, last_polled_at = ?, "
            "down_alerted = CASE WHEN ? = 1 THEN 1 ELSE down_alerted END WHERE id = ?",
            [failures, error, utc_iso(), int(goes_down), feed_id],
        )
    return goes_down


def set_feed_url(db: Database, feed_id: int, url: str) -> bool:
    """Poll a feed at a new URL from now on (e.g. after a permanent redirect); return whether
    the row changed.  False too when another feed of the same kind already polls ``url``."""
    url = web_url(url, "the new feed link")
    cursor = db.execute(
        "UPDATE feeds SET url = ? WHERE id = ? AND url != ? AND NOT EXISTS "
        "(SELECT 1 FROM feeds other WHERE other.kind = feeds.kind AND other.url = ?)",
        [url, feed_id, url, url],
    )
    return cursor.rowcount == 1


def record_skipped_item(db: Database, feed_id: int, item: str, reason: str) -> bool:
    """Record that a feed carried an item that could not be taken, and why; return True the
    first time (a feed that keeps serving the item is recorded once)."""
    cursor = db.execute(
        "INSERT INTO skipped_items (feed_id, item, reason, seen_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(feed_id, item) DO NOTHING",
        [feed_id, item, reason, utc_iso()],
    )
    return cursor.rowcount == 1
