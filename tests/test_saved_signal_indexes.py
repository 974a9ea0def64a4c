"""Every signal's index saved beside the library (local features, sound), not only PDQ's: reused
by the next command, caught up when the library moved, rebuilt when stale or damaged.

Libraries here are real SQLite files of the shared videos, fingerprinted with every signal; a
"next command" is a second ``Library`` opening the same database, as `oldclip check` does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from media import CHAIR, CHAIR_RECUT, DOORKNOB, PATTERN, VIDEOS, require_media, shared_fingerprint

import storage
from fingerprint import local_index
from oldclip.config import load_config
from oldclip.library import Library

SIGNALS = storage.stored_signal_names()
PATTERN_COPY = VIDEOS / "pattern-sd-with-small-logo-bar.mp4"


def saved_library(folder: Path):
    """A library of the chair and the doorknob, checked once (which saves every index)."""
    require_media()
    config = load_config(None, folder / "library.db")
    library = Library.open(config)
    for path in (CHAIR, DOORKNOB):
        library.add_clip(
            path, fp=shared_fingerprint(path), title=path.stem, first_seen="2015-03-01",
            source="https://example.org/old",
        )  # fmt: skip
    library.match(shared_fingerprint(CHAIR_RECUT))
    library.close()
    return config


@pytest.fixture
def config(tmp_path: Path):
    return saved_library(tmp_path)


def answer(library: Library, path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """What a check of ``path`` reports: matched media and the signals that agreed."""
    return [(m.match.media_id, m.match.signals) for m in library.match(shared_fingerprint(path))]


def signal_candidates(library: Library, path: Path) -> dict[str, list[int]]:
    fp = shared_fingerprint(path)
    return {
        name: index.candidates(fp.signals[name], 25)
        for name, index in library.signal_indexes.items()
    }


def stamps(config) -> dict[str, tuple[int, int]]:
    library = Library(None, config)  # only for the paths
    paths = {name: library.signal_index_path(name) for name in SIGNALS}
    return {name: (p.stat().st_ino, p.stat().st_mtime_ns) for name, p in paths.items()}


def built_from_database(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "from the database" in r.getMessage()]


def test_the_next_command_uses_the_saved_indexes(config, caplog) -> None:
    before = stamps(config)
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        found = answer(library, CHAIR_RECUT)
        held = {name: len(index) for name, index in library.signal_indexes.items()}
        candidates = signal_candidates(library, CHAIR_RECUT)
        library.close()
    assert not built_from_database(caplog), "rebuilt instead of reusing the saved files"
    assert stamps(config) == before  # read, not written again
    assert [media for media, _ in found] == [1]
    assert set(found[0][1]) >= {"pdq", "audio"}
    assert held["orb"] == 2  # the chair and the doorknob (whose sound is too steady)
    assert all(ids[:1] == [1] for ids in candidates.values()), candidates
    # The same answers as indexes built from the database.
    for name in SIGNALS:
        Library(None, config).signal_index_path(name).unlink()
    library = Library.open(config)
    assert answer(library, CHAIR_RECUT) == found
    assert signal_candidates(library, CHAIR_RECUT) == candidates
    assert {name: len(index) for name, index in library.signal_indexes.items()} == held
    library.close()


@pytest.mark.parametrize("orb_index", ["flat", "inverted file"])
def test_a_clip_added_by_another_process_is_matched_by_every_signal(
    tmp_path, monkeypatch, caplog, orb_index
) -> None:
    """Caught up, not rebuilt, a saved orb inverted file too: the clip's descriptors go in its
    cells beside the saved ones, and are merged into the file when the library is saved."""
    if orb_index == "inverted file":
        monkeypatch.setattr(local_index, "FLAT_LIMIT", 100)  # the two clips' ~4,000 descriptors
    config = saved_library(tmp_path)
    other = storage.open_db(config.database)  # another process: `oldclip add` never opens them
    media_id, _ = storage.add_media(other, shared_fingerprint(PATTERN))
    storage.add_clip(other, media_id, title="pattern", first_seen="2016-01-01", source="x")
    other.close()
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        candidates = signal_candidates(library, PATTERN_COPY)
        found = answer(library, PATTERN_COPY)
        library.close()
    assert not built_from_database(caplog), "caught up, not rebuilt"
    assert all(media_id in ids for ids in candidates.values()), candidates
    assert [m for m, _ in found] == [media_id] and "audio" in found[0][1]
    # Saved again with the new clip: the next command finds it straight from the files.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        assert signal_candidates(library, PATTERN_COPY) == candidates
        library.close()
    assert not built_from_database(caplog)


def test_a_removed_clip_is_no_signals_candidate(config) -> None:
    other = storage.open_db(config.database)
    storage.remove_clip(other, 1)  # the chair
    other.close()
    library = Library.open(config)
    assert answer(library, CHAIR_RECUT) == []
    assert all(1 not in ids for ids in signal_candidates(library, CHAIR_RECUT).values())
    library.close()


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty"])
def test_a_damaged_signal_index_is_rebuilt_with_one_log_line(config, caplog, damage) -> None:
    path = Library(None, config).signal_index_path("orb")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":
        data[len(data) // 2] ^= 0x10  # in the descriptors, most of the file
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        library = Library.open(config)
        assert [m for m, _ in answer(library, CHAIR_RECUT)] == [1]
        library.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "orb index" in warnings[0] and "rebuilding" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        assert signal_candidates(library, CHAIR_RECUT)["orb"][:1] == [1]
        library.close()
    assert not caplog.records or not built_from_database(caplog)  # a sound file again


def test_an_index_of_another_format_is_rebuilt_not_used(config, caplog, monkeypatch) -> None:
    """New parameters (more probes, other cells...) change the format: the old file is not
    used, with no warning (nothing is wrong), and is saved again in the new format."""
    monkeypatch.setattr(local_index.LocalIndex, "format", "orb-test another layout")
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        assert signal_candidates(library, CHAIR_RECUT)["orb"][:1] == [1]
        library.close()
    assert built_from_database(caplog) == ["built the orb index from the database (2 media)"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        assert len(library.signal_indexes["orb"]) == 2
        library.close()
    assert not built_from_database(caplog)


def test_an_orb_index_saved_by_the_previous_format_is_rebuilt_not_misread(config, caplog):
    """Format 1 of the orb index held faiss's serialised index beside the descriptors (each
    descriptor twice); format 3 holds them once, in faiss's serialised index.  A library saved
    by the old version is rebuilt from the database on the next command, quietly, and saved in
    the new format."""
    from fingerprint.index_file import load_arrays, save_arrays

    path = Library(None, config).signal_index_path("orb")
    arrays, meta = load_arrays(path)
    old = {k: np.array(arrays[k]) for k in ("media", "counts", "frame")}
    old["descriptors"] = np.zeros((len(old["frame"]), 32), np.uint8)
    old["faiss"] = np.zeros(0, np.uint8)
    old["trained_for"] = np.zeros(1, np.int64)
    meta = {**meta, "format": "orb-1 flat<=50000 ivf sqrt cells x39 nprobe=16"}
    save_arrays(path, old, meta)
    with pytest.raises(ValueError):  # the old layout is not taken for the new one
        local_index.LocalIndex().load_arrays(load_arrays(path)[0])
    with caplog.at_level(logging.INFO, logger="oldclip"):
        library = Library.open(config)
        assert signal_candidates(library, CHAIR_RECUT)["orb"][:1] == [1]
        library.close()
    assert built_from_database(caplog) == ["built the orb index from the database (2 media)"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    arrays, meta = load_arrays(path)
    assert meta["format"] == local_index.LocalIndex.format and "descriptors" not in arrays
    assert path.stat().st_size < 2 * 32 * len(arrays["frame"])  # each descriptor once
