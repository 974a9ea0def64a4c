"""The pipeline's write steps on SQLite and PostgreSQL, and what the write lock costs.

    python bench/engines.py [--posts 400] [--writers 4] [--clips 5000] [--url postgresql://...]

For each engine: one connection recording ``--posts`` posts (record_post, an ``immediate``
read-then-decide transaction), then ``--writers`` connections at once, each recording its
share of reposts of ONE clip (record_repost_and_alert: "is there an open alert to join?").
The racing run is the test of the lock: the right answer is one alert counting every repost.
Then, on PostgreSQL, ``migrate-db`` copies a SQLite library of ``--clips`` clips into it.
The PostgreSQL run is made a second time with the advisory lock left out, to show both its cost
and what it prevents (duplicate alerts under READ COMMITTED).  PostgreSQL runs in a schema
of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from storage_helpers import make_fp, matched  # noqa: E402

from storage import add_clip, add_media, open_db, record_post, record_repost_and_alert  # noqa: E402
from storage.copy import copy_library  # noqa: E402
from storage.db import connect_postgres  # noqa: E402
from storage.engine import Database, PostgresDatabase  # noqa: E402


def post(db: Database, n: int) -> int:
    post_id, _ = record_post(
        db, feed_id=None, source="rss", external_id=str(n), post_url=f"https://x.example/{n}",
        author=None, published=None, text=None, forwarded_from=None,
        media=[{"url": f"https://cdn.example/{n}.mp4", "kind": "video"}],
    )  # fmt: skip
    return post_id


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench(url: str, posts: int, writers: int) -> None:
    db = open_db(url)
    per_s = posts / timed(lambda: [post(db, n) for n in range(posts)])
    clip_media, _ = add_media(db, make_fp(1))
    add_clip(db, clip_media, title="Convoy", first_seen="2014-07-17", source="archive")
    items = [matched(db, post(db, posts + n), 10 + n) for n in range(writers * 25)]
    connections = [open_db(url) for _ in range(writers)]
    start = threading.Barrier(writers)
    repost = {"matched_media_id": clip_media, "score": 0.9}

    def work(i: int) -> None:
        start.wait()
        for item in items[i::writers]:
            record_repost_and_alert(connections[i], item, repost, window_s=3600)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    elapsed = timed(lambda: [t.start() for t in threads] and [t.join() for t in threads])
    alerts = db.execute("SELECT count, payload FROM outbox WHERE kind = 'repost'").fetchall()
    shown = sum(len(json.loads(payload)["posts"]) for _, payload in alerts)
    print(
        f"  record_post, 1 connection: {per_s:,.0f} posts/s; "
        f"{len(items)} reposts by {writers} connections at once: {len(items) / elapsed:,.0f}/s, "
        f"{len(alerts)} alert(s) counting {sum(c for c, _ in alerts)}, listing {shown} posts "
        f"(right: 1 alert counting and listing {len(items)})"
    )
    for connection in (db, *connections):
        connection.close()


def bench_copy(folder: Path, url: str, clips: int) -> None:
    """``oldclip migrate-db``'s copy of a library of ``clips`` clips (a fingerprint each)."""
    source = open_db(folder / "copy.db")
    with source.atomic():
        for n in range(clips):
            media_id, _ = add_media(source, make_fp(100_000 + n))
            add_clip(source, media_id, title=f"Clip {n}", first_seen="2014-07-17", source="x")
    target = open_db(url)
    start = time.perf_counter()
    report = copy_library(source, target)
    elapsed = time.perf_counter() - start
    print(f"  migrate-db: {clips} clips ({report.total} rows) copied in {elapsed:.2f} s")
    source.close()
    target.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--clips", type=int, default=5000, help="library size for migrate-db")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite (WAL, BEGIN IMMEDIATE):")
        bench(str(Path(folder) / "bench.db"), args.posts, args.writers)
    admin = connect_postgres(args.url)
    for label, lock in (("advisory lock", True), ("NO lock (what the lock prevents)", False)):
        schema = f"oldclip_bench_{secrets.token_hex(4)}"
        admin.execute(f"CREATE SCHEMA {schema}")
        immediate = PostgresDatabase.immediate
        if not lock:
            PostgresDatabase.immediate = PostgresDatabase.atomic  # type: ignore[method-assign]
        try:
            print(f"PostgreSQL ({label}):")
            sep = "&" if "?" in args.url else "?"
            bench(f"{args.url}{sep}options=-csearch_path%3D{schema}", args.posts, args.writers)
        finally:
            PostgresDatabase.immediate = immediate  # type: ignore[method-assign]
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    schema = f"oldclip_bench_{secrets.token_hex(4)}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        print("PostgreSQL, a new database:")
        with tempfile.TemporaryDirectory() as folder:
            sep = "&" if "?" in args.url else "?"
            bench_copy(Path(folder), f"{args.url}{sep}options=-csearch_path%3D{schema}", args.clips)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()


if __name__ == "__main__":
    main()
