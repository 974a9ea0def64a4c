"""A worker's replica row (``oldclip.presence``) on a real PostgreSQL: written off the event loop,
and taken away when the worker stops, whatever its catch-up was doing at that moment.

What an operator would notice: a session holding the ``replicas`` table (a migration, a person
in psql) froze the whole `oldclip worker` while its row was written on the loop's own
connection (every job, and the heartbeat); and a worker stopped cleanly while its catch-up was
waiting on the database left its row behind, so `oldclip status` named it for an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

import pytest
from feed_server import FeedServer
from test_bot_webhook import free_port
from test_queue import queue_config
from test_worker_db_wait import LockHolder, note_loop_lags, record_photo, until_final

import storage
from oldclip.jobs import defer_media, ensure_schema, make_app
from oldclip.library import Library
from oldclip.replica import keep_fresh
from oldclip.worker import storage_threads, work
from storage import threads

HOLD_S = 3.0  # how long the other session holds its table


def table_holder(url: str, table: str) -> LockHolder:
    """Another session holding ``table`` in ACCESS EXCLUSIVE mode until ``release``."""
    return LockHolder(url, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")


async def test_writing_the_replica_row_holds_up_neither_the_loop_nor_the_jobs(
    postgres_schema: str, feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    holder = None
    try:
        item = record_photo(library, feed_server, "aaa-orig.jpg")
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        lags: list[float] = []

        async with app.open_async():
            await defer_media(app, [item])
            holder = table_holder(postgres_schema, "replicas")
            holder.release_after(HOLD_S)
            tick = asyncio.create_task(note_loop_lags(lags))
            worker = asyncio.create_task(work(library, config, app, concurrency=2))
            try:
                await until_final(library, [item], timeout_s=HOLD_S + 60)
                done_while_held = not holder.released.is_set()
            finally:
                tick.cancel()
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        assert max(lags) < 1.0, f"the event loop stalled {max(lags):.1f} s"
        assert done_while_held, "the media job waited for the replicas table"
    finally:
        if holder is not None:
            holder.release()
        library.close()


async def test_a_worker_stopped_while_catching_up_takes_its_row_away(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    config = dataclasses.replace(config, replica=dataclasses.replace(config.replica, refresh_s=0.1))
    library = Library.open(config)
    holder = None
    try:
        assert library.index is not None  # built: its catch-up asks the database for the version
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            # The catch-up's query waits for the table; the worker is stopped meanwhile.
            holder = table_holder(postgres_schema, "library_state")
            holder.release_after(HOLD_S)
            worker = asyncio.create_task(work(library, config, app, concurrency=1))
            for _ in range(100):
                await asyncio.sleep(0.05)
                if storage.list_replicas(library.db):
                    break
            await asyncio.sleep(0.5)  # its catch-up in hand, waiting for the table
            assert not holder.released.is_set()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        assert storage.list_replicas(library.db) == []
        # The storage threads were waited for before the library had its connection back.
        assert holder.released.is_set()
    finally:
        if holder is not None:
            holder.release()
        library.close()


async def test_the_catch_up_goes_on_while_no_pooled_connection_can_be_had(
    postgres_schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server unreachable from the storage threads (here: their pool points at a port
    nobody listens on) costs a warning, not the catch-up loop for the rest of the process."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(threads, "CONNECT_TIMEOUT_S", 0.3)
    library = Library.open(queue_config(postgres_schema, tmp_path))
    try:
        nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
        with caplog.at_level(logging.WARNING, logger="oldclip"):
            async with storage_threads(library, nowhere, 2):
                fresh = asyncio.create_task(keep_fresh(library, 0.1, role="worker"))
                await asyncio.sleep(2.0)
                alive = not fresh.done()
                fresh.cancel()
                await asyncio.gather(fresh, return_exceptions=True)
        assert alive, f"the catch-up loop ended: {fresh.exception()!r}"
        said = [r.getMessage() for r in caplog.records if r.name == "oldclip.presence"]
        assert said[0].startswith("could not report this replica's state (the database at")
        assert len([m for m in said if m.startswith("could not report")]) == 1  # said once
    finally:
        library.close()
