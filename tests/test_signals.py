"""Signals as plug-ins: extraction from one decode, storage, bundles, old libraries.

Everything runs on the shared media and real SQLite files; the signals are the registered
plug-ins (``fingerprint.signal.PLUGINS``), whatever they are.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from media import CHAIR, CHAIR_RECUT, DOORKNOB, require_media, shared_fingerprint
from media_sound import sound_over
from storage_helpers import raw_sqlite

import storage
from fingerprint import MatchSettings, fingerprint_file, signal
from fingerprint.pdq import PDQ_SIGNAL
from fingerprint.types import PDQ, Fingerprint
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.refingerprint import refingerprint
from storage.engine import Database
from storage.schema import migrate, schema_version

OTHERS = [name for name in signal.PLUGINS if name != PDQ]


@pytest.fixture(autouse=True)
def _media() -> None:
    require_media()


def test_every_registered_signal_is_extracted_and_survives_pickling() -> None:
    fp = shared_fingerprint(CHAIR)
    # The chair has picture detail and a sound track: every signal has something to say.
    assert sorted(fp.signals) == sorted(OTHERS)
    again = pickle.loads(pickle.dumps(fp))  # worker processes hand fingerprints back this way
    assert np.array_equal(again.hashes, fp.hashes)
    for name, data in fp.signals.items():
        plugin = signal.get(name)
        assert plugin.dumps(again.signals[name]) == plugin.dumps(data)


def test_a_signal_that_fails_is_left_out_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plug-in registered wrongly (or failing in any way) costs its own signal, never the
    # fingerprint: PDQ and the other signals come out as they would without it.
    plain = shared_fingerprint(DOORKNOB)
    monkeypatch.setitem(signal.PLUGINS, "broken", ".pdq:NO_SUCH_PLUGIN")
    signal.get.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="signal 'broken' skipped"):
            fp = fingerprint_file(DOORKNOB)
    finally:
        signal.get.cache_clear()
    assert np.array_equal(fp.hashes, plain.hashes)
    assert sorted(fp.signals) == sorted(plain.signals) and "broken" not in fp.signals


def test_pdq_is_a_plug_in_like_any_other() -> None:
    # Through the contract alone: index the chair, find it from a recut, compare the two.
    chair, recut = shared_fingerprint(CHAIR), shared_fingerprint(CHAIR_RECUT)
    index = PDQ_SIGNAL.new_index()
    index.add(1, chair)
    index.add(2, shared_fingerprint(DOORKNOB))
    assert index.candidates(recut, 5)[0] == 1
    found = PDQ_SIGNAL.compare(recut, chair, MatchSettings())
    assert found is not None and found.signal == PDQ and found.score > 0.5
    assert abs(found.offset - 2.0) < 0.5  # the recut starts 2 s into the original
    assert PDQ_SIGNAL.compare(shared_fingerprint(DOORKNOB), chair, MatchSettings()) is None


def test_pdq_data_round_trips_and_junk_is_refused() -> None:
    fp = shared_fingerprint(CHAIR)
    again = PDQ_SIGNAL.loads(PDQ_SIGNAL.dumps(fp))
    assert (again.kind, len(again)) == (fp.kind, len(fp))
    assert np.array_equal(again.hashes, fp.hashes) and np.array_equal(again.times, fp.times)
    blob = PDQ_SIGNAL.dumps(fp)
    for junk in (b"", b"OCPDQ1", blob[:-1], b"x" * len(blob)):
        with pytest.raises(ValueError):
            PDQ_SIGNAL.loads(junk)


def test_stored_signals_survive_the_database(db: Database) -> None:
    fp = shared_fingerprint(CHAIR)
    media_id, _ = storage.add_media(db, fp)
    loaded = storage.load_fingerprint(db, media_id)
    assert sorted(loaded.signals) == sorted(fp.signals)
    for name, data in fp.signals.items():
        plugin = signal.get(name)
        assert plugin.dumps(loaded.signals[name]) == plugin.dumps(data)


def test_stored_data_that_cannot_be_used_is_ignored(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    fp = shared_fingerprint(CHAIR)
    media_id, _ = storage.add_media(db, fp)
    # Written by a newer oldclip, with a signal this one does not know: ignored silently.
    db.execute(
        "INSERT INTO media_signals (media_id, signal, version, data) VALUES (?, 'zz', 1, ?)",
        [media_id, b"whatever"],
    )
    for name in OTHERS:
        db.execute(
            "UPDATE media_signals SET data = ? WHERE media_id = ? AND signal = ?",
            [b"\x00damaged", media_id, name],
        )
    with caplog.at_level(logging.WARNING, logger="storage.signals"):
        loaded = storage.load_fingerprint(db, media_id)
    assert loaded.signals == {}  # damaged: each left out, with a warning naming it
    assert all(f"stored {name} data is damaged" in caplog.text for name in OTHERS)
    assert np.array_equal(loaded.hashes, fp.hashes)  # PDQ unharmed
    for name in OTHERS:  # data of another version of the signal: not read at all
        version = signal.get(name).version
        db.execute(
            "UPDATE media_signals SET version = ? WHERE media_id = ? AND signal = ?",
            [version + 1, media_id, name],
        )
    caplog.clear()
    assert storage.load_fingerprint(db, media_id).signals == {} and not caplog.text


def test_a_bundle_carries_the_signals(tmp_path: Path, db: Database) -> None:
    fp = shared_fingerprint(CHAIR)
    media_id, _ = storage.add_media(db, fp)
    storage.add_clip(db, media_id, title="Chair", first_seen="2015-03-01", source="archive.org")
    bundle = tmp_path / "chair.jsonl.gz"
    storage.export_bundle(db, bundle, publisher="Desk A")
    other = storage.open_db(tmp_path / "other.db")
    try:
        report = storage.import_bundle(other, bundle)
        assert report.new == 1
        imported = storage.media_by_sha256(other, fp.sha256)
        loaded = storage.load_fingerprint(other, imported.id)
        assert sorted(loaded.signals) == sorted(fp.signals)
        for name, data in fp.signals.items():
            plugin = signal.get(name)
            assert plugin.dumps(loaded.signals[name]) == plugin.dumps(data)
    finally:
        other.close()


def library_before_signals(path: Path, video: Path, title: str) -> tuple[int, Fingerprint]:
    """A library file as the oldclip before signals left it (schema 10), holding ``video`` as a
    clip whose file is kept; its media id and the fingerprint stored."""
    old = raw_sqlite(path)
    old.execute("PRAGMA foreign_keys = ON")
    assert migrate(old, target=10) == 10  # the schema before media_signals
    fp = replace(shared_fingerprint(video), signals={})  # what that oldclip stored
    media_id, _ = storage.add_media(old, fp)
    storage.add_clip(old, media_id, title=title, first_seen="2015-03-01", source="archive.org")
    storage.set_media_path(old, media_id, video)  # the kept copy of the file
    old.close()
    return media_id, fp


def test_a_library_made_before_signals_matches_as_before_then_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    media_id, fp = library_before_signals(path, CHAIR, "Chair")

    library = Library.open(load_config(None, path))
    try:
        assert schema_version(library.db) == storage.CURRENT_VERSION
        (found,) = library.match(shared_fingerprint(CHAIR_RECUT))
        assert found.match.media_id == media_id and found.match.signals[0] == PDQ
        assert storage.load_fingerprint(library.db, media_id).signals == {}

        report = refingerprint(library)
        assert (report.media, report.updated) == ((1, 1) if OTHERS else (0, 0))
        assert report.added == {name: 1 for name in OTHERS}
        gained = storage.load_fingerprint(library.db, media_id)
        assert sorted(gained.signals) == sorted(OTHERS)
        assert np.array_equal(gained.hashes, fp.hashes)  # PDQ is never redone
        assert refingerprint(library).media == 0  # nothing left to do
        for name in OTHERS:  # the running library's indexes caught up
            assert len(library.signal_indexes[name]) > 0
    finally:
        library.close()


def test_benign_media_are_candidates_of_no_signal(tmp_path: Path) -> None:
    library = Library.open(load_config(None, tmp_path / "library.db"))
    try:
        clip_id, _ = library.add_clip(
            CHAIR, fp=shared_fingerprint(CHAIR), title="Chair", first_seen="2015-03-01",
            source="archive.org",
        )  # fmt: skip
        # The chair's sound over the doorknob's picture: found by its sound alone...
        query = fingerprint_file(sound_over(DOORKNOB, CHAIR, tmp_path / "over.mp4", end=8.0))
        if "audio" in OTHERS:
            (found,) = library.match(query)
            assert found.match.sound_only and found.evidence(datetime.now(UTC), 48) is None
        # ... until the chair is benign (say, a channel's jingle): then by no signal at all.
        library.set_benign(clip_id)
        assert library.match(query) == [] and library.match(shared_fingerprint(CHAIR)) == []
        assert all(len(index) == 0 for index in library.signal_indexes.values())
    finally:
        library.close()


def test_signals_too_big_for_a_bundle_line_are_left_out(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.bundle.spec

    fp = shared_fingerprint(CHAIR)
    media_id, _ = storage.add_media(db, fp)
    storage.add_clip(db, media_id, title="Chair", first_seen="2015-03-01", source="archive.org")
    sizes = {name: len(signal.get(name).dumps(data)) for name, data in fp.signals.items()}
    # A line limit that leaves room for the PDQ hashes and the smallest signal only (as a
    # 3-hour video's local features would pass the real limit).
    smallest, largest = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
    plain = len(storage.blobs.encode_hashes(fp.hashes)) * 4 // 3 + 4096
    monkeypatch.setattr(storage.bundle.spec, "MAX_LINE_BYTES", plain + sizes[smallest] * 2)
    report = storage.export_bundle(db, tmp_path / "b.jsonl", publisher="Desk A")
    assert report.signals_left_out == len(sizes) - 1
    other = storage.open_db(tmp_path / "other.db")
    try:
        storage.import_bundle(other, tmp_path / "b.jsonl")  # readable under the same limit
        loaded = storage.load_fingerprint(other, storage.media_by_sha256(other, fp.sha256).id)
        assert smallest in loaded.signals and largest not in loaded.signals
    finally:
        other.close()


def test_refingerprint_command_says_what_it_did(tmp_path: Path) -> None:
    from media import run_cli

    path = tmp_path / "library.db"
    library_before_signals(path, DOORKNOB, "Door")
    done = run_cli("refingerprint", db=path, timeout=120)
    assert done.returncode == 0, done.stderr
    # The signals that have something to say about the doorknob (its sound is near silent).
    added = ", ".join(f"{name} 1" for name in sorted(shared_fingerprint(DOORKNOB).signals))
    assert done.stdout.strip() == f"refingerprinted 1 media item ({added})"
    # Again: only the signal that had nothing to say is tried once more, and adds nothing.
    again = run_cli("refingerprint", db=path, timeout=120)
    assert again.stdout.startswith(("nothing to do", "refingerprinted 0 media items"))
