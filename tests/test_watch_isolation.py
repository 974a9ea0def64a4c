"""The watchers' queue when a decoding worker hangs or is killed: real feeds on the local
server, real worker processes, a real SQLite file.

A file that keeps FFmpeg busy for longer than ``worker_timeout_s``, or whose worker is killed
mid-decode, fails alone and says why; the other media are processed as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from feed_server import FeedServer
from PIL import Image

from oldclip.config import Config, NetworkSettings, WatchSettings
from oldclip.feeds import add_feed
from oldclip.library import Library
from oldclip.watch import run_once
from oldclip.workers import media_workers

PHOTO = "/media/images/aaa-orig.jpg"


def slow_video(frames: int = 20_000, side: int = 512) -> bytes:
    """A valid QuickTime file of ``frames`` PNG frames at 1000 fps: every frame must be
    decoded, so fingerprinting it keeps a worker busy for seconds (~7 CPU s here).  Each frame
    is a blocky 512x512 picture, a 2 KB packet whose inflating costs more than decoding a
    16x16 one (150,000 of those took 1.7-1.9 CPU s once decoding got faster: not more than
    the 2 s timeout on a quiet machine)."""
    picture = io.BytesIO()
    blocks = np.random.default_rng(5).integers(0, 255, (16, 16), dtype=np.uint8)
    pixels = blocks.repeat(side // 16, axis=0).repeat(side // 16, axis=1)
    Image.fromarray(pixels).save(picture, "PNG")
    out_file = io.BytesIO()
    with av.open(out_file, "w", format="mov") as out:
        stream = out.add_stream("png", rate=1000)
        stream.width = stream.height = side
        stream.pix_fmt = "gray"
        for i in range(frames):
            packet = av.Packet(picture.getvalue())
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, 1000)
            packet.duration = 1
            out.mux(packet)
    return out_file.getvalue()


def rss(base: str, *enclosures: tuple[str, str]) -> bytes:
    items = "".join(
        f"<item><title>{n}</title><link>{base}/post{path}</link><guid>{path}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 11:30:00 GMT</pubDate>"
        f'<enclosure url="{base}{path}" type="{kind}" length="1000"/></item>'
        for n, (path, kind) in enumerate(enclosures)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def slow_feed(feed_server: FeedServer) -> str:
    """The feed server serving slow.mov and slow.xml (a feed of it); returns the base URL."""
    base = feed_server.base_url
    feed_server.files["slow.mov"] = slow_video()
    feed_server.files["slow.xml"] = rss(base, ("/files/slow.mov", "video/quicktime"))
    return base


def config_for(tmp_path: Path, **watch: object) -> Config:
    return Config(
        database=tmp_path / "library.db",
        watch=WatchSettings(**watch),
        network=NetworkSettings(allowed_networks=("127.0.0.0/8",)),
    )


def outcome(library: Library, url: str) -> tuple[str, str | None]:
    row = library.db.execute("SELECT state, error FROM post_media WHERE url = ?", [url]).fetchone()
    return row[0], row[1]


async def test_a_file_that_keeps_the_decoder_busy_too_long_fails_alone(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    base = feed_server.base_url
    feed_server.files["slow.mov"] = slow_video()
    feed_server.files["feed.xml"] = rss(
        base, ("/files/slow.mov", "video/quicktime"), (PHOTO, "image/jpeg")
    )
    config = config_for(tmp_path, worker_timeout_s=2.0)
    library = Library.open(config)
    try:
        add_feed(library, "rss", f"{base}/files/feed.xml", interval_s=600)
        started = time.monotonic()
        report = await run_once(library, config)
        assert time.monotonic() - started < 60
        assert (report.processed, report.failed_media) == (2, 1)
        state, error = outcome(library, f"{base}/files/slow.mov")
        assert state == "failed" and error.endswith(": decoding took longer than 2 s"), error
        assert outcome(library, f"{base}{PHOTO}") == ("notified", None)
    finally:
        library.close()


async def test_a_worker_killed_mid_decode_costs_only_its_item(
    feed_server: FeedServer, slow_feed: str, tmp_path: Path
) -> None:
    base = slow_feed
    feed_server.files["photo.xml"] = rss(base, (PHOTO, "image/jpeg"))
    config = config_for(tmp_path, fingerprint_workers=1)
    library = Library.open(config)
    try:
        async with media_workers(config) as workers:
            worker = await workers.run("probe", os.getpid)  # the pool's only worker
            add_feed(library, "rss", f"{base}/files/slow.xml", interval_s=600)
            first = asyncio.create_task(run_once(library, config, workers))
            deadline = time.monotonic() + 60
            while not first.done() and time.monotonic() < deadline:
                if _fetched(library, f"{base}/files/slow.mov"):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # decoding now
            os.kill(worker, signal.SIGKILL)
            report = await asyncio.wait_for(first, 60)
            assert report.failed_media == 1
            state, error = outcome(library, f"{base}/files/slow.mov")
            assert state == "failed"
            assert error.endswith(": the decoder crashed (killed by signal 9)"), error

            add_feed(library, "rss", f"{base}/files/photo.xml", interval_s=600)
            report = await run_once(library, config, workers)  # the same, repaired, pool
            assert (report.processed, report.failed_media) == (1, 0)
            assert outcome(library, f"{base}{PHOTO}") == ("notified", None)
    finally:
        library.close()


def _fetched(library: Library, url: str) -> bool:
    row = library.db.execute("SELECT state FROM post_media WHERE url = ?", [url]).fetchone()
    return row is not None and row[0] == "fetched"


async def test_watch_stops_at_once_during_a_long_decode_and_resumes_it_later(
    slow_feed: str, tmp_path: Path
) -> None:
    base = slow_feed
    config = tmp_path / "config.toml"
    config.write_text(
        f'[library]\ndatabase = "{tmp_path / "library.db"}"\n'
        '[network]\nallowed_networks = ["127.0.0.0/8"]\n'
        f'[[feeds]]\nkind = "rss"\ntarget = "{base}/files/slow.xml"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oldclip", "--config", str(config), "watch",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
        start_new_session=True,  # its own process group: a failed test ends its workers too
    )  # fmt: skip
    library = Library.open(config_for(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while not _fetched(library, f"{base}/files/slow.mov") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # decoding now, for ~10 s more
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert time.monotonic() - stopping < 6, "the stop waited for the decode"
        assert process.returncode == 0 and b"stopped" in err
        # Not the file's fault: it is neither failed nor blamed, and the next start takes it up.
        assert outcome(library, f"{base}/files/slow.mov") == ("fetched", None)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        library.close()
