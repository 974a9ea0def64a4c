"""Reposts: a post's media found to match known media, each recorded with its alert.

``record_repost_and_alert`` writes the repost, its alert (storage.outbox) and the post media's
state 'notified' (storage.pipeline) in one transaction, and does nothing for a media row that
already has a repost: a crash before the commit leaves nothing, a crash after it leaves
everything, so no alert is ever queued twice.

Reposts of the same matched media within a window are grouped into one alert whose payload
lists every post and whose ``count`` grows, whether or not its messages went out already (the
bot edits them to show the new count): one alert per clip per window.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .engine import Database
from .library import clip_for_media, get_clip
from .outbox import insert_alert
from .pipeline import get_post_media
from .sightings import earliest_sighting
from .txn import immediate, to_datetime, utc_iso

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
            outbox_id, created = insert_alert(db, "repost", payload, group_key, now), True
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
