"""The search index saved beside the library: reused when fresh, caught up when the library
moved (in this process or another), rebuilt when damaged, never an error to the user.

Libraries here are real SQLite files holding synthetic clips (random-walk frame hashes), so
that many clips cost no decoding; "another process" is a real one where it matters (a sighting
recorded by the watchers of `oldclip run`), else a second connection to the same file.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import storage
from fingerprint.index_file import MAGIC, load_index
from fingerprint.types import HASH_BYTES, VARIANT_FULL, Fingerprint
from oldclip.config import load_config
from oldclip.library import Library

ROOT = Path(__file__).resolve().parents[1]


def clip_fingerprint(seed: int, frames: int = 30) -> Fingerprint:
    """A video whose frames drift a few bits each half second, unlike any other seed's."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, HASH_BYTES), dtype=np.uint8)
    drift = np.packbits(rng.random((frames - 1, HASH_BYTES * 8)) < 0.03, axis=1)
    hashes = np.bitwise_xor.accumulate(np.concatenate([base, drift]), axis=0)
    return Fingerprint(
        kind="video",
        sha256=f"{seed:064x}",
        size=1000 + seed,
        duration=frames / 2,
        width=640,
        height=360,
        hashes=hashes,
        times=np.arange(frames, dtype=np.float32) / 2,
        variants=np.full(frames, VARIANT_FULL, dtype=np.uint8),
    )


def add_clip(db, seed: int) -> tuple[int, int]:
    """Store a synthetic clip as `oldclip add` would: (clip id, media id)."""
    media_id, _ = storage.add_media(db, clip_fingerprint(seed))
    clip_id, _ = storage.add_clip(
        db, media_id, title=f"clip {seed}", first_seen="2015-03-01", source=f"https://x/{seed}"
    )
    return clip_id, media_id


def matched(library: Library, seed: int) -> list[int]:
    """Media ids a check of the clip made from ``seed`` reports."""
    return [m.match.media_id for m in library.match(clip_fingerprint(seed))]


@pytest.fixture
def config(tmp_path: Path):
    config = load_config(None, tmp_path / "library.db")
    db = storage.open_db(config.database)
    for seed in range(1, 41):
        add_clip(db, seed)
    db.close()
    return config


def saved_media(config) -> set[int]:
    index, _ = load_index(config.database.with_name("library.index"))
    return set(index.media_ids())


def check(config, seed: int) -> list[int]:
    """One `oldclip check`: open the library, match, close."""
    library = Library.open(config)
    try:
        return matched(library, seed)
    finally:
        library.close()


def test_the_first_check_saves_the_index_and_the_next_reuses_it(config) -> None:
    path = config.database.with_name("library.index")
    assert not path.exists()
    assert check(config, 7) == [7]
    assert saved_media(config) == set(range(1, 41))
    before = path.stat()
    library = Library.open(config)
    assert matched(library, 12) == [12]
    codes = library.index._parts[0]
    assert isinstance(codes.base, np.memmap), "rebuilt instead of reusing the file"
    library.close()
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_clips_added_removed_or_marked_benign_elsewhere_are_caught_up(config) -> None:
    assert check(config, 3) == [3]  # saves the index
    other = storage.open_db(config.database)  # another process's connection
    _, new_media = add_clip(other, 500)
    storage.remove_clip(other, 3)
    storage.set_benign(other, 4)
    other.close()

    library = Library.open(config)
    assert matched(library, 500) == [new_media]
    assert matched(library, 3) == []
    assert matched(library, 4) == []  # benign: never reported
    library.close()
    assert saved_media(config) == (set(range(1, 41)) - {3, 4}) | {new_media}


def test_a_reused_media_id_serves_its_new_hashes(config) -> None:
    assert check(config, 40) == [40]
    other = storage.open_db(config.database)
    storage.remove_clip(other, 40)  # its media go too, and SQLite gives the id out again
    _, media_id = add_clip(other, 600)
    other.close()
    assert media_id == 40
    library = Library.open(config)
    assert matched(library, 600) == [40]
    assert 40 not in [int(m) for m in library.index.search(clip_fingerprint(40).hashes, 0).media]
    library.close()


def test_a_sighting_recorded_by_another_process_is_found(config) -> None:
    library = Library.open(config)
    asked = library.add_fingerprint(clip_fingerprint(700), index=False)  # someone asked
    assert matched(library, 700) == []
    library.close()  # saves the index, without the asked-about file
    assert asked not in saved_media(config)
    code = (
        "import storage, sys\n"
        "db = storage.open_db(sys.argv[1])\n"
        "storage.add_sighting(db, int(sys.argv[2]), url='https://t.me/c/9', "
        "source='telegram', seen_at='2024-05-01T12:00:00+00:00')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(config.database), str(asked)],
        check=True,
        cwd=ROOT,
    )
    assert check(config, 700) == [asked]
    assert asked in saved_media(config)


@pytest.mark.parametrize("damage", ["truncated", "flipped hash bit", "garbage"])
def test_a_damaged_index_file_is_rebuilt_with_one_log_line(config, caplog, damage) -> None:
    assert check(config, 9) == [9]
    path = config.database.with_name("library.index")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped hash bit":
        data[-HASH_BYTES * 15] ^= 0x04  # inside clip 40's hashes
    else:
        data = bytearray(b"not an index" * 50)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert check(config, 40) == [40]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "rebuilding" in warnings[0].getMessage()
    assert saved_media(config) == set(range(1, 41))  # a sound file again
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert check(config, 40) == [40]
    assert not caplog.records


def test_an_index_file_of_the_previous_format_is_rebuilt_quietly(config, caplog) -> None:
    """Files of format 2 (CRC-32 checksums) are an earlier version's caches, not damage."""
    assert check(config, 9) == [9]
    path = config.database.with_name("library.index")
    data = bytearray(path.read_bytes())
    data[:8] = b"OCHIDX\x00\x02"
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert check(config, 40) == [40]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert path.read_bytes()[:8] == MAGIC and saved_media(config) == set(range(1, 41))


def test_an_index_saved_from_a_newer_library_state_is_not_used(config, tmp_path) -> None:
    # A database restored from a backup sits beside the index of its later self.
    backup = tmp_path / "backup.db"
    source = storage.open_db(config.database)
    source.conn.execute("VACUUM INTO ?", [str(backup)])
    source.close()
    other = storage.open_db(config.database)
    storage.remove_clip(other, 40)
    add_clip(other, 800)  # takes id 40 with other hashes
    other.close()
    assert check(config, 800) == [40]  # the saved index now says 40 is clip 800
    backup.replace(config.database)
    assert check(config, 40) == [40]
    assert check(config, 800) == []
