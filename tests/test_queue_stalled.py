"""A killed worker's job whose item was queued again meanwhile, on a real PostgreSQL.

A worker killed in the middle of a media job leaves that job "doing".  Before
``retry_stalled_jobs`` notices, the item may be queued again: the scheduler's rescan queues
media left 'new', and a job that failed queues the item's next try itself.  Running the
stalled job again would then need the queueing lock the waiting job already has.  What an
operator would notice: the item is processed once, by the waiting job, and the clean-up job
does not fail every 10 seconds for ever (leaving both jobs stuck behind the dead one's lock).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from feed_server import FeedServer
from procrastinate.jobs import Status
from test_queue import UNFINISHED_JOBS, count, drain, queue_config
from test_worker_db_wait import record_photo

import storage
from oldclip.jobs import (
    FORGET,
    MEDIA_JOB,
    STALLED,
    defer_media,
    ensure_schema,
    make_app,
    retry_stalled_jobs,
)
from oldclip.library import Library


async def test_a_stalled_job_whose_item_was_queued_again_ends_and_the_item_is_done_once(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        item = record_photo(library, feed_server, "bridge-1-original.jpg")
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            manager = app.job_manager
            # A worker takes the item's job, then dies (its heartbeat stops, an hour ago).
            await defer_media(app, [item])
            dead = await manager.register_worker()
            taken = await manager.fetch_job(queues=None, worker_id=dead)
            assert taken is not None and taken.task_name == MEDIA_JOB
            library.db.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = ?",
                [dead],
            )
            # The scheduler's rescan queues the item, still 'new', once more.
            assert await defer_media(app, [item]) == 1

            clean_up = await app.tasks[STALLED].defer_async(timestamp=0)
            await drain(library, config, app)

            assert storage.get_post_media(library.db, item).state == "notified"
            statuses = library.db.execute(
                "SELECT id, task_name, status::text FROM procrastinate_jobs ORDER BY id"
            ).fetchall()
            media_jobs = [status for _, task, status in statuses if task == MEDIA_JOB]
            assert media_jobs == ["aborted", "succeeded"]  # the dead one's ended, not run
            assert [status for id_, _, status in statuses if id_ == clean_up] == ["succeeded"]
            # A 10 s tick during the drain may queue one more clean-up, left for later: none fails.
            assert "failed" not in {status for _, task, status in statuses if task == STALLED}
            assert count(library, UNFINISHED_JOBS) == 0
    finally:
        library.close()


async def test_a_dead_workers_ended_job_is_forgotten_after_a_week_like_a_failed_one(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs ended as aborted (above) are deleted with the failed ones, or every killed
    worker's would stay in procrastinate's tables for ever."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            manager = app.job_manager
            await defer_media(app, [1, 2])
            dead = await manager.register_worker()
            for status in (Status.ABORTED, Status.FAILED):
                job = await manager.fetch_job(queues=None, worker_id=dead)
                await manager.finish_job(job, status=status, delete_job=False)
            library.db.execute("UPDATE procrastinate_events SET at = at - interval '8 days'")
            await app.tasks[FORGET].defer_async(timestamp=0)
            await drain(library, config, app)
            left = library.db.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = ?", [MEDIA_JOB]
            ).fetchone()[0]
            assert left == 0
    finally:
        library.close()


async def test_two_clean_up_jobs_at_once_end_each_stalled_job_once_without_an_error(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two workers (or one with several jobs at once) may run the clean-up side by side, one
    started by a tick while the last is still running: the second finds the dead worker's
    jobs already retried or ended, which is no error (it used to fail, with a traceback)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        alone = record_photo(library, feed_server, "bridge-1-original.jpg")
        again = record_photo(library, feed_server, "aaa-orig.jpg")
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            manager = app.job_manager
            await defer_media(app, [alone, again])
            dead = await manager.register_worker()
            for _ in range(2):
                assert await manager.fetch_job(queues=None, worker_id=dead) is not None
            library.db.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
            assert await defer_media(app, [again]) == 1
            # What the two jobs are given (the app, the worker's context): run here, at once.
            context = SimpleNamespace(app=app, additional_context={"stalled_after_s": 60.0})
            with caplog.at_level(logging.WARNING):
                await asyncio.gather(*(retry_stalled_jobs(context, 0) for _ in range(2)))
            rows = library.db.execute(
                "SELECT args->>'post_media_id', status::text FROM procrastinate_jobs ORDER BY id"
            ).fetchall()
        assert sorted(rows) == [(str(alone), "todo"), (str(again), "aborted"), (str(again), "todo")]
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    finally:
        library.close()
