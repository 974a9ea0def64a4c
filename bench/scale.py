"""Throughput of the job queue: 1 and 2 `oldclip worker` processes on PostgreSQL against the
single-host pipeline on SQLite, on the same media.

    nice -n 5 python bench/scale.py [--posts 60] [--workers 1 2] [--database-url URL]

A loopback server serves one RSS feed of ``--posts`` photo posts.  Every photo is one of the
shared bridge photos with a few bytes of its own appended after the JPEG end marker, so each
is a distinct file (no deduplication by content hash) that decodes like the original.  Each run
starts from an empty library and the same feed:

- ``sqlite``: `oldclip watch --once` (the in-process pipeline of `oldclip run`) on a SQLite file;
- ``postgresql xN``: one `oldclip scheduler` and N `oldclip worker` processes on a fresh schema
  of ``--database-url`` (default $OLDCLIP_TEST_DATABASE_URL or the test server), until every
  media item is final.

Every process decodes with one worker process ([watch] fingerprint_workers = 1).  Printed:
wall time from the processes' start (start-up included) and media per minute.

``--db-time`` (run alone) asks how much the storage calls (synchronous psycopg) hold up a
worker's event loop: one worker runs in this process (``oldclip.worker.work``) on the same feed
while every statement on every connection of ``storage.engine.PostgresDatabase`` is timed, on
the loop's thread or in another, and a ticker in the same process measures how late the loop
answers (a sleep of 10 ms, over and over).  Printed per media item: statements, milliseconds
spent waiting for PostgreSQL (all of it, then the part spent on the loop's thread, which holds
the loop that long), wall time; then the loop's worst lag and 99th percentile.  Waiting on the
loop's thread is what the worker's other jobs and its heartbeat pay; waiting in a storage
thread costs them nothing.

Then index replicas (``--replicas-only`` runs just these), on each engine: a replica (a
``Library`` with its index built) is open on a library of ``--base-hashes`` frame hashes while
another connection adds clips of ``--hashes-per-clip`` random hashes; printed, for each of
``--replica-hashes`` new hashes, the time of the replica's ``refresh()`` (applying the logged
changes), then the time a full re-read of the whole library takes (what a new replica pays),
the index's bytes per hash and what the whole replica holds per hash (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import postgres_test_url, with_search_path  # noqa: E402

import storage  # noqa: E402
from fingerprint.types import VARIANT_FULL, Fingerprint  # noqa: E402
from oldclip.config import load_config  # noqa: E402
from oldclip.library import Library  # noqa: E402
from storage.db import connect_postgres  # noqa: E402

IMAGES = ROOT.parent / "shared" / "media" / "images"
PHOTOS = sorted(p.name for p in IMAGES.glob("bridge-*.jpg"))


async def serve(posts: int) -> tuple[web.AppRunner, str]:
    """The feed and its photos on 127.0.0.1; returns the runner and the feed's URL."""
    photos = {name: (IMAGES / name).read_bytes() for name in PHOTOS}

    async def feed(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        items = "".join(
            f"<item><title>Post {i}</title><link>{base}/post/{i}</link><guid>post-{i}</guid>"
            "<pubDate>Mon, 23 Nov 2026 10:00:00 +0000</pubDate>"
            f'<enclosure url="{base}/photo/{i}.jpg" type="image/jpeg" length="1"/></item>'
            for i in range(posts)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{items}'
        return web.Response(body=body + "</channel></rss>", content_type="application/rss+xml")

    async def photo(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        data = photos[PHOTOS[number % len(PHOTOS)]] + f"bench-{number}".encode()
        return web.Response(body=data, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/photo/{n:\\d+}.jpg", photo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/feed.xml"


def write_config(folder: Path, database: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database}"\n'
        f'[watch]\nmedia_dir = "{folder / "media"}"\nfingerprint_workers = 1\n'
        '[network]\nallow_private_addresses = false\nallowed_networks = ["127.0.0.0/8"]\n'
    )
    return config


def oldclip(config: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(config.parent / "data")}
    command = [sys.executable, "-m", "oldclip", "--config", str(config), *args]
    return subprocess.Popen(command, env=env, cwd=config.parent, **popen)


def add_feed(config: Path, feed_url: str) -> None:
    done = oldclip(config, "feeds", "add", "rss", feed_url, stdout=subprocess.DEVNULL)
    if done.wait() != 0:
        raise SystemExit("could not add the feed")


async def run_sqlite(folder: Path, feed_url: str) -> float:
    config = write_config(folder, str(folder / "library.db"))
    add_feed(config, feed_url)
    started = time.monotonic()
    process = oldclip(config, "watch", "--once", stdout=subprocess.DEVNULL)
    await asyncio.to_thread(process.wait)
    return time.monotonic() - started


async def run_postgres(folder: Path, feed_url: str, url: str, workers: int, posts: int) -> float:
    schema = f"oldclip_bench_{secrets.token_hex(6)}"
    admin = connect_postgres(url)
    admin.execute(f"CREATE SCHEMA {schema}")
    db = None
    processes: list[subprocess.Popen] = []
    try:
        config = write_config(folder, with_search_path(url, schema))
        add_feed(config, feed_url)
        db = connect_postgres(with_search_path(url, schema))
        logs = (folder / "processes.log").open("ab")
        started = time.monotonic()
        processes.append(oldclip(config, "scheduler", "--every", "1", stderr=logs))
        for _ in range(workers):
            processes.append(oldclip(config, "worker", stderr=logs))
        while _final(db) < posts:
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a process ended early: see {folder / 'processes.log'}")
            await asyncio.sleep(0.2)
        return time.monotonic() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
        if db is not None:
            db.close()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


async def run_db_time(folder: Path, feed_url: str, url: str, posts: int) -> None:
    """One in-process worker on PostgreSQL, its database calls timed (see ``--db-time``)."""
    from oldclip.jobs import defer_poll, ensure_schema, make_app
    from oldclip.worker import work

    schema = f"oldclip_bench_{secrets.token_hex(6)}"
    admin = connect_postgres(url)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        database = with_search_path(url, schema)
        config_path = write_config(folder, database)
        add_feed(config_path, feed_url)
        os.environ["XDG_DATA_HOME"] = str(folder / "data")  # PostgreSQL's saved index
        (folder / "data" / "oldclip").mkdir(parents=True)
        config = load_config(config_path)
        library = Library.open(config)
        ensure_schema(library.db)
        timed = time_statements()
        lags: list[float] = []

        async def ticker() -> None:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - started - 0.01)

        app = make_app(database)
        tick = asyncio.create_task(ticker())
        started = time.monotonic()
        async with app.open_async():
            feed_id = storage.list_feeds(library.db)[0].id
            await defer_poll(app, feed_id)
            while _final(library.db) < posts:
                await work(library, config, app, concurrency=4, wait=False)
        wall = time.monotonic() - started
        tick.cancel()
        lags.sort()
        worst, p99 = lags[-1], lags[int(len(lags) * 0.99)]
        print(
            f"postgresql, 1 worker in process, {posts} media: per media item "
            f"{timed.statements / posts:.0f} statements, "
            f"{timed.seconds / posts * 1000:.1f} ms waiting for PostgreSQL "
            f"({timed.on_loop / posts * 1000:.1f} ms of it on the loop's thread), "
            f"{wall / posts * 1000:.0f} ms wall; loop lag worst {worst * 1000:.0f} ms, "
            f"99th percentile {p99 * 1000:.0f} ms ({len(lags)} ticks)",
            flush=True,
        )
        library.db.close()
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@dataclass
class StatementTimes:
    """Statements run through ``PostgresDatabase`` and the seconds spent in them: in all,
    and on the thread of the event loop (``loop_thread``)."""

    loop_thread: int
    statements: int = 0
    seconds: float = 0.0
    on_loop: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.statements += 1
            self.seconds += seconds
            if threading.get_ident() == self.loop_thread:
                self.on_loop += seconds


def time_statements() -> StatementTimes:
    """Time every statement of every PostgreSQL connection of this process from now on (the
    class's methods, so connections opened later by storage threads are timed too)."""
    from storage.engine import PostgresDatabase

    timed = StatementTimes(threading.get_ident())
    for name in ("execute", "executemany"):
        plain = getattr(PostgresDatabase, name)

        def measured(self, *a, _plain=plain, **k):
            started = time.perf_counter()
            try:
                return _plain(self, *a, **k)
            finally:
                timed.add(time.perf_counter() - started)

        setattr(PostgresDatabase, name, measured)
    return timed


def _final(db) -> int:
    """Media items in a final state (on the raw connection: not one of the timed statements)."""
    row = db.conn.execute(
        "SELECT count(*) FROM post_media WHERE state IN ('notified', 'failed')"
    ).fetchone()
    return int(row[0])


def synthetic_clips(db, start: int, clips: int, hashes: int) -> None:
    """Add ``clips`` clips of ``hashes`` random frame hashes each (seeds from ``start``)."""
    for seed in range(start, start + clips):
        rng = np.random.default_rng(seed)
        fp = Fingerprint(
            kind="video",
            sha256=hashlib.sha256(f"bench-{seed}".encode()).hexdigest(),
            size=1000,
            duration=hashes / 2,
            width=640,
            height=360,
            hashes=rng.integers(0, 256, size=(hashes, 32), dtype=np.uint8),
            times=np.arange(hashes, dtype=np.float32) / 2,
            variants=np.full(hashes, VARIANT_FULL, dtype=np.uint8),
        )
        with db.atomic():
            media_id, _ = storage.add_media(db, fp)
            storage.add_clip(
                db, media_id, title=f"Bench {seed}", first_seen="2014-07-17", source="bench"
            )


def bench_replica(label: str, url: str, folder: Path, args: argparse.Namespace) -> None:
    """Catch-up and full re-read times of a replica on the library at ``url``."""
    os.environ["XDG_DATA_HOME"] = str(folder / "data")  # PostgreSQL's saved index
    (folder / "data" / "oldclip").mkdir(parents=True)
    per = args.hashes_per_clip
    writer = storage.open_db(url)
    synthetic_clips(writer, 0, args.base_hashes // per, per)
    seed = args.base_hashes // per
    replica = Library.open(load_config(None, url))
    assert len(replica.index) == args.base_hashes
    for new in args.replica_hashes:
        synthetic_clips(writer, seed, new // per, per)
        seed += new // per
        started = time.perf_counter()
        replica.refresh()
        ms = (time.perf_counter() - started) * 1000
        assert replica.replica.full_reads == 0
        print(f"{label:<11} catch-up after {new:>7} new hashes {ms:10.0f} ms", flush=True)
    total = len(replica.index)
    index_bytes = sum(part.nbytes for part in replica.index._parts)
    fresh = Library.open(load_config(None, url))
    fresh.index_path.unlink(missing_ok=True)  # a new replica with no saved index
    started = time.perf_counter()
    assert len(fresh.index) == total
    full = time.perf_counter() - started
    print(f"{label:<11} full re-read of {total} hashes {full * 1000:14.0f} ms")
    # What a replica holds, counted by Python's allocator (numpy arrays included): the RSS of
    # this process also holds the writer's garbage, so it would say little.
    traced = Library.open(load_config(None, url))
    traced.index_path.unlink(missing_ok=True)
    tracemalloc.start()
    assert len(traced.index) == total
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(
        f"{label:<11} memory per hash: index {index_bytes / total:.1f} B, "
        f"whole replica {held / total:.1f} B (tracemalloc after a full read)",
        flush=True,
    )
    for library in (replica, fresh, traced):
        library.db.close()  # not saved: nothing to keep
    writer.close()


def run_replicas(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_replica("sqlite", str(Path(tmp) / "library.db"), Path(tmp), args)
    schema = f"oldclip_bench_{secrets.token_hex(6)}"
    admin = connect_postgres(args.database_url)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = with_search_path(args.database_url, schema)
            bench_replica("postgresql", url, Path(tmp), args)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=postgres_test_url())
    parser.add_argument("--replicas-only", action="store_true")
    parser.add_argument("--db-time", action="store_true", help="database time per media job")
    parser.add_argument("--base-hashes", type=int, default=100_000)
    parser.add_argument("--replica-hashes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--hashes-per-clip", type=int, default=100)
    args = parser.parse_args()
    if args.replicas_only:
        run_replicas(args)
        return
    runner, feed_url = await serve(args.posts)
    if args.db_time:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                await run_db_time(Path(tmp), feed_url, args.database_url, args.posts)
        finally:
            await runner.cleanup()
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.posts} photo posts, each a distinct file; {os.cpu_count()} CPUs, load {load}")
    print(f"{'setup':<22} {'seconds':>8} {'media/min':>10}")
    try:
        runs = [("sqlite (watch --once)", None), *((f"postgresql x{n}", n) for n in args.workers)]
        for label, workers in runs:
            with tempfile.TemporaryDirectory() as tmp:
                if workers is None:
                    seconds = await run_sqlite(Path(tmp), feed_url)
                else:
                    seconds = await run_postgres(
                        Path(tmp), feed_url, args.database_url, workers, args.posts
                    )
            print(f"{label:<22} {seconds:8.1f} {args.posts / seconds * 60:10.0f}", flush=True)
    finally:
        await runner.cleanup()
    run_replicas(args)


if __name__ == "__main__":
    asyncio.run(main())
