"""The queries the rest of oldclip uses: media and fingerprints, clips, sightings.

All SQL lives here so the schema can change behind these functions.  Writes that touch more
than one row run in one transaction, and the "add if absent" writes are single statements, so
two processes adding the same file or clip at once still store it only once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fingerprint.types import Fingerprint

from .engine import Database
from .models import Clip, ClipSource, Media, Sighting
from .signals import load_signals, store_signals
from .urls import optional_web_url, reference

if TYPE_CHECKING:
    import numpy as np

# The fingerprint columns' codec (storage.blobs, numpy) is imported by the functions that read
# or write them: `oldclip list` and `show` read none (see bench/startup.py).

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The id of a new clip: one past the highest ever given, so a removed clip's id is never reused
# (migration 7 keeps that high-water mark).
NEXT_CLIP_ID = "(SELECT last_id + 1 FROM id_watermarks WHERE name = 'clips')"

_MEDIA_COLUMNS = "id, sha256, kind, duration, width, height, size, created_at, path"
_CLIP_COLUMNS = (
    "id, media_id, title, description, first_seen, source, verdict_url, language, tags, "
    "added_by, added_at, claim, rating, benign"
)
_SIGHTING_COLUMNS = "id, media_id, url, source, post_url, seen_at"


def _now() -> str:
    """The current time as ISO 8601 UTC, to the second: what every *_at column stores."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one(db: Database, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, list(params))), None)


# --- media and fingerprints -------------------------------------------------------------------


def add_media(db: Database, fp: Fingerprint) -> tuple[int, bool]:
    """Store a media item and its fingerprint; return (media id, whether it was new).

    Media are deduplicated by sha256, so importing the same file twice keeps one row and the
    first fingerprint.  A media row left without a fingerprint gets this one.  The other
    signals' data (``fp.signals``) are stored too (``storage.signals``).
    """
    from . import blobs

    sha = fp.sha256.lower()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO media (sha256, kind, duration, width, height, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
            [sha, fp.kind, float(fp.duration), fp.width, fp.height, fp.size, _now()],
        )
        created = cursor.rowcount == 1
        media_id = int(db.execute("SELECT id FROM media WHERE sha256 = ?", [sha]).fetchone()[0])
        db.execute(
            "INSERT INTO fingerprints "
            "(media_id, algorithm, frame_count, hashes, times, variants) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                media_id,
                fp.algorithm,
                len(fp),
                blobs.encode_hashes(fp.hashes),
                blobs.encode_times(fp.times),
                blobs.encode_variants(fp.variants),
            ],
        )
        store_signals(db, media_id, fp.signals)
    return media_id, created


def _media_exists(db: Database, media_id: int) -> bool:
    """Whether the media row exists (reads no columns, so it works at every schema version)."""
    return db.execute("SELECT 1 FROM media WHERE id = ?", [media_id]).fetchone() is not None


def get_media(db: Database, media_id: int) -> Media | None:
    """The media row with this id, or None."""
    row = _one(db, f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = ?", [media_id])
    return Media(**row) if row else None


def media_by_sha256(db: Database, sha: str) -> Media | None:
    """The media whose file has this sha256 (hex, any case), or None."""
    row = _one(db, f"SELECT {_MEDIA_COLUMNS} FROM media WHERE sha256 = ?", [sha.lower()])
    return Media(**row) if row else None


def set_media_path(db: Database, media_id: int, path: str | os.PathLike[str]) -> bool:
    """Record where a copy of the media file is kept; return False if there is no such media."""
    path = os.fspath(path)
    if not isinstance(path, str) or not path.strip():
        raise ValueError("path must not be empty")
    cursor = db.execute("UPDATE media SET path = ? WHERE id = ?", [path, media_id])
    return cursor.rowcount == 1


def load_fingerprint(db: Database, media_id: int) -> Fingerprint | None:
    """Rebuild the stored Fingerprint of a media item, or None if it has none (with the
    signals' data that can be used: see ``storage.signals``)."""
    row = _one(
        db,
        "SELECT m.kind, m.sha256, m.size, m.duration, m.width, m.height, "
        "f.algorithm, f.frame_count, f.hashes, f.times, f.variants "
        "FROM fingerprints f JOIN media m ON m.id = f.media_id WHERE f.media_id = ?",
        [media_id],
    )
    if row is None:
        return None
    from . import blobs

    n = row["frame_count"]
    return Fingerprint(
        kind=row["kind"],
        sha256=row["sha256"],
        size=row["size"],
        duration=row["duration"],
        width=row["width"],
        height=row["height"],
        hashes=blobs.decode_hashes(row["hashes"], n, media_id),
        times=blobs.decode_times(row["times"], n, media_id),
        variants=blobs.decode_variants(row["variants"], n, media_id),
        algorithm=row["algorithm"],
        signals=load_signals(db, media_id),
    )


def iter_index_rows(
    db: Database, media_ids: list[int] | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (media id, (N, 32) uint8 hashes, (N,) uint8 variants) for every fingerprint, or
    those of ``media_ids`` (read in batches: a replica catching up).

    Ordered by media id and read row by row from the cursor, so building the search index at
    start-up never holds the whole library twice in memory.
    """
    if media_ids is not None:
        for start in range(0, len(media_ids), 500):
            chunk = media_ids[start : start + 500]
            where = f"WHERE media_id IN ({', '.join('?' for _ in chunk)}) "
            yield from _index_rows(db, where, chunk)
        return
    yield from _index_rows(db, "", [])


def _index_rows(
    db: Database, where: str, params: list[int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    from . import blobs

    cursor = db.execute(
        f"SELECT media_id, frame_count, hashes, variants FROM fingerprints {where}"
        "ORDER BY media_id",
        params,
    )
    try:
        for media_id, n, hashes, variants in cursor:
            yield (
                int(media_id),
                blobs.decode_hashes(hashes, n, media_id),
                blobs.decode_variants(variants, n, media_id),
            )
    finally:
        cursor.close()


def evidence_media_ids(db: Database) -> set[int]:
    """Media that are a clip or were sighted: what a match can point at."""
    rows = db.execute("SELECT media_id FROM clips UNION SELECT media_id FROM sightings")
    return {int(media_id) for (media_id,) in rows}


# --- clips ------------------------------------------------------------------------------------


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
    if not _media_exists(db, media_id):
        raise ValueError(f"no media with id {media_id}; add the media first")
    now = _now()
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
                now,
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
            [clip_id, url, first_seen, kind, title, via, _now(), date_from],
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
    row = _one(db, f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id = ?", [clip_id])
    return _clip(row) if row else None


def clip_for_media(db: Database, media_id: int) -> Clip | None:
    """The clip attached to a media item (what a match is reported as), or None."""
    row = _one(
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


# --- sightings --------------------------------------------------------------------------------


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
    if not _media_exists(db, media_id):
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
    row = _one(
        db,
        f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE media_id = ? "
        "ORDER BY seen_at, id LIMIT 1",
        [media_id],
    )
    return Sighting(**row) if row else None
