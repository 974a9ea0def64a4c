"""`oldclip status`: every replica-holding process shows up with its lag, one that stops
refreshing is named, stuck backlogs are problems, on SQLite and PostgreSQL (issue 14:
"staleness is bounded and reported")."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from media import REPO

import storage
from oldclip import presence
from oldclip.cli import main
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.presence import Presence
from oldclip.replica import keep_fresh

pytestmark = pytest.mark.both_engines
LONG_AGO = "2026-01-01T00:00:00+00:00"


def status(db_url: str, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict]:
    """`oldclip status --json` in this process: (exit status, the report)."""
    code = main(["--db", db_url, "status", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def library(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # PostgreSQL's saved index
    opened = Library.open(load_config(None, db_url))
    yield opened
    opened.close()


async def test_a_running_process_is_shown_with_its_lag_and_named_when_it_stops_refreshing(
    db_url: str, engine: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A real `oldclip run` (SQLite) or `oldclip worker` (PostgreSQL) reports itself; frozen
    (SIGSTOP), it is over its bound and `oldclip status` exits 2 naming its host and pid;
    stopped cleanly, its row goes."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n[library]\nrefresh_s = 0.5\n')
    role = "run" if engine == "sqlite" else "worker"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    env |= {"PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path / "data")}
    with (tmp_path / "process.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oldclip", "--config", str(config), role,
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    pid, host = process.pid, socket.gethostname()

    async def until(what: str, check) -> dict:
        deadline = time.monotonic() + 60
        while True:
            code, report = status(db_url, capsys)
            if check(code, report):
                return report
            log = (tmp_path / "process.log").read_text()
            assert process.returncode is None, f"{role} died: {log}"
            assert time.monotonic() < deadline, f"never {what}: {report} {log}"
            await asyncio.sleep(0.2)

    def mine(report: dict) -> dict | None:
        return next((r for r in report["replicas"] if r["pid"] == pid), None)

    try:
        report = await until(
            "healthy with the process", lambda code, r: code == 0 and mine(r) is not None
        )
        replica = mine(report)
        assert replica["host"] == host and replica["role"] == role
        assert replica["state"] == "ok" and replica["bound_s"] == 1.0
        assert 0 <= replica["behind_s"] <= 1.0
        assert (report["jobs"] is not None) == (engine == "postgresql")  # procrastinate's
        process.send_signal(signal.SIGSTOP)  # hung: it neither refreshes nor reports
        try:
            report = await until("unhealthy", lambda code, r: code == 2)
            assert mine(report)["state"] == "behind"
            # The command itself, as a monitoring check runs it: exit 2, the line on stderr.
            done = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "oldclip", "--db", db_url, "status",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await done.communicate()
            assert done.returncode == 2
            (line,) = [x for x in err.decode().splitlines() if f"pid {pid}" in x]
            assert line.startswith(f"oldclip: problem: replica {role} on {host} pid {pid} is ")
            assert "behind the library (bound 1 s" in line
            assert f"{role:<6} {host} pid {pid}: BEHIND" in out.decode()
        finally:
            process.send_signal(signal.SIGCONT)
        await until("healthy again", lambda code, r: code == 0 and mine(r)["state"] == "ok")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0, (tmp_path / "process.log").read_text()
    code, report = status(db_url, capsys)
    assert code == 0 and mine(report) is None  # a clean stop takes its row away


async def test_oldclip_bot_alone_reports_its_replica_too(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`oldclip bot` (here long-polling a fake Telegram) matches with its own replica: it is
    kept fresh when idle and shown like a worker's."""
    async with FakeTelegram() as tg:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[database]\nurl = "{db_url}"\n[library]\nrefresh_s = 0.5\n'
            f'[bot]\napi_base_url = "{tg.base_url}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
        env |= {"PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path / "data")}
        env["OLDCLIP_BOT_TOKEN"] = DEFAULT_TOKEN
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oldclip", "--config", str(config), "bot",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            # Until it reports and is caught up (a loaded machine may see it behind its 1 s
            # bound for a moment, as status itself takes a while to start).
            while (replicas := status(db_url, capsys)[1]["replicas"]) == [] or replicas[0][
                "state"
            ] != "ok":
                assert process.returncode is None and time.monotonic() < deadline, replicas
                await asyncio.sleep(0.2)
            assert [(r["role"], r["pid"], r["state"]) for r in replicas] == [
                ("bot", process.pid, "ok")
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0
    assert status(db_url, capsys)[1]["replicas"] == []


async def test_a_long_refresh_still_reports_every_heartbeat(
    library: Library, db_url: str, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    """With `refresh_s` up to an hour, a process still says it is alive between catch-ups, so
    a silent one can be told from a slow one."""
    monkeypatch.setattr(presence, "HEARTBEAT_S", 0.05)
    task = asyncio.create_task(keep_fresh(library, 600.0, role="bot"))
    try:
        await asyncio.sleep(0.1)
        (first,) = storage.list_replicas(library.db)
        await asyncio.sleep(0.3)
        (later,) = storage.list_replicas(library.db)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert later.seen_at > first.seen_at and later.refresh_s == 600.0
    assert later.caught_up_at == first.caught_up_at  # no catch-up in between
    assert storage.list_replicas(library.db) == []  # cancelled: it left
    code, report = status(db_url, capsys)
    assert code == 0 and report["replicas"] == []


def test_a_silent_replica_is_gone_and_pruned_after_an_hour(
    library: Library, db_url: str, capsys: pytest.CaptureFixture
) -> None:
    here = Presence(library, "worker", 5.0)
    here.report()
    silent = datetime.now(UTC) - timedelta(minutes=5)
    ancient = datetime.now(UTC) - timedelta(hours=2)
    for pid, seen in ((4242, silent), (4343, ancient)):
        storage.record_replica(
            library.db,
            storage.ReplicaRow(
                "elsewhere", pid, "bot", LONG_AGO, 5.0, 0, 0.0, 0, 0,
                seen.isoformat(timespec="milliseconds"), seen.isoformat(timespec="milliseconds"),
            ),
        )  # fmt: skip
    code, report = status(db_url, capsys)
    assert code == 2
    states = {(r["host"], r["pid"]): r["state"] for r in report["replicas"]}
    assert states == {
        ("elsewhere", 4242): "gone",
        ("elsewhere", 4343): "gone",
        (here.host, here.pid): "ok",
    }
    assert any(
        p.startswith("replica bot on elsewhere pid 4242 not heard from for 5 min")
        for p in report["problems"]
    )
    here.report()  # every report prunes the rows silent for over an hour
    assert {r.pid for r in storage.list_replicas(library.db)} == {4242, here.pid}
    here.leave()
    assert {r.pid for r in storage.list_replicas(library.db)} == {4242}


def test_a_killed_replica_restarted_on_its_host_is_not_a_problem(
    library: Library, db_url: str, capsys: pytest.CaptureFixture
) -> None:
    """kill -9 then a restart (systemd, a deploy): the dead process's row stays until pruned,
    but the deployment is healthy again as soon as its successor reports."""
    here = Presence(library, "worker", 5.0)
    dead_seen = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="milliseconds")
    storage.record_replica(
        library.db,
        storage.ReplicaRow(
            here.host, 999_999, "worker", LONG_AGO, 5.0, 0, 0.0, 0, 0, dead_seen, dead_seen
        ),
    )
    code, report = status(db_url, capsys)
    assert code == 2 and report["replicas"][0]["state"] == "gone"
    here.report()  # the successor, started after the dead one went silent
    code, report = status(db_url, capsys)
    states = {r["pid"]: r["state"] for r in report["replicas"]}
    assert code == 0 and states == {999_999: "replaced", here.pid: "ok"}
    here.leave()


def test_stuck_media_alerts_and_messages_are_problems_failing_feeds_are_shown(
    library: Library, db_url: str, capsys: pytest.CaptureFixture
) -> None:
    db = library.db
    feed_id, _ = storage.add_feed(
        db, kind="rss", target="https://news.example/rss", url="https://news.example/rss",
        interval_s=600, label="News",
    )  # fmt: skip
    storage.record_poll_failure(db, feed_id, "HTTP 503", down_after=5)
    for n in range(3):
        storage.record_post(
            db, feed_id=feed_id, source="rss", external_id=str(n),
            post_url=f"https://news.example/{n}", author=None, published=None, text=None,
            forwarded_from=None, media=[{"url": f"https://cdn.example/{n}.mp4"}],
        )  # fmt: skip
    code, report = status(db_url, capsys)
    assert code == 0  # just arrived: waiting, not stuck
    assert report["pipeline"]["states"]["new"] == 3 and report["pipeline"]["waiting"] == 3
    assert report["feeds"]["watched"] == 1
    assert report["feeds"]["failing"] == [
        {"id": feed_id, "name": "News", "failures": 1, "down": False, "error": "HTTP 503"}
    ]
    db.execute("UPDATE post_media SET updated_at = ? WHERE id IN (SELECT min(id) FROM post_media)",
               [LONG_AGO])  # fmt: skip
    alert = storage.add_alert(db, "feed_down", {"label": "News"})
    db.execute("UPDATE outbox SET created_at = ? WHERE id = ?", [LONG_AGO, alert])
    storage.outgoing.queue(db, 77, "sendMessage", {"text": "hi"}, now="2026-01-01T00:00:00Z")

    code, report = status(db_url, capsys)
    assert code == 2 and not report["healthy"]
    assert report["problems"] == [
        "pipeline: 1 media due but untouched for over 15 min (the oldest since "
        f"{LONG_AGO}): is `oldclip run`, or `oldclip worker` with `oldclip scheduler`, running?",
        f"alerts: 1 undelivered for over 15 min (the oldest queued {LONG_AGO}): is "
        "`oldclip bot`, or `oldclip run` with a bot token, running?",
        "messages: 1 to Telegram waiting for over 15 min (the oldest queued "
        "2026-01-01T00:00:00.000+00:00)",
    ]
    assert report["alerts"]["undelivered"] == 1
    assert report["alerts"]["oldest_undelivered_at"] == LONG_AGO
    assert report["alerts"]["oldest_undelivered_age_s"] > 86400
    assert report["messages"]["states"]["pending"] == 1

    # For people: the report on stdout, each problem once on stderr.
    assert main(["--db", db_url, "status"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("oldclip status: 3 problems (below)\n")
    assert "feeds     1 watched, 1 failing: News (1 failure: HTTP 503)" in out
    assert err.count("oldclip: problem: ") == 3
    # A longer patience makes them waiting, not stuck; a bad one is a usage error.
    assert status(db_url, capsys, "--stuck-after", "3650d")[0] == 0
    assert main(["--db", db_url, "status", "--stuck-after", "soon"]) == 1
    assert "--stuck-after: 'soon' is not a duration" in capsys.readouterr().err


def test_the_report_names_the_database_without_its_password(
    library: Library, db_url: str, engine: str, capsys: pytest.CaptureFixture
) -> None:
    code, report = status(db_url, capsys)
    assert code == 0 and report["healthy"] and report["problems"] == []
    assert report["database"]["engine"] == engine
    assert report["database"]["schema_version"] == storage.CURRENT_VERSION
    assert report["library"] == {"version": 0, "clips": 0, "media": 0, "hashes": 0}
    if engine == "postgresql":
        secret = db_url.replace("postgres@", "postgres:hunter2@", 1)
        code, report = status(secret, capsys)
        assert "hunter2" not in json.dumps(report)
        assert report["database"]["url"].startswith("postgresql://postgres:***@")


def test_a_process_frozen_holding_the_write_lock_does_not_hold_up_status(
    library: Library, db_url: str, capsys: pytest.CaptureFixture
) -> None:
    """The moment a health check matters most: another process stuck inside a write."""
    holder = storage.open_db(db_url)
    try:
        with holder.immediate():
            holder.execute("UPDATE feeds SET label = label")
            started = time.monotonic()
            code, report = status(db_url, capsys)
            assert code == 0 and report["healthy"]
            assert time.monotonic() - started < 3  # not the lock waits (5 s, 30 s)
    finally:
        holder.close()
