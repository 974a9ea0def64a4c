"""A poll's worker killed between recording a post and queueing its media: nothing is lost.

The media jobs are queued after the post is committed, not in the same transaction (see
oldclip.scheduler for why), so a kill -9 in between leaves media 'new' with no job.  What a
user would notice: the repost in that post is still found and alerted, once, because the
scheduler queues media left untouched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from feed_server import FeedServer
from media import REPO
from test_queue import (
    CHAIR_POST,
    UNFINISHED_JOBS,
    add_chair,
    alerted_posts,
    count,
    drain,
    queue_config,
)

from oldclip.feeds import add_feed
from oldclip.jobs import ensure_schema, make_app
from oldclip.library import Library
from oldclip.scheduler import LEFT_AFTER_S, schedule_once
from storage.txn import utc_iso_after

# A worker's poll job up to the moment its post is committed, then killed with SIGKILL.
POLL_THEN_DIE = """
import asyncio, os, signal, sys
from pathlib import Path
sys.path.insert(0, "tests")
from test_queue import queue_config
from oldclip.http import http_session
from oldclip.library import Library
from oldclip.pipeline import Pipeline
from oldclip.workers import media_workers

async def main(url, folder, feed_id):
    config = queue_config(url, Path(folder))
    library = Library.open(config)
    async with media_workers(config) as workers, http_session(config) as session:
        await Pipeline(library, config, session, workers).poll_feed(int(feed_id))
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_media_recorded_by_a_worker_killed_before_queueing_them_are_still_processed(
    postgres_schema: str,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = queue_config(postgres_schema, tmp_path)
    library = Library.open(config)
    try:
        add_chair(library)
        feed_url = feed_server.url("/feeds/mastodon_tag.json")
        feed_id, _ = add_feed(library, "mastodon", feed_url, interval_s=600)
        ensure_schema(library.db)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            POLL_THEN_DIE,
            postgres_schema,
            str(tmp_path),
            str(feed_id),
            cwd=REPO,
            env=os.environ.copy(),
        )
        assert await asyncio.wait_for(child.wait(), 120) == -signal.SIGKILL
        new = "SELECT count(*) FROM post_media WHERE state = 'new'"
        assert count(library, new) == 4  # recorded, and no job for any of them
        assert count(library, "SELECT count(*) FROM procrastinate_jobs") == 0

        app = make_app(postgres_schema)
        async with app.open_async():
            # Just recorded: a job may be on its way, so the scheduler leaves them alone...
            assert await schedule_once(app, library, config) == (0, 0)
            # ...until they have sat untouched for LEFT_AFTER_S.
            library.db.execute(
                "UPDATE post_media SET updated_at = ?",
                [utc_iso_after(-LEFT_AFTER_S - 1)],
            )
            assert await schedule_once(app, library, config) == (0, 4)
            await drain(library, config, app)
        assert count(library, "SELECT count(*) FROM post_media WHERE state = 'notified'") == 4
        assert alerted_posts(library) == [CHAIR_POST]
        assert count(library, UNFINISHED_JOBS) == 0
    finally:
        library.close()
