"""Polling throughput: many feeds on local servers, polled in one pass.

    python bench/watch.py [--feeds 1000] [--posts 10] [--hosts 25] [--process]

Serves ``--feeds`` RSS feeds of ``--posts`` items each (every item with a photo enclosure) from
aiohttp servers on ``--hosts`` loopback addresses (127.0.0.2, 127.0.0.3, ...: the per-host
connection limit applies per address, as it would across real sources), then runs one pass of
``oldclip watch --once``'s polling against a fresh database and prints feeds per second, CPU
seconds and peak memory (target: 1,000 feeds in under 60 s, peak under 300 MB).  With
``--process`` the queued media are downloaded and fingerprinted too (every photo is one of a
few shared files, so this measures downloads and deduplication more than decoding).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oldclip.config import load_config  # noqa: E402
from oldclip.feeds import add_feed  # noqa: E402
from oldclip.library import Library  # noqa: E402
from oldclip.watch import run_once  # noqa: E402

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "media" / "images"
PHOTOS = ["aaa-orig.jpg", "square-256x256.jpg", "high-contrast.jpg"]


def rss(base: str, feed: int, posts: int) -> bytes:
    items = "".join(
        f"<item><title>Post {feed}-{i}</title><link>{base}/post/{feed}/{i}</link>"
        f"<guid>{base}/post/{feed}/{i}</guid><pubDate>Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0000"
        f"</pubDate><description>footage filmed today</description>"
        f'<enclosure url="{base}/media/{PHOTOS[(feed + i) % len(PHOTOS)]}" type="image/jpeg" '
        f'length="1000"/></item>'
        for i in range(posts)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"<link>{base}/</link><description>bench</description>{items}</channel></rss>"
    ).encode()


async def serve(hosts: int, posts: int) -> tuple[list[web.AppRunner], list[str]]:
    async def feed(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        body = rss(base, int(request.match_info["n"]), posts)
        return web.Response(body=body, content_type="application/rss+xml")

    async def media(request: web.Request) -> web.FileResponse:
        return web.FileResponse(IMAGES / request.match_info["name"])

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/media/{name}", media)
    runners, bases = [], []
    for h in range(hosts):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, f"127.0.0.{h + 2}", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        runners.append(runner)
        bases.append(f"http://127.0.0.{h + 2}:{port}")
    return runners, bases


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=25)
    parser.add_argument("--process", action="store_true")
    args = parser.parse_args()

    runners, bases = await serve(args.hosts, args.posts)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, Path(tmp) / "bench.db")
        config = replace(config, network=replace(config.network, allow_private_addresses=True))
        library = Library.open(config)
        for n in range(args.feeds):
            add_feed(library, "rss", f"{bases[n % len(bases)]}/feed/{n}.xml", interval_s=600)
        if not args.process:
            # Polling only: park every queued item in the future so the pass leaves them.
            library.db.execute(
                "CREATE TEMP TRIGGER park AFTER INSERT ON post_media BEGIN "
                "UPDATE post_media SET next_attempt_at = '9999' "
                "WHERE id = NEW.id; END"
            )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = await run_once(library, config)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        library.close()
    for runner in runners:
        await runner.cleanup()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{report.polled} feeds ({report.failed_polls} failed), {report.new_posts} new posts, "
        f"{report.processed} media processed in {wall:.1f} s: "
        f"{report.polled / wall:.0f} feeds/s, CPU {cpu:.1f} s, peak memory {peak_mb:.0f} MB "
        "(server included)"
    )
    print("targets: 1,000 feeds in under 60 s, peak memory under 300 MB")


if __name__ == "__main__":
    asyncio.run(main())
