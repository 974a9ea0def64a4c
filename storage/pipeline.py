"""The durable pipeline: posts, their media's processing state, reposts, and the alert outbox.

Each media item of a post moves new → fetched → fingerprinted → matched → notified, or ends in
failed.  Every step is written before the next starts, so a restart resumes from the stored
state.  What keeps a restart from doing things twice:

- ``record_post`` is idempotent per (source, post_url): a post seen again adds nothing.
- ``advance`` is compare-and-set: it moves a row only if it is still in the expected state, so
  of two workers (or a worker and its restarted self) only one wins a step.
- ``record_repost_and_alert`` writes the repost, its alert and the state 'notified' in one
  transaction, and does nothing for a media row that already has a repost: a crash before the
  commit leaves nothing, a crash after it leaves everything, so no alert is ever queued twice.

Alerts go into the outbox; the bot reads ``pending_alerts`` and plans their messages.  Reposts
of the same matched media within a window are grouped into one alert whose payload lists every
post and whose ``count`` grows, whether or not its messages went out already (the bot edits
them to show the new count): one alert per clip per window.

storage/ does not import watchers/: callers pass plain values (media as dicts, or any object
with the same attributes, such as watchers.post.MediaRef).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .engine import Database
from .library import clip_for_media, get_clip
from .sightings import earliest_sighting
from .txn import When, immediate, to_datetime, utc_iso, utc_iso_after
from .urls import is_web_url, shown, web_url

STATES = ("new", "fetched", "fingerprinted", "matched", "notified", "failed")
ACTIVE_STATES = ("new", "fetched", "fingerprinted", "matched")
ALERT_KINDS = frozenset({"repost", "feed_down", "feed_up"})
TOO_BIG_ERROR = "too big for the web preview"

_ADVANCE_FIELDS = frozenset({"file_path", "media_id", "error"})
_REPOST_FIELDS = (
    "media_id",
    "matched_media_id",
    "clip_id",
    "score",
    "query_start",
    "query_end",
    "ref_start",
    "ref_end",
    "frames_matched",
    "first_seen",
    "first_source",
    "agreement",
)

_POST_MEDIA_SELECT = (
    "SELECT pm.id, pm.post_id, pm.url, pm.kind, pm.mime, pm.too_big, pm.thumbnail_url, "
    "pm.state, pm.file_path, pm.media_id, pm.error, pm.attempts, pm.next_attempt_at, "
    "pm.updated_at, p.post_url, p.source, p.external_id, p.author, p.published, p.text, "
    "p.forwarded_from, p.first_seen_at, p.feed_id, f.label AS feed_label, "
    "f.language AS feed_language, p.provenance "
    "FROM post_media pm JOIN posts p ON p.id = pm.post_id "
    "LEFT JOIN feeds f ON f.id = p.feed_id"
)
_OUTBOX_COLUMNS = (
    "id, kind, group_key, payload, count, created_at, updated_at, delivered_at, attempts, "
    "next_attempt_at"
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


@dataclass(frozen=True)
class Repost:
    """A post's media found to match known media: a clip or an earlier sighting."""

    id: int
    post_media_id: int
    media_id: int | None  # the post's media
    matched_media_id: int | None  # the known media it matched
    clip_id: int | None
    score: float | None
    query_start: float | None
    query_end: float | None
    ref_start: float | None
    ref_end: float | None
    frames_matched: int | None
    first_seen: str | None  # the clip's first_seen, or the earliest sighting's time
    first_source: str | None
    outbox_id: int | None  # the alert this repost went into
    created_at: str
    post_url: str
    source: str
    published: str | None
    clip_title: str | None


@dataclass(frozen=True)
class OutboxItem:
    """An alert waiting for (or given to) the bot."""

    id: int
    kind: str  # "repost", "feed_down", "feed_up"
    group_key: str | None
    payload: dict[str, Any]
    count: int  # how many events were grouped into this alert
    created_at: str
    updated_at: str
    delivered_at: str | None
    attempts: int  # failed delivery attempts
    next_attempt_at: str | None


def _post_media(row: dict[str, Any]) -> PostMedia:
    provenance = json.loads(row["provenance"]) if row["provenance"] else None
    return PostMedia(**{**row, "too_big": bool(row["too_big"]), "provenance": provenance})


def _outbox_item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(**{**row, "payload": json.loads(row["payload"])})


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _optional_iso(value: datetime | str | None) -> str | None:
    return None if value is None else utc_iso(value)


# --- posts and their media --------------------------------------------------------------------


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


# --- reposts and their alerts -----------------------------------------------------------------


def record_repost_and_alert(
    db: Database,
    post_media_id: int,
    repost: Mapping[str, Any],
    *,
    window_s: int,
) -> tuple[int, bool]:
    """Record that a post's media is a repost, queue its alert and mark the row 'notified'.

    ``repost`` holds matched_media_id (required) and optionally media_id (default: the row's),
    clip_id, score, query_start/query_end, ref_start/ref_end, frames_matched, first_seen and
    first_source (default: the clip's first_seen and source, else the earliest sighting of the
    matched media).  The alert joins the 'repost' alert for the same matched media created
    less than ``window_s`` seconds ago, even one already planned or sent (the bot then edits
    its messages to show the new count), else a new one is created.

    One transaction.  A row that already has a repost changes nothing: the call returns that
    repost's alert id and False.  Returns (outbox id, whether a new alert item was created).
    """
    unknown = set(repost) - set(_REPOST_FIELDS)
    if unknown:
        raise ValueError(f"unknown repost field(s): {', '.join(sorted(unknown))}")
    if repost.get("matched_media_id") is None:
        raise ValueError("repost needs matched_media_id")
    now = utc_iso()
    with immediate(db):
        existing = db.execute(
            "SELECT outbox_id FROM reposts WHERE post_media_id = ?", [post_media_id]
        ).fetchone()
        if existing is not None:
            return existing[0], False
        item = get_post_media(db, post_media_id)
        if item is None:
            raise ValueError(f"no post media with id {post_media_id}")
        if item.state not in ("fingerprinted", "matched"):
            raise ValueError(
                f"post media {post_media_id} is {item.state!r}; "
                "only a fingerprinted or matched item can be a repost"
            )
        values = {name: repost.get(name) for name in _REPOST_FIELDS}
        if values["media_id"] is None:
            values["media_id"] = item.media_id
        clip = (
            get_clip(db, values["clip_id"])
            if values["clip_id"] is not None
            else clip_for_media(db, values["matched_media_id"])
        )
        if clip is not None:
            values["clip_id"] = clip.id
        if values["first_seen"] is None:
            if clip is not None:
                values["first_seen"], values["first_source"] = clip.first_seen, clip.source
            else:
                sighting = earliest_sighting(db, values["matched_media_id"])
                if sighting is not None:
                    values["first_seen"] = sighting.seen_at
                    values["first_source"] = sighting.post_url or sighting.url
        group_key = f"media:{values['matched_media_id']}"
        post = {
            "post_url": item.post_url,
            "source": item.source,
            "author": item.author,
            "published": item.published,
            "score": values["score"],
            "media_id": values["media_id"],
            "query_start": values["query_start"],
            "query_end": values["query_end"],
            "ref_start": values["ref_start"],
            "ref_end": values["ref_end"],
            "agreement": values["agreement"],
        }
        cutoff = utc_iso(to_datetime(now) - timedelta(seconds=window_s))
        open_item = db.execute(
            "SELECT id, payload FROM outbox WHERE kind = 'repost' AND group_key = ? "
            "AND created_at > ? ORDER BY id DESC LIMIT 1",
            [group_key, cutoff],
        ).fetchone()
        if open_item is not None:
            outbox_id, created = int(open_item[0]), False
            payload = json.loads(open_item[1])
            payload.setdefault("posts", []).append(post)
            db.execute(
                "UPDATE outbox SET payload = ?, count = count + 1, updated_at = ? WHERE id = ?",
                [json.dumps(payload, ensure_ascii=False), now, outbox_id],
            )
        else:
            payload = {
                "matched_media_id": values["matched_media_id"],
                "clip_id": values["clip_id"],
                "clip_title": clip.title if clip else None,
                "verdict_url": clip.verdict_url if clip else None,
                "rating": clip.rating if clip else None,
                "claim": clip.claim if clip else None,
                "first_seen": values["first_seen"],
                "first_source": values["first_source"],
                "feed_id": item.feed_id,
                "feed_label": item.feed_label,
                "language": item.feed_language,
                "posts": [post],
            }
            outbox_id, created = _insert_alert(db, "repost", payload, group_key, now), True
        columns = [*_REPOST_FIELDS, "post_media_id", "outbox_id", "created_at"]
        db.execute(
            f"INSERT INTO reposts ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [*(values[name] for name in _REPOST_FIELDS), post_media_id, outbox_id, now],
        )
        db.execute(
            "UPDATE post_media SET state = 'notified', updated_at = ?, next_attempt_at = NULL, "
            "attempts = 0, error = NULL WHERE id = ?",
            [now, post_media_id],
        )
    return outbox_id, created


def list_reposts(db: Database, limit: int = 100) -> list[Repost]:
    """The most recent reposts, newest first, with their post and clip title."""
    rows = db.query(
        "SELECT r.id, r.post_media_id, r.media_id, r.matched_media_id, r.clip_id, r.score, "
        "r.query_start, r.query_end, r.ref_start, r.ref_end, r.frames_matched, r.first_seen, "
        "r.first_source, r.outbox_id, r.created_at, p.post_url, p.source, p.published, "
        "c.title AS clip_title "
        "FROM reposts r JOIN post_media pm ON pm.id = r.post_media_id "
        "JOIN posts p ON p.id = pm.post_id LEFT JOIN clips c ON c.id = r.clip_id "
        "ORDER BY r.id DESC LIMIT ?",
        [limit],
    )
    return [Repost(**row) for row in rows]


def count_reposts_of_clip(db: Database, clip_id: int) -> int:
    """How many reposts of this clip the watchers caught."""
    row = db.execute("SELECT count(*) FROM reposts WHERE clip_id = ?", [clip_id]).fetchone()
    return int(row[0])


# --- the outbox -------------------------------------------------------------------------------


def _insert_alert(
    db: Database,
    kind: str,
    payload: Mapping[str, Any],
    group_key: str | None,
    now: str,
) -> int:
    if kind not in ALERT_KINDS:
        raise ValueError(f"alert kind must be one of {', '.join(sorted(ALERT_KINDS))}")
    cursor = db.execute(
        "INSERT INTO outbox (kind, group_key, payload, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        [kind, group_key, json.dumps(dict(payload), ensure_ascii=False), now, now],
    )
    return int(cursor.fetchone()[0])


def add_alert(
    db: Database,
    kind: str,
    payload: Mapping[str, Any],
    group_key: str | None = None,
) -> int:
    """Queue an alert (e.g. 'feed_down' / 'feed_up' for admins); return its outbox id."""
    return _insert_alert(db, kind, payload, group_key, utc_iso())


def get_alert(db: Database, outbox_id: int) -> OutboxItem | None:
    """One outbox item, delivered or not, or None."""
    row = next(
        iter(db.query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", [outbox_id])), None
    )
    return _outbox_item(row) if row else None


def pending_alerts(db: Database, *, now: When = None, limit: int = 50) -> list[OutboxItem]:
    """Undelivered alerts that are due, oldest first."""
    rows = db.query(
        f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        [utc_iso(now), limit],
    )
    return [_outbox_item(row) for row in rows]


def mark_delivered(db: Database, outbox_id: int, *, count: int | None = None) -> bool:
    """Mark an alert sent; return False if it was already delivered (or does not exist).

    Pass the ``count`` of the item that was sent to guard against a repost appended while it
    was being sent: if the count has grown, the item stays pending (False) so the grown alert
    is sent too instead of the new post being lost.
    """
    cursor = db.execute(
        "UPDATE outbox SET delivered_at = ?, next_attempt_at = NULL "
        "WHERE id = ? AND delivered_at IS NULL AND (CAST(? AS BIGINT) IS NULL OR count = ?)",
        [utc_iso(), outbox_id, count, count],
    )
    return cursor.rowcount == 1


def postpone(db: Database, outbox_id: int, retry_in_s: float) -> bool:
    """A delivery failed: count the attempt and retry after ``retry_in_s``; False if the item
    is delivered or missing."""
    cursor = db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? "
        "WHERE id = ? AND delivered_at IS NULL",
        [utc_iso_after(retry_in_s), outbox_id],
    )
    return cursor.rowcount == 1
