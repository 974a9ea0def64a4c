"""The two engines: the schema each gets, opening by URL, and writers racing on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import make_fp, matched

from storage import (
    CURRENT_VERSION,
    StorageError,
    add_clip,
    add_media,
    get_alert,
    open_db,
    record_post,
    record_repost_and_alert,
)
from storage.db import safe_url
from storage.engine import Database, SQLiteDatabase
from storage.schema import migrate, schema_version

pytestmark = pytest.mark.both_engines

RELEASED_BEFORE_POSTGRES = 11
FIXTURE = Path(__file__).parent / "data" / f"sqlite_schema_v{RELEASED_BEFORE_POSTGRES}.json"


# --- schema ------------------------------------------------------------------------------------


def sqlite_schema(db: Database) -> list[list[str]]:
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    return [list(row) for row in rows]


def test_the_released_sqlite_migrations_make_exactly_the_released_schema(tmp_path: Path) -> None:
    """tests/data/sqlite_schema_v11.json was dumped from a file made by the code before
    PostgreSQL support: up to that version the SQLite schema must not move by a character
    (later steps may add to it, never rewrite it)."""
    db = SQLiteDatabase(sqlite3.connect(tmp_path / "new.db", isolation_level=None), "new.db")
    try:
        assert migrate(db, target=RELEASED_BEFORE_POSTGRES) == RELEASED_BEFORE_POSTGRES
        assert sqlite_schema(db) == json.loads(FIXTURE.read_text())
    finally:
        db.close()
    assert schema_version(reopened := open_db(tmp_path / "new.db")) == CURRENT_VERSION
    reopened.close()


def columns(db: Database, table: str) -> list[str]:
    if db.dialect == "sqlite":
        return [name for (name,) in db.execute(f"SELECT name FROM pragma_table_info('{table}')")]
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        [table],
    )
    return [name for (name,) in rows]


def test_both_engines_have_the_same_tables_and_columns(db: Database, tmp_path: Path) -> None:
    reference = open_db(tmp_path / "reference.db")
    try:
        tables = sorted(reference.table_names())
        own = ["oldclip_schema"] if db.dialect == "postgresql" else []  # its schema version
        assert sorted(db.table_names()) == sorted(tables + own)
        for table in tables:
            assert columns(db, table) == columns(reference, table), table
        assert schema_version(db) == CURRENT_VERSION
    finally:
        reference.close()


def test_clip_ids_are_never_given_again_and_changes_are_counted(db: Database) -> None:
    """The triggers (library version, id watermark) work on both engines."""
    from storage import library_version, remove_clip

    before = library_version(db)
    first, _ = add_media(db, make_fp(1))
    clip_id, _ = add_clip(db, first, title="A", first_seen="2014-07-17", source="archive")
    assert remove_clip(db, clip_id)
    second, _ = add_media(db, make_fp(2))
    again, _ = add_clip(db, second, title="B", first_seen="2014-07-18", source="archive")
    assert again == clip_id + 1
    assert library_version(db) == before + 3  # insert, delete, insert


def test_opening_at_once_migrates_once(db_url: str) -> None:
    """Several processes starting on a fresh database: one applies each step, all open it."""
    opened: list[Database] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_db(db_url))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [schema_version(db) for db in opened] == [CURRENT_VERSION] * 4
    for db in opened:
        db.close()


def test_a_large_read_comes_whole_while_writes_go_on(db: Database, db_url: str) -> None:
    """Rebuilding an index reads every stored row (gigabytes of local features in a large
    library) a batch at a time; writes made meanwhile on the same connection commit at once,
    and a read left half-way holds nothing open."""
    ids = [add_media(db, make_fp(seed))[0] for seed in range(1, 12)]
    other = open_db(db_url)
    try:
        seen = []
        for n, (media_id,) in enumerate(db.stream("SELECT id FROM media ORDER BY id", batch=3)):
            seen.append(media_id)
            if n == 4:
                written, _ = add_media(db, make_fp(100))
                assert other.execute("SELECT 1 FROM media WHERE id = ?", [written]).fetchone()
        assert seen[: len(ids)] == ids
        rows = db.stream("SELECT id FROM media ORDER BY id", batch=2)
        assert next(rows) == (ids[0],)
        rows.close()
        assert not db.in_transaction
        late, _ = add_media(db, make_fp(101))
        assert other.execute("SELECT 1 FROM media WHERE id = ?", [late]).fetchone()
        if db.dialect == "postgresql":
            assert db.execute("SELECT count(*) FROM pg_cursors").fetchone() == (0,)
    finally:
        other.close()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_newer_postgresql_schema_is_refused(db: Database, db_url: str) -> None:
    db.execute("UPDATE oldclip_schema SET version = ?", [CURRENT_VERSION + 1])
    with pytest.raises(StorageError, match=r"written by a newer oldclip .*upgrade oldclip"):
        open_db(db_url)


# --- URLs ---------------------------------------------------------------------------------------


def test_a_sqlite_url_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "by-url.db"
    db = open_db(f"sqlite:///{path}")  # sqlite:/// + /abs/path: four slashes, as SQLAlchemy
    db.close()
    assert path.exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/x", "unsupported database URL mysql://root@localhost/x"),
        ("postgresql://u:hunter2@127.0.0.1:1/x", "cannot connect to postgresql://u:***@127.0.0.1"),
        ("postgresql://u:hunter2@127.0.0.1:notaport/x", "malformed PostgreSQL URL"),
    ],
)
def test_a_bad_url_is_one_clear_line_without_the_password(url: str, says: str) -> None:
    with pytest.raises(StorageError) as caught:
        open_db(url)
    message = str(caught.value)
    assert says in message
    assert "hunter2" not in message and "\n" not in message


def test_safe_url_hides_only_the_password() -> None:
    assert safe_url("postgresql://me:pw@db:5432/lib") == "postgresql://me:***@db:5432/lib"
    assert safe_url("postgresql://me@db/lib") == "postgresql://me@db/lib"


# --- racing writers (PostgreSQL: SQLite has one writer at a time anyway) ----------------------


def race(url: str, step: Callable[[Database], Any], n: int = 2) -> list[Any]:
    """Run ``step`` on ``n`` connections of their own, released at the same instant."""
    connections = [open_db(url) for _ in range(n)]
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = step(connections[i])
        except BaseException as exc:  # noqa: BLE001 - part of the result
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return results


def new_post(db: Database, n: int) -> tuple[int, bool]:
    return record_post(
        db,
        feed_id=None,
        source="telegram",
        external_id=f"news/{n}",
        post_url=f"https://t.me/news/{n}",
        author=None,
        published=None,
        text=None,
        forwarded_from=None,
        media=[{"url": f"https://cdn.example/{n}.mp4", "kind": "video"}],
    )


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_same_post_recorded_twice_at_once_is_new_once(db: Database, db_url: str) -> None:
    for n in range(10):
        results = race(db_url, lambda conn, n=n: new_post(conn, n))
        assert sorted(created for _, created in results) == [False, True]
        assert results[0][0] == results[1][0]
    assert db.execute("SELECT count(*) FROM post_media").fetchone()[0] == 10


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_two_workers_claiming_one_media_item_one_wins(db: Database, db_url: str) -> None:
    """The pipeline's compare-and-set: of two workers taking the same 'new' item, one gets it."""
    from storage import advance, media_of_post

    for n in range(10):
        post_id, _ = new_post(db, 500 + n)
        (item,) = media_of_post(db, post_id)
        results = race(
            db_url,
            lambda conn, item_id=item.id: advance(
                conn, item_id, "fetched", expect="new", file_path=f"/tmp/{threading.get_ident()}"
            ),
        )
        assert sorted(results) == [False, True]


def record_one_of(items: list[int], repost: dict[str, Any]) -> Callable[[Database], Any]:
    """A racer's step: record one of ``items`` (each racer takes its own) as ``repost``."""
    return lambda conn: record_repost_and_alert(conn, items.pop(), repost, window_s=3600)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_racing_reposts_of_one_clip_make_one_alert(db: Database, db_url: str) -> None:
    """Two workers each find a repost of the same clip at once: one opens the alert and the
    other joins it (read-then-decide), never two alerts; the same repost twice counts once."""
    for round_ in range(8):
        clip_media, _ = add_media(db, make_fp(1000 + round_))
        add_clip(db, clip_media, title="Convoy", first_seen="2014-07-17", source="archive")
        items = []
        for n in (2 * round_, 2 * round_ + 1):
            post_id, _ = new_post(db, 100 + n)
            items.append(matched(db, post_id, 200 + n))
        repost = {"matched_media_id": clip_media, "score": 0.9}
        results = race(db_url, record_one_of(list(items), repost))
        assert sorted(created for _, created in results) == [False, True]
        (outbox_id,) = {outbox for outbox, _ in results}
        alert = get_alert(db, outbox_id)
        assert alert is not None and alert.count == 2
        # The same post media recorded again by both at once: nothing changes.
        again = race(db_url, record_one_of([items[0], items[0]], repost))
        assert again == [(outbox_id, False), (outbox_id, False)]
        alert = get_alert(db, outbox_id)
        assert alert is not None and alert.count == 2


# --- bundles ------------------------------------------------------------------------------------


def test_a_bundle_goes_both_ways_between_the_engines(db: Database, tmp_path: Path) -> None:
    """Exported from one engine and imported into the other, clips arrive whole; importing
    the same bundle again changes nothing (the import's merge runs on either engine)."""
    from storage import export_bundle, import_bundle, list_clips, load_fingerprint

    media_id, _ = add_media(db, make_fp(5))
    add_clip(db, media_id, title="Convoy", first_seen="2014-07-17", source="https://a.example/c")
    export_bundle(db, tmp_path / "ours.jsonl", publisher="Us")
    other = open_db(tmp_path / "other.db")
    try:
        assert import_bundle(other, tmp_path / "ours.jsonl").new == 1
        other_media, _ = add_media(other, make_fp(6))
        add_clip(other, other_media, title="Tank", first_seen="2015-01-02", source="https://b.ex")
        export_bundle(other, tmp_path / "theirs.jsonl", publisher="Them")
    finally:
        other.close()
    report = import_bundle(db, tmp_path / "theirs.jsonl", in_batches=True)
    assert (report.new, report.unchanged) == (1, 1)
    assert import_bundle(db, tmp_path / "theirs.jsonl").unchanged == 2
    assert [c.title for c in list_clips(db)] == ["Convoy", "Tank"]
    tank = list_clips(db)[1]
    fingerprint = load_fingerprint(db, tank.media_id)
    assert fingerprint is not None and (fingerprint.hashes == make_fp(6).hashes).all()
