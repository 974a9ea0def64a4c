"""A worker's job waiting on PostgreSQL holds up nothing else, on a real server and real media.

What an operator would notice: one media item whose row is locked by another session (a
long transaction, a migration, a person in psql) used to freeze the whole `oldclip worker`
(every other job, and the heartbeat, so that after a minute other workers took it for dead).
Now the waiting job waits alone: another job finishes meanwhile, the event loop stays on time
and the heartbeat keeps being sent; once the lock goes, the waiting item finishes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from pathlib import Path

import psycopg
import pytest
from feed_server import FeedServer
from test_queue import UNFINISHED_JOBS, count, queue_config

import storage
from oldclip.jobs import defer_media, ensure_schema, make_app
from oldclip.library import Library
from oldclip.worker import work

HOLD_S = 4.0  # how long the other session keeps the row locked
STALLED_AFTER_S = 3.0  # heartbeats every 0.5 s


def record_photo(library: Library, feed_server: FeedServer, name: str) -> int:
    """A post of one shared photo, its media item queued as 'new'; the item's id."""
    post_id, _ = storage.record_post(
        library.db,
        feed_id=None,
        source="rss",
        external_id=name,
        post_url=f"https://example.org/post/{name}",
        author=None,
        published=None,
        text=None,
        forwarded_from=None,
        media=[{"url": feed_server.url(f"/media/images/{name}"), "kind": "photo"}],
    )
    [item] = storage.media_of_post(library.db, post_id)
    return item.id


async def until_final(library: Library, item_ids: list[int], timeout_s: float) -> None:
    """Wait until every item is in a final state (read over the loop's own connection)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {storage.get_post_media(library.db, i).state for i in item_ids}
        if states <= {"notified", "failed"}:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"items not final after {timeout_s:g} s")


async def note_loop_lags(lags: list[float]) -> None:
    """Until cancelled, append how late each 20 ms sleep wakes: the event loop's lag, which
    a statement waiting on the loop's own thread makes seconds long."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.02)
        lags.append(time.perf_counter() - started - 0.02)


class LockHolder:
    """Another session holding a lock (taken by ``sql``) until ``release``, released from a
    thread: a worker that blocks its own event loop cannot release it."""

    def __init__(self, url: str, sql: str, params: list[object] | None = None):
        self.url = url
        self.conn = psycopg.connect(url)
        self.conn.execute(sql, params)
        self.released = threading.Event()

    def release_after(self, seconds: float) -> None:
        threading.Timer(seconds, self.release).start()

    def release(self) -> None:
        if self.released.is_set():
            return
        try:
            self.before_release()
        finally:
            self.conn.rollback()
            self.conn.close()
            self.released.set()

    def before_release(self) -> None:
        """What to note while the lock is still held (nothing, here)."""


class RowHolder(LockHolder):
    """``post_media`` row ``item_id`` locked (SELECT ... FOR UPDATE); just before releasing
    it, what the rest of the world looked like: the worker's heartbeat and both items."""

    def __init__(self, url: str, item_id: int, other_id: int):
        super().__init__(url, "SELECT id FROM post_media WHERE id = %s FOR UPDATE", [item_id])
        self.item_id, self.other_id = item_id, other_id
        self.seen: dict[str, object] = {}

    def before_release(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as look:
            self.seen["heartbeat_age_s"] = look.execute(
                "SELECT extract(epoch FROM clock_timestamp() - max(last_heartbeat)) "
                "FROM procrastinate_workers"
            ).fetchone()[0]
            self.seen["states"] = dict(
                look.execute(
                    "SELECT id, state FROM post_media WHERE id IN (%s, %s)",
                    [self.item_id, self.other_id],
                ).fetchall()
            )


async def test_a_job_waiting_on_a_locked_row_holds_up_neither_other_jobs_nor_the_heartbeat(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    holder = None
    try:
        waiting = record_photo(library, feed_server, "bridge-1-original.jpg")
        other = record_photo(library, feed_server, "aaa-orig.jpg")
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        lags: list[float] = []

        async with app.open_async():
            await defer_media(app, [waiting, other])
            # Its download done, the waiting item's move to 'fetched' waits for the row.
            holder = RowHolder(postgres_schema, waiting, other)
            holder.release_after(HOLD_S)
            tick = asyncio.create_task(note_loop_lags(lags))
            # wait=True: a worker told to stop (wait=False does once the queue is empty)
            # stops its heartbeat first, then waits for the jobs in hand.
            worker = asyncio.create_task(
                work(library, config, app, concurrency=2, stalled_after_s=STALLED_AFTER_S)
            )
            try:
                await until_final(library, [waiting, other], timeout_s=HOLD_S + 60)
            finally:
                tick.cancel()
                worker.cancel()  # procrastinate then lets the jobs in hand finish
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

        assert holder.released.is_set()
        # While the row was locked: the other item went all the way, the worker's heartbeat
        # kept coming and the event loop answered on time.
        assert holder.seen["states"] == {waiting: "new", other: "notified"}
        assert holder.seen["heartbeat_age_s"] < STALLED_AFTER_S / 2
        assert max(lags) < 1.0, f"the event loop stalled {max(lags):.1f} s"
        # Then the waiting item finished too, and no job is left.
        assert count(library, UNFINISHED_JOBS) == 0
    finally:
        if holder is not None:
            holder.release()
        library.close()


async def test_the_worker_gives_its_database_back_after_working(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage threads and their connections live as long as ``work``: afterwards the
    library talks over its own connection again, and no pooled connection stays open."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    name = f"oldclip_pool_{secrets.token_hex(4)}"
    url = f"{postgres_schema}&application_name={name}"
    config = queue_config(url, tmp_path)
    library = Library.open(config)
    try:
        main = library.db
        ensure_schema(library.db)
        app = make_app(url)
        async with app.open_async():
            await work(library, config, app, concurrency=2, wait=False)
        assert library.db is main
        # The library's own alone (a closed connection's server process ends a moment later).
        for _ in range(50):
            left = library.db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", [name]
            ).fetchone()[0]
            if left == 1:
                break
            await asyncio.sleep(0.1)
        assert left == 1
    finally:
        library.close()
