"""Index replicas: a process's indexes follow what other processes change in the library by
applying the logged changes, not by re-reading it (issue 14), on both engines."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from media import CHAIR, CHAIR_RECUT, DOORKNOB, PATTERN, REPO, shared_fingerprint

import storage
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.replica import keep_fresh, report_staleness

pytestmark = pytest.mark.both_engines


@pytest.fixture
def open_library(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Opens Libraries on the test's database, each as its own process would (own connection,
    own indexes), all closed afterwards."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # PostgreSQL's saved index
    opened: list[Library] = []

    def open_one() -> Library:
        library = Library.open(load_config(None, db_url))
        opened.append(library)
        return library

    yield open_one
    for library in opened:
        library.close()


def add(library: Library, path: Path, title: str) -> int:
    clip_id, created = library.add_clip(
        path, fp=shared_fingerprint(path), title=title, first_seen="2014-07-17", source="archive"
    )
    assert created
    return clip_id


def matched_titles(library: Library, path: Path) -> list[str | None]:
    return [m.clip.title if m.clip else "sighting" for m in library.match(shared_fingerprint(path))]


def test_clips_added_marked_and_removed_elsewhere_are_followed_change_by_change(
    open_library,
) -> None:
    writer, replica = open_library(), open_library()
    add(writer, DOORKNOB, "Doorknob")
    assert matched_titles(replica, DOORKNOB) == ["Doorknob"]  # built: the whole library read
    assert matched_titles(replica, CHAIR_RECUT) == []

    chair = add(writer, CHAIR, "Chair")
    assert replica.refresh()
    assert matched_titles(replica, CHAIR_RECUT) == ["Chair"]

    assert writer.set_benign(chair)
    replica.refresh()
    assert matched_titles(replica, CHAIR_RECUT) == []  # benign clips are never reported
    chair_media = storage.get_clip(writer.db, chair).media_id
    assert chair_media in replica.benign_index and chair_media not in replica.index
    assert writer.set_benign(chair, False)
    replica.refresh()
    assert matched_titles(replica, CHAIR_RECUT) == ["Chair"]
    assert chair_media not in replica.benign_index

    # Media sighted by another worker become searchable here too.
    pattern = writer.add_fingerprint(shared_fingerprint(PATTERN), index=False)
    storage.add_sighting(
        writer.db, pattern, url="https://t.me/c/9", source="telegram", seen_at="2024-05-01T12:00:00"
    )
    replica.refresh()
    assert matched_titles(replica, PATTERN) == ["sighting"]

    assert writer.remove_clip(chair)
    replica.refresh()
    assert matched_titles(replica, CHAIR_RECUT) == [] and chair_media not in replica.index
    assert replica.replica.full_reads == 0  # every change applied alone
    assert replica.replica.applied == 5  # added, benign, not benign, sighted, removed


def test_a_media_id_given_again_to_another_file_is_read_again(open_library) -> None:
    """SQLite gives a deleted media's id to the next file: the replica must not keep serving
    the hashes it indexed under that id."""
    writer, replica = open_library(), open_library()
    add(writer, CHAIR, "Chair")
    doorknob = add(writer, DOORKNOB, "Doorknob")
    assert matched_titles(replica, DOORKNOB) == ["Doorknob"]
    assert writer.remove_clip(doorknob)
    add(writer, PATTERN, "Pattern")  # on SQLite, under the doorknob's old media id
    replica.refresh()
    assert matched_titles(replica, DOORKNOB) == []
    assert matched_titles(replica, PATTERN) == ["Pattern"]
    assert replica.replica.full_reads == 0


def test_a_replica_behind_the_pruned_changes_reads_the_library_again(
    open_library, caplog: pytest.LogCaptureFixture
) -> None:
    writer, replica = open_library(), open_library()
    add(writer, DOORKNOB, "Doorknob")
    assert matched_titles(replica, CHAIR_RECUT) == []
    add(writer, CHAIR, "Chair")
    assert storage.prune_library_changes(writer.db, "9999-01-01") == 2  # every change so far
    with caplog.at_level(logging.INFO, logger="oldclip"):
        replica.refresh()
    assert "no longer kept: re-reading the whole library" in caplog.text
    assert replica.replica.full_reads == 1
    assert matched_titles(replica, CHAIR_RECUT) == ["Chair"]
    assert matched_titles(replica, DOORKNOB) == ["Doorknob"]


def test_a_saved_index_catches_up_from_the_change_it_was_saved_at(open_library) -> None:
    first = open_library()
    add(first, DOORKNOB, "Doorknob")
    intro_clip = add(first, PATTERN, "Intro")
    assert first.set_benign(intro_clip)
    intro = storage.get_clip(first.db, intro_clip).media_id
    assert first.index  # built, then saved on close
    first.close()
    writer = open_library()
    add(writer, CHAIR, "Chair")
    reopened = open_library()
    assert matched_titles(reopened, CHAIR_RECUT) == ["Chair"]
    assert reopened.replica.full_reads == 0 and reopened.replica.applied == 1
    assert intro in reopened.benign_index  # the benign list is not in the saved file


async def test_an_idle_worker_catches_up_on_time_and_says_when_it_is_behind(
    open_library, caplog: pytest.LogCaptureFixture
) -> None:
    writer, replica = open_library(), open_library()
    add(writer, DOORKNOB, "Doorknob")
    assert replica.index
    chair = storage.get_clip(writer.db, add(writer, CHAIR, "Chair")).media_id
    task = asyncio.create_task(keep_fresh(replica, 0.05))
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if chair in replica.index:
                break
        assert chair in replica.index  # no job, no explicit refresh
    finally:
        task.cancel()
    assert replica.replica.behind_s() < 5
    assert not report_staleness(replica.replica, 10)
    replica.replica.caught_up_at = time.monotonic() - 60  # the database was away a minute
    with caplog.at_level(logging.WARNING, logger="oldclip.replica"):
        assert report_staleness(replica.replica, 10)
    assert "index replica 60 s behind the library" in caplog.text


async def test_a_worker_prunes_the_changes_older_than_it_keeps(open_library) -> None:
    writer, replica = open_library(), open_library()
    add(writer, DOORKNOB, "Doorknob")
    assert replica.index
    await asyncio.sleep(1.1)  # changes are timed to the second
    task = asyncio.create_task(keep_fresh(replica, 0.05, keep_h=0.0))
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not storage.changes_after(writer.db, 0):
                break
    finally:
        task.cancel()
    assert storage.changes_after(writer.db, 0) == []
    add(writer, CHAIR, "Chair")  # the log goes on after the pruned ones
    assert [c.kind for c in storage.changes_after(writer.db, 0)] == ["added"]
    replica.refresh()
    assert matched_titles(replica, CHAIR_RECUT) == ["Chair"] and replica.replica.full_reads == 0


async def test_oldclip_run_prunes_the_change_log_as_a_worker_does(tmp_path: Path) -> None:
    """`oldclip run` on one host logs every sighting too: without pruning, the log would
    grow for ever.  Its changes older than ``[library] changes_keep_h`` go while it runs."""
    database = tmp_path / "library.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database}"\n[library]\nrefresh_s = 0.1\nchanges_keep_h = 1\n'
    )
    library = Library.open(load_config(config))
    try:
        add(library, DOORKNOB, "Doorknob")
        library.db.execute("UPDATE library_changes SET at = '2026-01-01T00:00:00+00:00'")
        add(library, CHAIR, "Chair")  # logged now: kept
        assert len(storage.changes_after(library.db, 0)) == 2
    finally:
        library.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    env |= {"PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path / "data")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oldclip", "--config", str(config), "run",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    db = storage.open_db(database)
    try:
        deadline = time.monotonic() + 60
        while len(storage.changes_after(db, 0)) > 1:
            assert process.returncode is None and time.monotonic() < deadline
            await asyncio.sleep(0.2)
    finally:
        db.close()
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    db = storage.open_db(database)
    try:
        assert [c.kind for c in storage.changes_after(db, 0)] == ["added"]  # the recent one
    finally:
        db.close()
