"""Media downloads of the watchers: memory for big enclosures, and what a slow source costs others.

    python bench/downloads.py [--size-mb 190] [--count 4] [--trickle-s 5] [--timeout-s 60]

1. Memory: a feed with ``--count`` enclosures of ``--size-mb`` MB each (served lazily from a
   loopback server) is polled, and its media are downloaded at once, as the queue downloads
   them.  Prints the process's peak RSS before and after (``ru_maxrss``: the main process, where
   downloads run; fingerprinting happens in worker processes and is not part of this).
2. Delay: a feed whose video trickles one byte every ``--trickle-s`` seconds is polled and the
   queue started; once that download is under way, a feed on another host with the chair video
   is polled.  Prints how long the chair video waited before it was processed, with the slow
   download's timeout at ``--timeout-s``.

Runs against whatever oldclip sits beside this script (so the same script measures a checkout
of an older commit too).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import storage  # noqa: E402
from oldclip.config import Config, NetworkSettings, WatchSettings  # noqa: E402
from oldclip.feeds import add_feed  # noqa: E402
from oldclip.http import http_session  # noqa: E402
from oldclip.library import Library  # noqa: E402
from oldclip.pipeline import Pipeline  # noqa: E402
from oldclip.workers import media_workers  # noqa: E402

CHAIR = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos" / "chair-20-sd-bar.mp4"
CHUNK = bytes(64 * 1024)
MB = 1024 * 1024


def rss(base: str, name: str, enclosures: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{name} {i}</title><link>{base}/post/{name}/{i}</link>"
        f'<enclosure url="{url}" type="video/mp4" length="0"/></item>'
        for i, url in enumerate(enclosures)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


class Server:
    """Loopback sources: feeds, big zero-filled videos, a trickle, the chair video."""

    def __init__(self, size: int, count: int, trickle_s: float):
        self.size, self.count, self.trickle_s = size, count, trickle_s
        self.trickling = asyncio.Event()
        self.runners: list[web.AppRunner] = []

    async def start(self, host: str) -> str:
        app = web.Application()
        app.router.add_get("/feed/{name}", self.feed)
        app.router.add_get("/big/{n}.mp4", self.big)
        app.router.add_get("/trickle.mp4", self.trickle)
        app.router.add_get("/chair.mp4", self.chair)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        self.runners.append(runner)
        return f"http://{host}:{runner.addresses[0][1]}"

    async def feed(self, request: web.Request) -> web.Response:
        base, name = f"http://{request.host}", request.match_info["name"]
        media = {
            "big": [f"{base}/big/{i}.mp4" for i in range(self.count)],
            "slow": [f"{base}/trickle.mp4"],
            "chair": [f"{base}/chair.mp4"],
        }[name]
        return web.Response(body=rss(base, name, media), content_type="application/rss+xml")

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = self.size
        await response.prepare(request)
        for sent in range(0, self.size, len(CHUNK)):
            await response.write(CHUNK[: min(len(CHUNK), self.size - sent)])
        return response

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.trickling.set()
        while True:
            await response.write(b"\0")
            await asyncio.sleep(self.trickle_s)

    async def chair(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(CHAIR, headers={"Content-Type": "video/mp4"})

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def memory(pipeline: Pipeline, library: Library, base: str) -> None:
    feed_id, _ = add_feed(library, "rss", f"{base}/feed/big", interval_s=600)
    await pipeline.poll_feed(feed_id)
    items = storage.due_media(library.db)
    before = peak_rss_mb()
    started = time.monotonic()
    await asyncio.gather(*(pipeline.media.download(item) for item in items))
    elapsed = time.monotonic() - started
    after = peak_rss_mb()
    print(
        f"memory: {len(items)} enclosures of {pipeline.config.watch.max_media_mb - 10} MB "
        f"downloaded at once in {elapsed:.1f} s; peak RSS "
        f"{before:.0f} MB before, {after:.0f} MB after (+{after - before:.0f} MB)"
    )
    for item in items:
        done = storage.get_post_media(library.db, item.id)
        Path(done.file_path).unlink()
        storage.fail(library.db, item.id, "bench: not checked", retry_in_s=None, max_attempts=1)


async def delay(pipeline: Pipeline, library: Library, server: Server, bases: list[str]) -> None:
    slow_id, _ = add_feed(library, "rss", f"{bases[0]}/feed/slow", interval_s=600)
    chair_id, _ = add_feed(library, "rss", f"{bases[1]}/feed/chair", interval_s=600)
    await pipeline.poll_feed(slow_id)
    queue = asyncio.create_task(pipeline.work_queue())
    await asyncio.wait_for(server.trickling.wait(), 30)
    await pipeline.poll_feed(chair_id)
    queued = time.monotonic()
    (chair,) = [m for m in storage.due_media(library.db) if m.url.endswith("/chair.mp4")]
    while True:
        state = storage.get_post_media(library.db, chair.id).state
        if state in ("notified", "failed") or queue.done():
            break
        await asyncio.sleep(0.1)
    waited = time.monotonic() - queued
    print(
        f"delay: the chair video (another feed, another host) was {state} {waited:.1f} s after "
        f"it was queued, while a video trickled a byte every {server.trickle_s:g} s "
        f"(download timeout {pipeline.config.watch.download_timeout_s:g} s)"
    )
    queue.cancel()
    await asyncio.gather(queue, return_exceptions=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=190)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--trickle-s", type=float, default=5.0)
    parser.add_argument("--timeout-s", type=float, default=60.0)
    args = parser.parse_args()
    server = Server(args.size_mb * MB, args.count, args.trickle_s)
    bases = [await server.start("127.0.0.1"), await server.start("127.0.0.2")]
    with tempfile.TemporaryDirectory() as folder:
        config = Config(
            database=Path(folder) / "library.db",
            watch=WatchSettings(max_media_mb=args.size_mb + 10, download_timeout_s=args.timeout_s),
            network=NetworkSettings(allowed_networks=("127.0.0.0/8",)),
        )
        library = Library.open(config)
        try:
            async with http_session(config) as session, media_workers(config) as workers:
                pipeline = Pipeline(library, config, session, workers)
                await memory(pipeline, library, bases[0])
                await delay(pipeline, library, server, bases)
        finally:
            library.close()
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
