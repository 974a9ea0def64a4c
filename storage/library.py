"""Clips and their sources: the fact-checked footage the library answers with.

All SQL for clips lives here so the schema can change behind these functions; the media and
fingerprints they point at are in ``storage.media``, sightings in ``storage.sightings``.
Writes that touch more than one row run in one transaction, and the "add if absent" writes are
single statements, so two processes adding the same clip at once still store it only once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .engine import Database
from .media import media_exists
from .models import Clip, ClipSource
from .rows import now, one
from .urls import optional_web_url, reference

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The id of a new clip: one past the highest ever given, so a removed clip's id is never reused
# (migration 7 keeps that high-water mark).
NEXT_CLIP_ID = "(SELECT last_id + 1 FROM id_watermarks WHERE name = 'clips')"

_CLIP_COLUMNS = (
    "id, media_id, title, description, first_seen, source, verdict_url, language, tags, "
    "added_by, added_at, claim, rating, benign"
)


def _check_first_seen(first_seen: str) -> None:
    """Refuse anything but a real calendar date written YYYY-MM-DD.

    date.fromisoformat alone would also accept forms like 20140717, which would then sort
    wrongly against the other rows.
    """
    if not isinstance(first_seen, str) or not _DATE_RE.fullmatch(first_seen):
        raise ValueError(f"first_seen must be a date written YYYY-MM-DD, got {first_seen!r}")
    try:
        day = date.fromisoformat(first_seen)
    except ValueError:
        raise ValueError(
            f"first_seen {first_seen!r} is not a real calendar date (YYYY-MM-DD)"
        ) from None
    # A day of slack: somewhere on Earth it is already tomorrow.
    if day > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError(
            f"first_seen {first_seen} is in the future: give the day the footage was first "
            "published"
        )


def _clip(row: dict[str, Any]) -> Clip:
    return Clip(**{**row, "tags": json.loads(row["tags"] or "[]"), "benign": bool(row["benign"])})


SOURCE_KINDS = ("publication", "factcheck")


def add_clip(
    db: Database,
    media_id: int,
    *,
    title: str,
    first_seen: str,
    source: str,
    description: str | None = None,
    verdict_url: str | None = None,
    language: str | None = None,
    tags: Iterable[str] = (),
    added_by: str | None = None,
    claim: str | None = None,
    rating: str | None = None,
    benign: bool = False,
    source_kind: str = "publication",
    source_title: str | None = None,
    date_from: str | None = None,
) -> tuple[int, bool]:
    """Attach a clip record to stored media, or merge into the clip it has; (clip id, new?).

    A media item has one clip.  Telling the library about it again (a second page that
    published it, a fact-check, a colleague's bundle) adds that source, moves ``first_seen``
    to the earliest date any source gives, fills fields still empty and adds tags; it never
    overwrites what is already known.  Re-running an import is therefore harmless.

    ``source`` is a web link or a plain-text reference, ``verdict_url`` a web link: any other
    link (``javascript:``, ``file:``) is refused with an UnsafeURLError (a ValueError).
    """
    _check_first_seen(first_seen)
    if not title or not title.strip():
        raise ValueError("title must not be empty")
    if not source or not source.strip():
        raise ValueError("source must not be empty (where was the footage first published?)")
    source = reference(source, "source")
    verdict_url = optional_web_url(verdict_url, "fact-check link")
    if isinstance(tags, str):
        # A bare string would otherwise be stored as a list of its characters.
        raise TypeError("tags must be a list of strings, not a single string")
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {', '.join(SOURCE_KINDS)}")
    tag_list = [str(t) for t in tags]
    if not media_exists(db, media_id):
        raise ValueError(f"no media with id {media_id}; add the media first")
    added_at = now()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO clips (id, media_id, title, description, first_seen, source, "
            "verdict_url, language, tags, added_by, added_at, claim, rating, benign) "
            f"SELECT {NEXT_CLIP_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM clips WHERE media_id = ?)",
            [
                media_id,
                title,
                description,
                first_seen,
                source,
                verdict_url,
                language,
                json.dumps(tag_list, ensure_ascii=False),
                added_by,
                added_at,
                claim,
                rating,
                int(benign),
                media_id,
            ],
        )
        created = cursor.rowcount == 1
        clip_id = int(
            db.execute(
                "SELECT id FROM clips WHERE media_id = ? ORDER BY id LIMIT 1", [media_id]
            ).fetchone()[0]
        )
        add_clip_source(
            db,
            clip_id,
            url=source,
            first_seen=first_seen,
            kind=source_kind,
            title=source_title,
            via=added_by,
            date_from=date_from,
        )
        if not created:
            _fill_clip(db, clip_id, description, verdict_url, language, claim, rating, tag_list)
            if benign:
                db.execute("UPDATE clips SET benign = 1 WHERE id = ? AND benign = 0", [clip_id])
    return clip_id, created


def _fill_clip(
    db: Database,
    clip_id: int,
    description: str | None,
    verdict_url: str | None,
    language: str | None,
    claim: str | None,
    rating: str | None,
    tags: list[str],
) -> None:
    """Fill a clip's empty fields and add new tags; a no-op (no write) when nothing is new."""
    db.execute(
        "UPDATE clips SET description = coalesce(description, ?), "
        "verdict_url = coalesce(verdict_url, ?), language = coalesce(language, ?), "
        "claim = coalesce(claim, ?), rating = coalesce(rating, ?) WHERE id = ? AND ("
        # CAST: PostgreSQL cannot tell the type of a bare NULL parameter.
        "(description IS NULL AND CAST(? AS TEXT) IS NOT NULL) "
        "OR (verdict_url IS NULL AND CAST(? AS TEXT) IS NOT NULL) "
        "OR (language IS NULL AND CAST(? AS TEXT) IS NOT NULL) "
        "OR (claim IS NULL AND CAST(? AS TEXT) IS NOT NULL) "
        "OR (rating IS NULL AND CAST(? AS TEXT) IS NOT NULL))",
        [description, verdict_url, language, claim, rating, clip_id]
        + [description, verdict_url, language, claim, rating],
    )
    if tags:
        (old,) = db.execute("SELECT tags FROM clips WHERE id = ?", [clip_id]).fetchone()
        known = json.loads(old or "[]")
        merged = known + [t for t in dict.fromkeys(tags) if t not in known]
        if merged != known:
            db.execute(
                "UPDATE clips SET tags = ? WHERE id = ?",
                [json.dumps(merged, ensure_ascii=False), clip_id],
            )


def add_clip_source(
    db: Database,
    clip_id: int,
    *,
    url: str,
    first_seen: str,
    kind: str = "publication",
    title: str | None = None,
    via: str | None = None,
    date_from: str | None = None,
) -> bool:
    """Record one more place the clip's footage appeared; return whether anything changed.

    ``date_from`` is the signal ``first_seen`` came from (a page's JSON-LD, its text...), kept
    so that a fact-checker can see why the library believes the date.

    The same URL twice keeps one row with the earlier date.  The clip's own first_seen and
    source follow the earliest source, so "first seen" only ever moves back in time.
    """
    _check_first_seen(first_seen)
    if kind not in SOURCE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SOURCE_KINDS)}")
    url = reference(url, "source")
    with db.atomic():
        before = db.changes
        db.execute(
            "INSERT INTO clip_sources "
            "(clip_id, url, first_seen, kind, title, via, added_at, date_from) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (clip_id, url) DO UPDATE SET "
            "first_seen = excluded.first_seen, date_from = excluded.date_from "
            "WHERE excluded.first_seen < clip_sources.first_seen",
            [clip_id, url, first_seen, kind, title, via, now(), date_from],
        )
        db.execute(
            "UPDATE clips SET first_seen = s.first_seen, source = s.url FROM ("
            "SELECT first_seen, url FROM clip_sources WHERE clip_id = ? "
            "ORDER BY first_seen, id LIMIT 1) AS s "
            "WHERE clips.id = ? AND (clips.first_seen > s.first_seen)",
            [clip_id, clip_id],
        )
        return db.changes != before


def clip_sources(db: Database, clip_id: int) -> list[ClipSource]:
    """Every known publication and fact-check of a clip's footage, earliest first."""
    return [
        ClipSource(**row)
        for row in db.query(
            "SELECT id, clip_id, url, first_seen, kind, title, via, added_at, date_from "
            "FROM clip_sources "
            "WHERE clip_id = ? ORDER BY first_seen, id",
            [clip_id],
        )
    ]


def set_benign(db: Database, clip_id: int, benign: bool = True) -> bool:
    """Mark a clip benign (or not); return False if there is no such clip."""
    if db.execute("SELECT 1 FROM clips WHERE id = ?", [clip_id]).fetchone() is None:
        return False
    db.execute(
        "UPDATE clips SET benign = ? WHERE id = ? AND benign != ?",
        [int(benign), clip_id, int(benign)],
    )
    return True


def benign_media_ids(db: Database) -> set[int]:
    """Media of benign clips: their frames are ignored when matching anything else."""
    return {int(m) for (m,) in db.execute("SELECT media_id FROM clips WHERE benign = 1")}


def library_version(db: Database) -> int:
    """A number that changes whenever a clip is added, removed or marked benign, media are
    sighted or given a signal's data, by anyone: the id of the last logged change
    (``storage.changes``)."""
    return int(db.execute("SELECT version FROM library_state WHERE id = 1").fetchone()[0])


def get_clip(db: Database, clip_id: int) -> Clip | None:
    """The clip with this id, or None."""
    row = one(db, f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id = ?", [clip_id])
    return _clip(row) if row else None


def clip_for_media(db: Database, media_id: int) -> Clip | None:
    """The clip attached to a media item (what a match is reported as), or None."""
    row = one(
        db,
        f"SELECT {_CLIP_COLUMNS} FROM clips WHERE media_id = ? ORDER BY id LIMIT 1",
        [media_id],
    )
    return _clip(row) if row else None


def list_clips(db: Database) -> list[Clip]:
    """Every clip, oldest id first."""
    return [_clip(row) for row in db.query(f"SELECT {_CLIP_COLUMNS} FROM clips ORDER BY id")]


def count_clips(db: Database) -> int:
    """How many clips the library holds, benign ones left out: this is the "archive of N clips"
    a "not found" answer speaks of, and intros or test cards are not footage one could match."""
    return int(db.execute("SELECT count(*) FROM clips WHERE benign = 0").fetchone()[0])


def last_clip_id(db: Database) -> int:
    """The newest clip's id (0 if none): clips added later have higher ids."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM clips").fetchone()[0])


def count_clips_added(db: Database, added_by: str, after_id: int) -> int:
    """Clips recorded by ``added_by`` (an import, say) since the clip ``after_id``."""
    row = db.execute(
        "SELECT count(*) FROM clips WHERE added_by = ? AND id > ?", [added_by, after_id]
    )
    return int(row.fetchone()[0])


def remove_clip(db: Database, clip_id: int) -> bool:
    """Delete a clip; return False if there was none.

    Its media and fingerprint go too unless a sighting or another clip still refers to them,
    so removing a wrongly added clip also stops it matching.
    """
    with db.atomic():
        row = db.execute("SELECT media_id FROM clips WHERE id = ?", [clip_id]).fetchone()
        if row is None:
            return False
        media_id = row[0]
        db.execute("DELETE FROM clips WHERE id = ?", [clip_id])
        # The fingerprint row goes with the media via ON DELETE CASCADE.
        db.execute(
            "DELETE FROM media WHERE id = ? "
            "AND NOT EXISTS (SELECT 1 FROM clips WHERE media_id = ?) "
            "AND NOT EXISTS (SELECT 1 FROM sightings WHERE media_id = ?)",
            [media_id, media_id, media_id],
        )
    return True
