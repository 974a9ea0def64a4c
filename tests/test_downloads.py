"""Media downloads of the watchers: one slow source holds only its own item, and big files go
to disk, never into memory.  A real loopback server (tests/feed_server.py), real SQLite, the
real chair video; no mocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import tracemalloc
from pathlib import Path

from feed_server import FeedServer
from test_watch_pipeline import (
    CHAIR_POST,
    alerts,
    chair_db,  # noqa: F401 - fixtures
    chair_template,  # noqa: F401
    make_config,
    pipeline_for,
    reposts_of,
)

import storage
from oldclip.feeds import add_feed
from oldclip.library import Library
from oldclip.watch import run_forever

MiB = 1024 * 1024


def rss(server: FeedServer, items: list[tuple[str, str]]) -> bytes:
    """An RSS feed of (post link, enclosure URL) items, as a source would publish it."""
    entries = "".join(
        f"<item><title>Post {n}</title><link>{link}</link><guid>{link}</guid>"
        f'<enclosure url="{media}" type="video/mp4" length="0"/></item>'
        for n, (link, media) in enumerate(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test</title>'
        f"<link>{server.base_url}</link>{entries}</channel></rss>"
    ).encode()


async def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.2)
    return condition()


async def test_a_trickling_enclosure_does_not_delay_another_feeds_media(
    feed_server: FeedServer,
    chair_db: Path,  # noqa: F811
) -> None:
    """A feed whose video arrives a byte every 2 s (for a minute, the download timeout) is
    watched; while that download runs, a second feed is added: its repost of the chair clip
    must be found within seconds, not after the slow download gives up."""
    feed_server.trickle_seconds = 2.0
    feed_server.files["slow.xml"] = rss(
        feed_server, [("https://slow.example/p/1", feed_server.url("/trickle/clip.mp4"))]
    )
    config = make_config(chair_db, download_timeout_s=60.0)
    library = Library.open(config)
    stop = asyncio.Event()
    watcher = asyncio.create_task(run_forever(library, config, stop))
    try:
        add_feed(library, "rss", feed_server.url("/files/slow.xml"), interval_s=600)
        assert await wait_until(
            lambda: any(r.path.startswith("/trickle/") for r in feed_server.requests), 20
        ), "the slow download never started"

        add_feed(
            library,
            "mastodon",
            feed_server.url("/feeds/mastodon_tag.json"),
            interval_s=600,
            include=["checkpoint"],
        )
        started = time.monotonic()
        found = await wait_until(lambda: bool(reposts_of(library, CHAIR_POST)), 30)
        waited = time.monotonic() - started

        assert found, "the other feed's repost waited for the trickling download"
        assert waited < 30
        (slow,) = [m for m in storage.due_media(library.db, limit=100) if "/trickle/" in m.url] or [
            None
        ]
        assert slow is not None and slow.state == "new"  # still downloading meanwhile
        assert len(alerts(library, "repost")) == 1
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 15)  # stops promptly, the slow download abandoned
        library.close()


def sha256_of_zeros(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(MiB)
    for _ in range(size // MiB):
        digest.update(block)
    return digest.hexdigest()


def queue(library: Library, url: str) -> storage.PostMedia:
    post_id, _ = storage.record_post(
        library.db,
        feed_id=None,
        source="rss",
        external_id=url,
        post_url=f"https://news.example/{hashlib.sha1(url.encode()).hexdigest()}",
        author=None,
        published=None,
        text="",
        forwarded_from=None,
        media=[{"url": url, "kind": "video"}],
    )
    (item,) = storage.media_of_post(library.db, post_id)
    return item


async def test_a_big_enclosure_is_streamed_to_disk_and_an_oversized_one_refused(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    size = 64 * MiB
    config = make_config(tmp_path / "library.db", max_media_mb=80)
    library = Library.open(config)
    try:
        async with pipeline_for(library, config) as pipeline:
            big = queue(library, feed_server.url(f"/zeros/{size}.mp4"))
            tracemalloc.start()
            try:
                fetched = await pipeline.media.download(big)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB held in memory for a 64 MiB download"

            archived = Path(fetched.file_path)
            assert fetched.state == "fetched" and archived.is_relative_to(config.media_dir)
            assert archived.stat().st_size == size
            digest = hashlib.sha256()
            with archived.open("rb") as f:
                while chunk := f.read(MiB):
                    digest.update(chunk)
            assert digest.hexdigest() == sha256_of_zeros(size)

        small = make_config(tmp_path / "library.db", max_media_mb=1)
        async with pipeline_for(library, small) as pipeline:
            huge = queue(library, feed_server.url("/huge"))  # 1 GB, no Content-Length
            assert await pipeline.media.advance(huge) == "failed"
        failed = storage.get_post_media(library.db, huge.id)
        assert failed.state == "failed"
        assert f"over the limit of {MiB} bytes" in failed.error
        assert "raise the limit" in failed.error  # what to do about it
        leftovers = [p for p in config.media_dir.rglob("*") if p.is_file() and p != archived]
        assert leftovers == []  # nothing half-written left behind
    finally:
        with contextlib.suppress(Exception):
            library.close()


async def test_downloads_from_one_host_are_limited(feed_server: FeedServer, tmp_path: Path) -> None:
    """Four slow videos on one host: two are downloaded at once (`downloads_per_host`), the
    others wait their turn in the database instead of taking every connection to the host."""
    feed_server.trickle_seconds = 1.0
    config = make_config(tmp_path / "library.db", download_timeout_s=30.0)  # 2 per host
    library = Library.open(config)
    try:
        async with pipeline_for(library, config) as pipeline:
            for n in range(4):
                queue(library, feed_server.url(f"/trickle/{n}.mp4"))
            working = asyncio.create_task(pipeline.work_queue())
            await asyncio.sleep(4)
            started = [r.path for r in feed_server.requests if r.path.startswith("/trickle/")]
            working.cancel()
            await asyncio.gather(working, return_exceptions=True)
        assert len(started) == 2, started
        states = {m.state for m in storage.due_media(library.db)}
        assert states == {"new"}  # nothing lost: all four resume from the database
    finally:
        library.close()
