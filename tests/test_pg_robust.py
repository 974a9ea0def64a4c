"""PostgreSQL going away or stalling under a running oldclip, on a real server.

What a user would notice: a command whose connection is cut says so in one line (no traceback)
and exits 1; a long-running process carries on with a new connection; a writer stuck behind a
write lock that is never released gives up in bounded time instead of hanging for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from media import REPO
from telegram import Bot
from test_bot_webhook import PUBLIC_URL, free_port
from test_queue import queue_config

import storage
from bot.app import run_bot
from bot.deps import Deps
from bot.outgoing import Courier
from bot.settings import BotSettings
from oldclip.config import ReplicaSettings
from oldclip.feeds import add_feed
from oldclip.jobs import defer_poll, ensure_schema, make_app
from oldclip.library import Library
from oldclip.scheduler import tick
from oldclip.worker import work
from storage import outgoing
from storage.db import connect_postgres, open_db
from storage.engine import Database


def terminate(admin: Database, pid: int) -> None:
    """Cut one session as a server restart or a network failure would."""
    assert admin.execute("SELECT pg_terminate_backend(?)", [pid]).fetchone()[0]


def backend_pid(db: Database) -> int:
    return int(db.execute("SELECT pg_backend_pid()").fetchone()[0])


def test_a_lost_connection_is_one_clear_error_then_the_next_use_connects_again(
    postgres_schema: str,
) -> None:
    db, admin = open_db(postgres_schema), connect_postgres(postgres_schema)
    try:
        db.execute("CREATE TABLE notes (n INTEGER)")
        terminate(admin, backend_pid(db))
        with pytest.raises(storage.DatabaseLost) as lost:
            db.execute("INSERT INTO notes VALUES (1)")
        message = str(lost.value)
        assert message.startswith("the database at postgresql://postgres@127.0.0.1:5432/test")
        assert "stopped answering" in message and "\n" not in message
        assert message.endswith("check that PostgreSQL is running and try again")

        db.execute("INSERT INTO notes VALUES (2)")  # a new connection, same schema
        # Cut inside a transaction: it is rolled back, never finished on the new connection.
        with pytest.raises(storage.DatabaseLost), db.immediate():
            db.execute("INSERT INTO notes VALUES (3)")
            terminate(admin, backend_pid(db))
            db.execute("INSERT INTO notes VALUES (4)")
        assert not db.in_transaction
        assert [r[0] for r in db.execute("SELECT n FROM notes ORDER BY n")] == [2]
    finally:
        db.close()
        admin.close()


def test_a_command_cut_off_mid_way_says_so_in_one_line(postgres_schema: str) -> None:
    name = f"oldclip_cut_{secrets.token_hex(4)}"
    url = f"{postgres_schema}&application_name={name}"
    open_db(url).close()  # migrated: the command goes straight to its work
    holder, admin = connect_postgres(postgres_schema), connect_postgres(postgres_schema)
    try:
        with holder.immediate():  # the command's write waits here while we cut it off
            command = [sys.executable, "-m", "oldclip", "--db", url, "feeds", "add", "rss"]
            process = subprocess.Popen(
                [*command, "https://example.org/feed.xml"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            try:
                deadline = time.monotonic() + 60
                while (
                    row := admin.execute(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE application_name = ? AND wait_event_type = 'Lock'",
                        [name],
                    ).fetchone()
                ) is None:
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "the command never waited for the lock"
                    time.sleep(0.1)
                terminate(admin, row[0])
                _, stderr = process.communicate(timeout=60)
            finally:
                process.kill()
        assert process.returncode == 1
        [line] = stderr.strip().splitlines()
        assert line.startswith("oldclip: error: the database at postgresql://postgres@")
        assert "stopped answering: terminating connection due to administrator command" in line
        assert line.endswith("check that PostgreSQL is running and try again")
    finally:
        holder.close()
        admin.close()


def test_a_writer_behind_a_lock_never_released_gives_up_in_bounded_time(
    postgres_schema: str,
) -> None:
    """The holder stands for a session whose host vanished: the server keeps it (and its
    lock) until TCP gives up, which takes hours; the writer must not wait that long."""
    holder, writer = open_db(postgres_schema), connect_postgres(postgres_schema)
    writer.lock_wait_s = 0.5
    try:
        with holder.immediate():
            started = time.monotonic()
            timeout = pytest.raises(storage.WriteLockTimeout, match="gave up after 0.5 s")
            with timeout, writer.immediate():
                pytest.fail("the lock was taken while another session held it")
            assert time.monotonic() - started < 5
            assert not writer.in_transaction
        with writer.immediate():  # released: the next try goes through at once
            writer.execute("SELECT 1")
        # The bound is for the write lock's transaction only, not the session's later work.
        assert writer.execute("SHOW lock_timeout").fetchone()[0] == "0"
    finally:
        holder.close()
        writer.close()


async def test_the_scheduler_says_one_line_and_goes_on_after_losing_the_server(
    postgres_schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library, admin = Library.open(config), connect_postgres(postgres_schema)
    try:
        add_feed(library, "rss", "https://example.org/feed.xml", interval_s=600)
        ensure_schema(library.db)
        app = make_app(postgres_schema)
        async with app.open_async():
            terminate(admin, backend_pid(library.db))
            with caplog.at_level(logging.WARNING, logger="oldclip.scheduler"):
                await tick(app, library, config)
            [record] = caplog.records
            assert "stopped answering" in record.getMessage() and record.exc_info is None
            await tick(app, library, config)  # connected again: the due poll is queued
        queued = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'oldclip:poll_feed'"
        assert library.db.execute(queued).fetchone()[0] == 1
    finally:
        library.close()
        admin.close()


@pytest.mark.parametrize("cut", ["while waiting", "before starting"])
async def test_the_bot_sends_on_after_its_database_connection_is_cut(
    postgres_schema: str, caplog: pytest.LogCaptureFixture, cut: str
) -> None:
    """`oldclip bot` stays up through a server restart: a row queued meanwhile (by another
    process) still goes out, and the lost connection is one line in the log.  Cut before
    the sender starts, its first act (settling sends left by dead processes) meets it."""
    db, other, admin = (
        open_db(postgres_schema),
        open_db(postgres_schema),
        open_db(postgres_schema),
    )
    stop = asyncio.Event()
    try:
        async with FakeTelegram() as tg:
            bot = Bot(DEFAULT_TOKEN, base_url=f"{tg.base_url}/bot")
            async with bot:
                courier = Courier(db, bot, shared=True)
                if cut == "before starting":
                    terminate(admin, backend_pid(db))
                sending = asyncio.create_task(courier.run(stop))
                try:
                    if cut == "while waiting":
                        await asyncio.sleep(0.2)  # started, now waiting for rows
                        terminate(admin, backend_pid(db))
                    with caplog.at_level(logging.WARNING, logger="bot.outgoing"):
                        outgoing.queue(other, 7, "sendMessage", {"text": "still here"})
                        courier.wake()
                        await tg.wait_for(lambda call: call.params.get("chat_id") == 7, 15)
                finally:
                    stop.set()
                    await sending
        [record] = [r for r in caplog.records if "stopped answering" in r.getMessage()]
        assert record.exc_info is None
    finally:
        for database in (db, other, admin):
            database.close()


async def test_a_worker_whose_connections_are_all_cut_retries_the_job_and_goes_on(
    postgres_schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server restart under an idle `oldclip worker`: its connections (the storage threads',
    procrastinate's) come back, and the next job runs once: none is given a connection that
    died while idle (a statement cut mid-way is one line, see above)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    name = f"oldclip_cut_{secrets.token_hex(4)}"
    url = f"{postgres_schema}&application_name={name}"
    # The idle catch-up (every [library] refresh_s) would meet the cut first and reconnect
    # the pipeline's connection before the job runs: kept out of the way here.
    config = replace(queue_config(url, tmp_path), replica=ReplicaSettings(refresh_s=3600))
    library, admin = Library.open(config), connect_postgres(postgres_schema)
    try:
        feed_id, _ = add_feed(library, "rss", "http://127.0.0.1:1/feed.xml", interval_s=600)
        ensure_schema(library.db)
        app, other = make_app(url), make_app(postgres_schema)
        async with app.open_async(), other.open_async():
            worker = asyncio.create_task(work(library, config, app, concurrency=2))
            try:
                await asyncio.sleep(2)  # up and waiting for jobs
                cut = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = ?",
                    [name],
                ).fetchone()[0]
                assert cut >= 2  # the pipeline's and procrastinate's
                with caplog.at_level(logging.WARNING, logger="oldclip.jobs"):
                    await defer_poll(other, feed_id)
                    deadline = time.monotonic() + 60
                    while (status := job_status(admin)) != ("succeeded", 1):
                        assert time.monotonic() < deadline, f"the poll job is {status}"
                        await asyncio.sleep(0.5)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        assert not [r for r in caplog.records if r.name == "oldclip.jobs"]  # nothing failed
        assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere
        # Polled once.  (Read over admin's: the library's own connection, cut too, is not
        # the jobs' any more, they take theirs from the storage threads' pool.)
        assert storage.get_feed(admin, feed_id).consecutive_failures == 1
    finally:
        library.close()
        admin.close()


def job_status(db: Database) -> tuple[str, int] | None:
    row = db.execute(
        "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'oldclip:poll_feed'"
    ).fetchone()
    return (row[0], row[1]) if row else None


async def test_a_webhook_update_met_by_a_lost_connection_is_answered_later(
    postgres_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`oldclip bot --webhook` through a server restart: the update that met it is refused
    503 (Telegram sends it again), said in one line, and the person still gets the answer."""
    db, admin = open_db(postgres_schema), connect_postgres(postgres_schema)
    port = free_port()
    settings = BotSettings(
        token=DEFAULT_TOKEN, api_base_url="", webhook_port=port, alert_interval_s=0.3
    )
    stop = asyncio.Event()
    try:
        async with FakeTelegram() as tg:
            settings = replace(settings, api_base_url=tg.base_url)
            deps = Deps(db=db, checker=None, settings=settings)  # type: ignore[arg-type]
            serving = asyncio.create_task(run_bot(deps, stop, webhook_url=PUBLIC_URL))
            try:
                await tg.wait_for("setWebhook", timeout=30)
                tg.route_webhook(f"http://127.0.0.1:{port}/telegram")
                terminate(admin, backend_pid(db))
                with caplog.at_level(logging.WARNING):
                    tg.send_text(tg.user(70), "/start")
                    await tg.wait_for(
                        lambda call: (
                            call.method == "sendMessage" and call.params.get("chat_id") == 70
                        ),
                        timeout=30,
                    )
            finally:
                stop.set()
                await asyncio.wait_for(serving, 30)
        assert [p.status for p in tg.webhook_posts][:2] == [503, 200]
        [record] = [r for r in caplog.records if "stopped answering" in r.getMessage()]
        assert record.name == "bot.webhook" and record.exc_info is None
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        db.close()
        admin.close()
