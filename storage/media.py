"""Media and their fingerprints: storing, finding and reading them back for the index.

Split from the clips (``storage.library``) because this is the only part that touches the
fingerprint columns' codec (``storage.blobs``, numpy).  That codec is imported by the functions
that read or write them, so `oldclip list` and `show`, which read none, never load numpy (see
bench/startup.py and tests/test_startup.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fingerprint.types import Fingerprint

from .engine import Database
from .models import Media
from .rows import now, one
from .signals import load_signals, store_signals

if TYPE_CHECKING:
    import numpy as np

_MEDIA_COLUMNS = "id, sha256, kind, duration, width, height, size, created_at, path"


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
            [sha, fp.kind, float(fp.duration), fp.width, fp.height, fp.size, now()],
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


def media_exists(db: Database, media_id: int) -> bool:
    """Whether the media row exists (reads no columns, so it works at every schema version)."""
    return db.execute("SELECT 1 FROM media WHERE id = ?", [media_id]).fetchone() is not None


def get_media(db: Database, media_id: int) -> Media | None:
    """The media row with this id, or None."""
    row = one(db, f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = ?", [media_id])
    return Media(**row) if row else None


def media_by_sha256(db: Database, sha: str) -> Media | None:
    """The media whose file has this sha256 (hex, any case), or None."""
    row = one(db, f"SELECT {_MEDIA_COLUMNS} FROM media WHERE sha256 = ?", [sha.lower()])
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
    row = one(
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

    rows = db.stream(
        f"SELECT media_id, frame_count, hashes, variants FROM fingerprints {where}"
        "ORDER BY media_id",
        params,
    )
    for media_id, n, hashes, variants in rows:
        yield (
            int(media_id),
            blobs.decode_hashes(hashes, n, media_id),
            blobs.decode_variants(variants, n, media_id),
        )


def evidence_media_ids(db: Database) -> set[int]:
    """Media that are a clip or were sighted: what a match can point at."""
    rows = db.execute("SELECT media_id FROM clips UNION SELECT media_id FROM sightings")
    return {int(media_id) for (media_id,) in rows}
