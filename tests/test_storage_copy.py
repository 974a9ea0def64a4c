"""`oldclip migrate-db`: a SQLite library copied whole into an empty PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest
from storage_helpers import make_fp, matched

from oldclip.cli import main
from storage import (
    ReplicaRow,
    StorageError,
    add_clip,
    add_clip_source,
    add_feed,
    add_media,
    add_sighting,
    library_version,
    list_replicas,
    open_db,
    outgoing,
    plan_deliveries,
    record_feedback,
    record_post,
    record_question,
    record_replica,
    record_repost_and_alert,
    record_skipped_item,
    remove_clip,
    subscribe,
    touch_user,
)
from storage.copy import LIVE_TABLES, copy_library
from storage.engine import Database


def a_used_library(path: Path) -> Database:
    """A SQLite library with rows in every table a newsroom fills, and a removed clip (so the
    ids have a gap the copy must keep)."""
    db = open_db(path)
    gone, _ = add_media(db, make_fp(1))
    remove_clip(db, add_clip(db, gone, title="Gone", first_seen="2013-01-01", source="x")[0])
    media_id, _ = add_media(db, make_fp(2))
    clip_id, _ = add_clip(
        db, media_id, title="Convoy", first_seen="2014-07-17", source="https://archive.org/c"
    )
    add_clip_source(db, clip_id, url="https://factcheck.example/1", first_seen="2014-07-18")
    add_sighting(
        db, media_id, url="https://cdn.example/s.mp4", source="rss",
        seen_at="2020-01-01T00:00:00+00:00",
    )  # fmt: skip
    db.execute(
        "INSERT INTO media_signals (media_id, signal, version, data) VALUES (?, 'sound', 1, ?)",
        [media_id, bytes(range(256))],
    )
    feed_id, _ = add_feed(db, kind="rss", target="x", url="https://x.example/feed", interval_s=60)
    record_skipped_item(db, feed_id, "javascript:alert(1)", "not a web link")
    post_id, _ = record_post(
        db,
        feed_id=feed_id,
        source="rss",
        external_id="1",
        post_url="https://x.example/1",
        author=None,
        published=None,
        text="old footage",
        forwarded_from=None,
        media=[{"url": "https://cdn.example/1.mp4", "kind": "video"}],
    )
    item = matched(db, post_id, 3)
    repost = {"matched_media_id": media_id, "score": 0.93}
    outbox_id, _ = record_repost_and_alert(db, item, repost, window_s=3600)
    touch_user(db, 7)
    subscribe(db, 7, -100123456789)
    plan_deliveries(db, outbox_id, [-100123456789], evidence=True)
    outgoing.queue(db, 7, "sendPhoto", {"caption": "x"}, files=[b"\x89PNG..."])
    record_feedback(
        db, outbox_id=outbox_id, post_url="https://x.example/1", matched_media_id=media_id,
        user_id=7, verdict="confirmed",
    )  # fmt: skip
    record_question(db, user_id=7, chat_id=7, message_id=5, media_id=media_id)
    return db


def every_row(db: Database, tables: list[str]) -> dict[str, list[tuple]]:
    rows = {}
    for table in tables:
        cursor = db.execute(f"SELECT * FROM {table}")
        rows[table] = sorted(
            (tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor),
            key=repr,
        )
    return rows


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_library_is_copied_whole_with_its_ids(tmp_path: Path, db_url: str) -> None:
    source = a_used_library(tmp_path / "library.db")
    target = open_db(db_url)
    # Which processes follow each database is not the library: never copied, and the
    # target's own (a worker started before the copy) does not make it "not empty".
    for db, host in ((source, "old-host"), (target, "new-host")):
        row = ReplicaRow(host, 1, "run", "2026-01-01", 5.0, 0, 0.0, 0, 0, "2026", "2026")
        record_replica(db, row)
    try:
        report = copy_library(source, target)
        tables = [t for t in source.table_names() if t not in LIVE_TABLES]
        assert set(report.rows) == set(tables)
        assert [r.host for r in list_replicas(target)] == ["new-host"]
        assert every_row(target, tables) == every_row(source, tables)
        assert report.rows["outgoing_files"] == 1 and report.rows["clips"] == 1
        assert library_version(target) == library_version(source)
        # New rows continue after the copied ids, and a removed clip's id is not given again.
        media_id, _ = add_media(target, make_fp(9))
        assert media_id == 1 + source.execute("SELECT max(id) FROM media").fetchone()[0]
        clip_id, _ = add_clip(target, media_id, title="New", first_seen="2015-01-01", source="y")
        assert clip_id == 3
        # A second copy into the now-used database is refused and changes nothing.
        before = every_row(target, tables)
        with pytest.raises(StorageError, match="is not empty .*clips.*new, empty database"):
            copy_library(source, target)
        assert every_row(target, tables) == before
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_migrate_db_from_the_command_line(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a_used_library(tmp_path / "library.db").close()
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    base = ["--config", str(tmp_path / "config.toml"), "--db", str(tmp_path / "library.db")]
    assert main([*base, "migrate-db", "--to", db_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("copied ") and "clips 1" in out and "outgoing_files 1" in out
    assert main([*base, "migrate-db", "--to", db_url]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "config.toml"), "--db", db_url, "list"]) == 0
    assert "Convoy" in capsys.readouterr().out
