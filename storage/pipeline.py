"""The durable pipeline: posts and their media's processing state.

Each media item of a post moves new → fetched → fingerprinted → matched → notified, or ends in
failed.  Every step is written before the next starts, so a restart resumes from the stored
state.  What keeps a restart from doing things twice:

- ``record_post`` is idempotent per (source, post_url): a post seen again adds nothing.
- ``advance`` is compare-and-set: it moves a row only if it is still in the expected state, so
  of two workers (or a worker and its restarted self) only one wins a step.
- the step to 'notified' is storage.reposts' ``record_repost_and_alert``, one transaction with
  the repost and its alert (storage.outbox), so no alert is ever queued twice.

storage/ does not import watchers/: callers pass plain values (media as dicts, or any object
with the same attributes, such as watchers.post.MediaRef).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .engine import Database
from .txn import When, immediate, utc_iso, utc_iso_after
from .urls import is_web_url, shown, web_url

STATES = ("new", "fetched", "fingerprinted", "matched", "notified", "failed")
ACTIVE_STATES = ("new", "fetched", "fingerprinted", "matched")
TOO_BIG_ERROR = "too big for the web preview"

_ADVANCE_FIELDS = frozenset({"file_path", "media_id", "error"})

_POST_MEDIA_SELECT = (
    "SELECT pm.id, pm.post_id, pm.url, pm.kind, pm.mime, pm.too_big, pm.thumbnail_url, "
    "pm.state, pm.file_path, pm.media_id, pm.error, pm.attempts, pm.next_attempt_at, "
    "pm.updated_at, p.post_url, p.source, p.external_id, p.author, p.published, p.text, "
    "p.forwarded_from, p.first_seen_at, p.feed_id, f.label AS feed_label, "
    "f.language AS feed_language, p.provenance "
    "FROM post_media pm JOIN posts p ON p.id = pm.post_id "
    "LEFT JOIN feeds f ON f.id = p.feed_id"
)


@dataclass(frozen=True)
class PostMedia:
    """One media item of a post, with its pipeline state and the post it belongs to."""

    id: int
    post_id: int
    url: str  # what to download (the thumbnail when the source said the media is too big)
    kind: str | None  # "video", "photo", "gif", "thumbnail"
    mime: str | None
    too_big: bool
    thumbnail_url: str | None
    state: str  # one of STATES
    file_path: str | None  # the downloaded file, once fetched
    media_id: int | None  # the stored media, once fingerprinted
    error: str | None
    attempts: int  # failed attempts at the current step
    next_attempt_at: str | None  # not due before this (ISO 8601 UTC); None: due now
    updated_at: str
    post_url: str
    source: str
    external_id: str
    author: str | None
    published: str | None
    text: str | None
    forwarded_from: str | None
    first_seen_at: str
    feed_id: int | None
    feed_label: str | None
    feed_language: str | None
    provenance: dict[str, Any] | None = (
        None  # the post is a source for the library (see record_post)
    )


def _post_media(row: dict[str, Any]) -> PostMedia:
    provenance = json.loads(row["provenance"]) if row["provenance"] else None
    return PostMedia(**{**row, "too_big": bool(row["too_big"]), "provenance": provenance})


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _optional_iso(value: datetime | str | None) -> str | None:
    return None if value is None else utc_iso(value)


def record_post(
    db: Database,
    *,
    feed_id: int | None,
    source: str,
    external_id: str,
    post_url: str,
    author: str | None,
    published: datetime | str | None,
    text: str | None,
    forwarded_from: str | None,
    media: Iterable[Mapping[str, Any]],
    provenance: Mapping[str, Any] | None = None,
    published_from: str | None = None,
) -> tuple[int, bool]:
    """Store a post and its media (state 'new'); return (post id, whether it was new).

    ``published_from`` names the source field the date came from (see migration 9).

    ``provenance`` (JSON-able) marks a post whose media are library material, e.g. a
    fact-check's footage with its claim and verdict, rather than posts to check.

    A post already stored (same source and post_url) adds nothing, media included.  A media
    item the source called too big is stored as its thumbnail (kind 'thumbnail') when it has
    one, else straight as 'failed' with the error "too big for the web preview".

    Only web links are stored: a post whose link is not one is refused (UnsafeURLError, a
    ValueError saying why, so the caller records it and goes on with the next post); a media
    link that is not one (``file:``, ``data:``, ``javascript:``) is stored as 'failed' with
    the reason, so nobody wonders where it went.
    """
    post_url = web_url(post_url, "post link")
    items = []
    for item in media:
        url = _field(item, "url")
        kind = _field(item, "kind")
        too_big = bool(_field(item, "too_big", False))
        thumbnail_url = _field(item, "thumbnail_url")
        state, error = "new", None
        if too_big:
            if thumbnail_url:
                url, kind = thumbnail_url, "thumbnail"
            else:
                state, error = "failed", TOO_BIG_ERROR
        if not url:
            raise ValueError(f"media of {post_url} has no url")
        if state == "new" and not is_web_url(url):
            state, error = "failed", unsafe_media_error(url)
            url = shown(url)  # a data: link can be megabytes; what it was is enough
        items.append((url, kind, _field(item, "mime"), int(too_big), thumbnail_url, state, error))
    now = utc_iso()
    with immediate(db):
        cursor = db.execute(
            "INSERT INTO posts (feed_id, source, external_id, post_url, author, published, text, "
            "forwarded_from, first_seen_at, provenance, published_from) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(source, post_url) DO NOTHING",
            [
                feed_id,
                source,
                external_id,
                post_url,
                author,
                _optional_iso(published),
                text,
                forwarded_from,
                now,
                json.dumps(dict(provenance), ensure_ascii=False) if provenance else None,
                published_from,
            ],
        )
        created = cursor.rowcount == 1
        post_id = int(
            db.execute(
                "SELECT id FROM posts WHERE source = ? AND post_url = ?", [source, post_url]
            ).fetchone()[0]
        )
        if created:
            for url, kind, mime, too_big, thumbnail_url, state, error in items:
                db.execute(
                    "INSERT INTO post_media (post_id, url, kind, mime, too_big, thumbnail_url, "
                    "state, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(post_id, url) DO NOTHING",
                    [post_id, url, kind, mime, too_big, thumbnail_url, state, error, now],
                )
    return post_id, created


def unsafe_media_error(url: str) -> str:
    """Why a media link was not downloaded: it is not a web link."""
    return f"media link {shown(url)!r} is not a web link: only http:// and https:// are downloaded"


def get_post_media(db: Database, post_media_id: int) -> PostMedia | None:
    """One media row with its post, or None."""
    row = next(iter(db.query(f"{_POST_MEDIA_SELECT} WHERE pm.id = ?", [post_media_id])), None)
    return _post_media(row) if row else None


def media_of_post(db: Database, post_id: int) -> list[PostMedia]:
    """The media rows of one post, in the order they were given."""
    return [
        _post_media(row)
        for row in db.query(f"{_POST_MEDIA_SELECT} WHERE pm.post_id = ? ORDER BY pm.id", [post_id])
    ]


def due_media(
    db: Database,
    *,
    states: Iterable[str] = ACTIVE_STATES,
    now: When = None,
    limit: int = 100,
    feed_id: int | None = None,
) -> list[PostMedia]:
    """Rows in one of ``states`` that are due (no retry time, or it has come), oldest first;
    only ``feed_id``'s posts' when given."""
    wanted = list(states)
    unknown = set(wanted) - set(STATES)
    if unknown:
        raise ValueError(f"unknown pipeline state(s): {', '.join(sorted(unknown))}")
    if not wanted:
        return []
    marks = ", ".join("?" for _ in wanted)
    of_feed = "" if feed_id is None else "AND p.feed_id = ? "
    rows = db.query(
        f"{_POST_MEDIA_SELECT} WHERE pm.state IN ({marks}) "
        f"AND (pm.next_attempt_at IS NULL OR pm.next_attempt_at <= ?) {of_feed}"
        "ORDER BY pm.id LIMIT ?",
        [*wanted, utc_iso(now), *([] if feed_id is None else [feed_id]), limit],
    )
    return [_post_media(row) for row in rows]


def advance(
    db: Database,
    post_media_id: int,
    new_state: str,
    *,
    expect: str,
    **fields: Any,
) -> bool:
    """Move a media row to ``new_state`` if it is still in ``expect``; return whether it moved.

    ``fields`` may set file_path, media_id and error.  Reaching a new step clears the retry
    bookkeeping (attempts, next_attempt_at, and error unless given), except when moving to
    'failed', which keeps the attempts.
    """
    for state in (new_state, expect):
        if state not in STATES:
            raise ValueError(f"unknown pipeline state {state!r}")
    bad = set(fields) - _ADVANCE_FIELDS
    if bad:
        raise ValueError(f"advance() cannot set {', '.join(sorted(bad))}")
    values: dict[str, Any] = {"state": new_state, "updated_at": utc_iso(), "next_attempt_at": None}
    if new_state != "failed":
        values.update(attempts=0, error=None)
    values.update(fields)
    assignments = ", ".join(f"{name} = ?" for name in values)
    cursor = db.execute(
        f"UPDATE post_media SET {assignments} WHERE id = ? AND state = ?",
        [*values.values(), post_media_id, expect],
    )
    return cursor.rowcount == 1


def fail(
    db: Database,
    post_media_id: int,
    error: str,
    *,
    retry_in_s: float | None,
    max_attempts: int,
) -> None:
    """Record a failed attempt at a media row's current step.

    The row stays in its state with ``next_attempt_at`` = now + ``retry_in_s``, or becomes
    'failed' for good when ``retry_in_s`` is None or this was attempt ``max_attempts``.  Rows
    already notified or failed are left alone.  Backoff is the caller's choice.
    """
    retry_at = None if retry_in_s is None else utc_iso_after(retry_in_s)
    db.execute(
        "UPDATE post_media SET attempts = attempts + 1, error = ?, updated_at = ?, "
        # CAST: PostgreSQL cannot tell the type of a bare NULL parameter.
        "state = CASE WHEN CAST(? AS TEXT) IS NULL OR attempts + 1 >= ? "
        "THEN 'failed' ELSE state END, "
        "next_attempt_at = CASE WHEN CAST(? AS TEXT) IS NULL OR attempts + 1 >= ? "
        "THEN NULL ELSE CAST(? AS TEXT) END "
        "WHERE id = ? AND state NOT IN ('notified', 'failed')",
        [error, utc_iso(), retry_at, max_attempts, retry_at, max_attempts, retry_at, post_media_id],
    )


def archive(db: Database, post_media_id: int) -> bool:
    """No match: the row is done ('notified' with nothing to alert).  Compare-and-set from
    'matched' or 'fingerprinted'; return whether it moved."""
    cursor = db.execute(
        "UPDATE post_media SET state = 'notified', updated_at = ?, next_attempt_at = NULL, "
        "attempts = 0, error = NULL WHERE id = ? AND state IN ('matched', 'fingerprinted')",
        [utc_iso(), post_media_id],
    )
    return cursor.rowcount == 1
