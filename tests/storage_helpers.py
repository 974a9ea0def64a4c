"""Small builders shared by the storage tests."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fingerprint.types import VARIANT_FULL, Fingerprint
from storage.engine import Database, SQLiteDatabase


def make_fp(seed: int) -> Fingerprint:
    """A 2 s video fingerprint of four random (seeded) full-frame hashes."""
    rng = np.random.default_rng(seed)
    return Fingerprint(
        kind="video",
        sha256=hashlib.sha256(f"media-{seed}".encode()).hexdigest(),
        size=1000,
        duration=2.0,
        width=640,
        height=360,
        hashes=rng.integers(0, 256, size=(4, 32), dtype=np.uint8),
        times=np.array([0.0, 0.5, 1.0, 1.5], dtype=np.float32),
        variants=np.array([VARIANT_FULL] * 4, dtype=np.uint8),
    )


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def insert_old_clip(db: Database, media_id: int, title: str = "Old") -> int:
    """A clip written as the first schemas had it (add_clip needs columns they lack)."""
    return db.execute(
        "INSERT INTO clips (media_id, title, first_seen, source, tags, added_at) "
        "VALUES (?, ?, '2015-01-02', 'archive', '[]', '2015-01-03T00:00:00+00:00')",
        [media_id, title],
    ).lastrowid


def matched(db: Database, post_id: int, seed: int) -> int:
    """A stored post's one media taken to 'matched' (fingerprint seeded by ``seed``), as the
    pipeline would; returns the post media id."""
    from storage import add_media, advance, media_of_post

    (item,) = media_of_post(db, post_id)
    media_id, _ = add_media(db, make_fp(seed))
    assert advance(db, item.id, "fetched", expect="new", file_path=f"/tmp/{seed}.mp4")
    assert advance(db, item.id, "fingerprinted", expect="fetched", media_id=media_id)
    assert advance(db, item.id, "matched", expect="fingerprinted")
    return item.id


def matched_post_media(db: Database, feed_id: int, n: int, site: str) -> int:
    """A post (``{site}/{n}``) whose one video is matched, as the watchers leave it just before
    recording the repost; returns the post media id."""
    from storage import record_post

    post_id, _ = record_post(
        db,
        feed_id=feed_id,
        source="telegram",
        external_id=str(n),
        post_url=f"{site}/{n}",
        author=None,
        published=None,
        text=None,
        forwarded_from=None,
        media=[{"url": f"https://cdn.example/{n}.mp4", "kind": "video"}],
    )
    return matched(db, post_id, 1000 + n)


def raw_sqlite(path: Path) -> Database:
    """A SQLite file opened without migrating it, to build one as an older oldclip left it."""
    return SQLiteDatabase(sqlite3.connect(path, isolation_level=None), str(path))
