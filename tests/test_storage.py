"""storage/ against real SQLite files: what a user of the library database would notice."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from storage_helpers import raw_sqlite

from fingerprint.types import VARIANT_FULL, VARIANT_ZOOM, Fingerprint
from storage import (
    CURRENT_VERSION,
    StorageError,
    add_clip,
    add_clip_source,
    add_media,
    add_sighting,
    benign_media_ids,
    clip_for_media,
    clip_sources,
    count_clips,
    get_clip,
    get_media,
    iter_index_rows,
    library_version,
    list_clips,
    load_fingerprint,
    media_by_sha256,
    migrate,
    open_db,
    remove_clip,
    set_benign,
    sightings_for_media,
)
from storage.engine import Database

# Every test taking `db` runs on SQLite and on PostgreSQL (see conftest.py).
pytestmark = pytest.mark.both_engines


def make_fp(seed: int, frames: int = 12, kind: str = "video") -> Fingerprint:
    """A fingerprint of random (seeded) hashes, half full-frame and half centre-crop."""
    rng = np.random.default_rng(seed)
    return Fingerprint(
        kind=kind,
        sha256=hashlib.sha256(f"media-{seed}".encode()).hexdigest(),
        size=1000 + seed,
        duration=frames / 2,
        width=1280,
        height=720,
        hashes=rng.integers(0, 256, size=(frames, 32), dtype=np.uint8),
        times=np.sort(rng.uniform(0, frames / 2, size=frames)).astype(np.float32),
        variants=np.array([VARIANT_FULL, VARIANT_ZOOM] * (frames // 2), dtype=np.uint8),
    )


def test_open_db_creates_parent_dirs_uses_wal_and_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "oldclip.db"
    db = open_db(path)
    assert path.exists()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    assert {"media", "clips", "fingerprints", "sightings"} <= set(db.table_names())
    db.close()
    # Reopening an up-to-date database is a no-op.
    db = open_db(str(path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    db.close()


def test_fingerprint_round_trips_exactly(db: Database) -> None:
    fp = make_fp(1)
    media_id, created = add_media(db, fp)
    assert created
    got = load_fingerprint(db, media_id)
    assert got is not None
    np.testing.assert_array_equal(got.hashes, fp.hashes)
    np.testing.assert_array_equal(got.times, fp.times)
    np.testing.assert_array_equal(got.variants, fp.variants)
    assert got.hashes.dtype == np.uint8 and got.hashes.shape == (12, 32)
    assert got.times.dtype == np.float32
    assert (got.kind, got.sha256, got.size, got.duration, got.width, got.height) == (
        fp.kind,
        fp.sha256,
        fp.size,
        fp.duration,
        fp.width,
        fp.height,
    )
    assert got.algorithm == fp.algorithm
    got.hashes[0, 0] ^= 1  # loaded arrays are the caller's to modify
    assert load_fingerprint(db, 999) is None


def test_times_are_stored_little_endian_float32(db: Database) -> None:
    fp = make_fp(2)
    media_id, _ = add_media(db, fp)
    blob = db.execute("SELECT times FROM fingerprints WHERE media_id = ?", [media_id]).fetchone()[0]
    np.testing.assert_array_equal(np.frombuffer(blob, dtype="<f4"), fp.times)


def test_same_media_twice_is_stored_once(db: Database) -> None:
    fp = make_fp(3)
    first = add_media(db, fp)
    second = add_media(db, make_fp(3))
    assert first == (first[0], True)
    assert second == (first[0], False)
    assert db.execute("SELECT count(*) FROM media").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 1
    media = media_by_sha256(db, fp.sha256.upper())
    assert media is not None and media.id == first[0]
    assert get_media(db, first[0]) == media
    assert media.kind == "video" and media.size == fp.size


def test_add_clip_and_read_it_back(db: Database) -> None:
    media_id, _ = add_media(db, make_fp(4))
    clip_id, created = add_clip(
        db,
        media_id,
        title="Convoy at night",
        first_seen="2014-07-17",
        source="https://example.org/original",
        description="Filmed in 2014",
        verdict_url="https://example.org/factcheck",
        language="uk",
        tags=["convoy", "night"],
        added_by="alice",
    )
    assert created
    clip = get_clip(db, clip_id)
    assert clip is not None
    assert clip == clip_for_media(db, media_id)
    assert clip.title == "Convoy at night"
    assert clip.first_seen == "2014-07-17"
    assert clip.tags == ["convoy", "night"]
    assert clip.added_by == "alice"
    assert clip.added_at.endswith("+00:00")
    assert get_clip(db, 999) is None
    assert clip_for_media(db, 999) is None


def test_add_clip_twice_for_same_media_returns_same_clip(db: Database) -> None:
    media_id, _ = add_media(db, make_fp(5))
    first = add_clip(db, media_id, title="A", first_seen="2015-01-01", source="s")
    second = add_clip(db, media_id, title="B", first_seen="2016-01-01", source="t")
    assert first == (first[0], True)
    assert second == (first[0], False)
    assert count_clips(db) == 1
    clip = get_clip(db, first[0])
    assert clip is not None and clip.title == "A"


def test_a_second_source_is_kept_and_the_earliest_date_wins(db: Database) -> None:
    media_id, _ = add_media(db, make_fp(5))
    clip_id, _ = add_clip(
        db, media_id, title="Tank", first_seen="2019-03-01", source="https://repost.example/1"
    )
    add_clip(
        db,
        media_id,
        title="Ignored: the clip keeps its title",
        first_seen="2017-06-20",
        source="https://news.example/tank",
        claim="Shows fighting this week",
        rating="Misleading",
        verdict_url="https://factcheck.example/tank",
        tags=["idlib"],
    )
    # A later date for a known source changes nothing; a later new source is just listed.
    add_clip(db, media_id, title="x", first_seen="2020-01-01", source="https://news.example/tank")
    add_clip(
        db,
        media_id,
        title="x",
        first_seen="2024-12-06",
        source="https://fc.example",
        source_kind="factcheck",
    )
    clip = get_clip(db, clip_id)
    assert (clip.title, clip.first_seen, clip.source) == (
        "Tank",
        "2017-06-20",
        "https://news.example/tank",
    )
    assert (clip.claim, clip.rating, clip.tags) == (
        "Shows fighting this week",
        "Misleading",
        ["idlib"],
    )
    assert clip.verdict_url == "https://factcheck.example/tank"
    sources = clip_sources(db, clip_id)
    assert [(s.url, s.first_seen, s.kind) for s in sources] == [
        ("https://news.example/tank", "2017-06-20", "publication"),
        ("https://repost.example/1", "2019-03-01", "publication"),
        ("https://fc.example", "2024-12-06", "factcheck"),
    ]
    # Telling it all again is not a change.
    assert not add_clip_source(db, clip_id, url="https://fc.example", first_seen="2024-12-06")


def test_library_version_moves_when_clips_change_from_any_connection(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    one, two = open_db(path), open_db(path)
    start = library_version(one)
    media_id, _ = add_media(two, make_fp(8))
    assert library_version(one) == start  # media alone is not a clip
    clip_id, _ = add_clip(two, media_id, title="A", first_seen="2015-01-01", source="s")
    after_add = library_version(one)
    assert after_add > start
    add_clip_source(two, clip_id, url="t", first_seen="2016-01-01")
    assert library_version(one) == after_add  # a new source does not change what matches
    assert set_benign(two, clip_id)
    after_benign = library_version(one)
    assert after_benign > after_add and benign_media_ids(one) == {media_id}
    assert get_clip(one, clip_id).benign
    remove_clip(two, clip_id)
    assert library_version(one) > after_benign
    one.close()
    two.close()


@pytest.mark.parametrize(
    "bad", ["2014-13-01", "2014-02-30", "17/07/2014", "20140717", "2014-7-17", "", "yesterday"]
)
def test_bad_first_seen_is_rejected_clearly(db: Database, bad: str) -> None:
    media_id, _ = add_media(db, make_fp(6))
    with pytest.raises(ValueError, match=r"first_seen.*YYYY-MM-DD"):
        add_clip(db, media_id, title="A", first_seen=bad, source="s")
    assert count_clips(db) == 0


def test_add_clip_for_unknown_media_is_rejected(db: Database) -> None:
    with pytest.raises(ValueError, match="no media with id 42"):
        add_clip(db, 42, title="A", first_seen="2015-01-01", source="s")


def test_list_and_count_clips_in_id_order(db: Database) -> None:
    ids = []
    for seed in (10, 11, 12):
        media_id, _ = add_media(db, make_fp(seed))
        ids.append(add_clip(db, media_id, title=f"c{seed}", first_seen="2020-02-29", source="s")[0])
    assert [c.id for c in list_clips(db)] == ids
    assert count_clips(db) == 3


def test_remove_clip_removes_clip_and_orphan_media(db: Database) -> None:
    fp = make_fp(7)
    media_id, _ = add_media(db, fp)
    clip_id, _ = add_clip(db, media_id, title="A", first_seen="2015-01-01", source="s")
    assert remove_clip(db, clip_id)
    assert get_clip(db, clip_id) is None
    assert get_media(db, media_id) is None
    assert media_by_sha256(db, fp.sha256) is None
    assert load_fingerprint(db, media_id) is None
    assert db.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 0
    assert not remove_clip(db, clip_id)


def test_remove_clip_keeps_media_that_has_sightings(db: Database) -> None:
    media_id, _ = add_media(db, make_fp(8))
    clip_id, _ = add_clip(db, media_id, title="A", first_seen="2015-01-01", source="s")
    add_sighting(
        db, media_id, url="https://t.me/x/1", source="telegram", seen_at="2024-03-01T10:00"
    )
    assert remove_clip(db, clip_id)
    assert get_clip(db, clip_id) is None
    assert get_media(db, media_id) is not None
    assert load_fingerprint(db, media_id) is not None


def test_sightings_are_listed_earliest_first(db: Database) -> None:
    media_id, _ = add_media(db, make_fp(9))
    late = add_sighting(
        db, media_id, url="u2", source="x", seen_at="2024-05-02T00:00:00+00:00", post_url="p2"
    )
    early = add_sighting(db, media_id, url="u1", source="x", seen_at="2024-05-01T00:00:00+00:00")
    got = sightings_for_media(db, media_id)
    assert [s.id for s in got] == [early, late]
    assert got[1].post_url == "p2" and got[0].post_url is None
    with pytest.raises(ValueError, match="seen_at"):
        add_sighting(db, media_id, url="u", source="x", seen_at="last tuesday")


def test_iter_index_rows_yields_every_media_in_order(db: Database) -> None:
    fps = {
        add_media(db, make_fp(seed, frames=2 * seed))[0]: make_fp(seed, 2 * seed)
        for seed in (1, 2, 3)
    }
    rows = iter_index_rows(db)
    assert not isinstance(rows, list)
    seen = []
    for media_id, hashes, variants in rows:
        seen.append(media_id)
        assert hashes.shape == (len(fps[media_id]), 32) and hashes.dtype == np.uint8
        np.testing.assert_array_equal(hashes, fps[media_id].hashes)
        np.testing.assert_array_equal(variants, fps[media_id].variants)
    assert seen == sorted(fps)


def test_database_from_migration_1_is_upgraded_and_keeps_clips(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = raw_sqlite(path)
    assert migrate(old, target=1) == 1
    assert "sightings" not in old.table_names()
    old.execute(
        "INSERT INTO media (id, sha256, kind, created_at) VALUES (1, 'abc', 'photo', '2020-01-01')"
    )
    old.execute(
        "INSERT INTO clips (media_id, title, first_seen, source, tags, added_at) "
        "VALUES (1, 'Old clip', '2014-07-17', 'archive', '[\"x\"]', '2020-01-01T00:00:00+00:00')"
    )
    old.close()

    db = open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    assert "sightings" in db.table_names()
    indexes = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    assert ("clips_media_id",) in indexes
    clips = list_clips(db)
    assert [(c.title, c.tags) for c in clips] == [("Old clip", ["x"])]
    assert add_sighting(db, 1, url="u", source="s", seen_at="2024-01-01") > 0
    db.close()


def test_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {CURRENT_VERSION + 5}")
    conn.close()
    with pytest.raises(StorageError) as info:
        open_db(path)
    message = str(info.value)
    assert str(path) in message
    assert f"schema {CURRENT_VERSION + 5} > {CURRENT_VERSION}" in message
    assert "upgrade oldclip" in message


def test_non_sqlite_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database\x00\xff" * 100)
    with pytest.raises(StorageError, match="not a SQLite database") as info:
        open_db(path)
    assert str(path) in str(info.value)
    assert path.read_bytes().startswith(b"this is not a database")  # left untouched


def test_two_connections_share_the_database(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    writer, reader = open_db(path), open_db(path)
    media_id, _ = add_media(writer, make_fp(20))
    add_clip(writer, media_id, title="A", first_seen="2015-01-01", source="s")
    assert count_clips(reader) == 1
    assert add_media(reader, make_fp(20)) == (media_id, False)
    writer.close()
    reader.close()
