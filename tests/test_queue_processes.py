"""Two `oldclip worker` processes and one `oldclip scheduler` on one PostgreSQL schema, for real.

A loopback feed carries 50 media posts: reposts of the library's chair clip (re-cuts of it)
and unrelated clips and photos.  One worker is killed with SIGKILL mid-way and started again.
What a user would notice: every post is processed exactly once to a final state, every repost
is alerted exactly once, and nothing is left stuck in the queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from feed_server import FeedServer
from media import REPO
from test_queue import UNFINISHED_JOBS, add_chair, alerted_posts, count, queue_config

import storage
from oldclip.feeds import add_feed
from oldclip.library import Library

POSTS = 50
CHAIR_CUTS = ("videos/chair-19-sd-bar.mp4", "videos/chair-20-sd-bar.mp4")
UNRELATED = (
    "videos/doorknob-hd-no-bar.mp4",
    "videos/test-padded-dimensions.mp4",
    "videos/pattern-sd-grey-bar.mp4",
    "images/square-256x256.jpg",
    "images/shrink-a-lot.jpg",
)
CONCURRENCY = 3
STALLED_AFTER_S = 20  # the killed worker's jobs run again within this and a 10 s tick; a
# worker whose loop a loaded machine holds up longer is taken for dead (and exits), so not less


def feed_xml(base: str) -> tuple[bytes, dict[str, str]]:
    """An RSS feed of POSTS media posts, and which file each post links to."""
    items, media = [], {}
    for number in range(POSTS):
        chair = number % 2 == 0
        names = CHAIR_CUTS if chair else UNRELATED
        name = names[(number // 2) % len(names)]
        link = f"{base}/news/post-{number}"
        media[link] = name
        kind = "video/mp4" if name.endswith(".mp4") else "image/jpeg"
        items.append(
            f"<item><title>Post {number}</title><link>{link}</link>"
            f"<guid>post-{number}</guid><pubDate>Fri, 20 Nov 2026 12:00:00 GMT</pubDate>"
            f'<enclosure url="{base}/media/{name}" type="{kind}" length="1"/></item>'
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Many</title><link>{base}/news/</link>" + "".join(items) + "</channel></rss>"
    )
    return xml.encode(), media


class Process:
    """An oldclip command running on its own, its output in a file (a pipe could fill)."""

    def __init__(self, name: str, folder: Path, config: Path, *args: str):
        self.folder, self.config, self.args = folder, config, args
        self.log = folder / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(self.folder / "data")}
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "oldclip", "--config", str(self.config), *self.args,
                cwd=self.folder, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no handler runs, the jobs in hand stay "doing"
        await self.process.wait()

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None


async def until(check, timeout: float, what: str, library: Library, logs: list[Process]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            jobs = library.db.execute(
                "SELECT task_name, status, count(*) FROM procrastinate_jobs GROUP BY 1, 2"
            ).fetchall()
            items = library.db.execute(
                "SELECT state, count(*) FROM post_media GROUP BY 1"
            ).fetchall()
            tails = "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in logs)
            pytest.fail(f"{what} not reached in {timeout:.0f} s: {jobs} {items}\n{tails}")
        await asyncio.sleep(0.5)


async def test_two_workers_and_a_scheduler_survive_a_kill_9(
    postgres_schema: str, feed_server: FeedServer, tmp_path: Path
) -> None:
    xml, media_of = feed_xml(feed_server.base_url)
    feed_server.files["many.xml"] = xml
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    processes: list[Process] = []
    try:
        add_chair(library)
        add_feed(library, "rss", feed_server.url("/files/many.xml"), interval_s=3600)
        toml = tmp_path / "config.toml"
        toml.write_text(
            f'[database]\nurl = "{postgres_schema}"\n'
            f'[watch]\nmedia_dir = "{tmp_path / "media"}"\nfingerprint_workers = 1\n'
            '[network]\nallow_private_addresses = false\nallowed_networks = ["127.0.0.0/8"]\n'
        )
        worker = [
            "worker",
            "--concurrency",
            str(CONCURRENCY),
            "--stalled-after",
            str(STALLED_AFTER_S),
        ]
        first = Process("worker-a", tmp_path, toml, *worker)
        second = Process("worker-b", tmp_path, toml, *worker)
        scheduler = Process("scheduler", tmp_path, toml, "scheduler", "--every", "1")
        processes = [scheduler, first, second]
        for process in processes:
            await process.start()

        def finished() -> int:
            return count(
                library, "SELECT count(*) FROM post_media WHERE state IN ('notified', 'failed')"
            )

        def busy() -> bool:
            """Media done, and more media jobs in hand than one worker can hold: the other
            worker (the one to kill) holds some."""
            sql = (
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE task_name = 'oldclip:process_media' AND status = 'doing'"
            )
            return finished() >= 3 and count(library, sql) > CONCURRENCY  # tables there by then

        await until(busy, 180, "both workers busy", library, processes)
        await first.kill()
        killed_at = finished()
        await asyncio.sleep(1)
        await first.start()  # the same command again, as systemd would

        def settled() -> bool:
            return (
                count(library, "SELECT count(*) FROM posts") == POSTS
                and finished() == POSTS
                and count(library, UNFINISHED_JOBS) == 0
            )

        await until(settled, 240, "every post final and no job left", library, processes)
        codes = [await process.stop() for process in processes]
        assert codes == [0, 0, 0], [p.log.read_text()[-2000:] for p in processes]
        assert killed_at < POSTS  # the kill came mid-way

        states = Counter(
            row[0] for row in library.db.execute("SELECT state FROM post_media").fetchall()
        )
        assert states == {"notified": POSTS}
        chair_posts = {link for link, name in media_of.items() if name in CHAIR_CUTS}
        reposts = storage.list_reposts(library.db, limit=1000)
        assert sorted(r.post_url for r in reposts) == sorted(chair_posts)  # each once, no other
        alerted = Counter(alerted_posts(library))
        assert set(alerted) == chair_posts and set(alerted.values()) == {1}
        # The killed worker's jobs were started again (retry_stalled_jobs): harmlessly.
        twice = count(
            library,
            "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events "
            "WHERE type = 'started' GROUP BY job_id HAVING count(*) > 1) AS t",
        )
        assert twice >= 1
        print(f"killed after {killed_at} of {POSTS} media; {twice} jobs ran twice")
    finally:
        for process in processes:
            await process.stop()
        library.close()
