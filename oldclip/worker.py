"""`oldclip worker`: a procrastinate worker running oldclip's jobs (``oldclip.jobs``).

Any number of them, on any hosts, share one PostgreSQL database: each takes polls and media
jobs as they come, decodes in its own isolated worker processes (``oldclip.workers``) and
writes every step through the same compare-and-set pipeline as `oldclip run`.  Alerts go into
the outbox, which `oldclip bot` delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

import procrastinate

from storage.db import POSTGRES_SCHEMES
from storage.threads import ThreadedPostgres

from .config import Config, ConfigError
from .http import http_session
from .jobs import STALLED_AFTER_S, ensure_schema, make_app
from .library import Library
from .pipeline import Pipeline
from .replica import keep_fresh
from .workers import media_workers

log = logging.getLogger(__name__)


def require_postgres(config: Config, command: str) -> str:
    """The database URL, when it is PostgreSQL: the queue lives there and nowhere else."""
    url = config.database
    if not isinstance(url, str) or url.split("://", 1)[0].lower() not in POSTGRES_SCHEMES:
        raise ConfigError(
            f"oldclip {command} needs a PostgreSQL database ([database] url); "
            "on one host use `oldclip run`"
        )
    return url


@contextlib.asynccontextmanager
async def storage_threads(library: Library, url: str, size: int) -> AsyncIterator[None]:
    """``library.db`` with ``size`` storage threads while inside (``ThreadedPostgres``)."""
    main = library.db
    threaded = ThreadedPostgres(main, url, size)
    library.db = threaded
    try:
        yield
    finally:
        # The steps in hand finish first (waited for off the loop), then their connections go;
        # only then the library's own: a step still running must not switch to it midway.
        await asyncio.to_thread(threaded.close_threads)
        library.db = main


def run_worker(
    library: Library,
    config: Config,
    *,
    concurrency: int | None = None,
    stalled_after_s: float = STALLED_AFTER_S,
) -> int:
    """Work jobs until SIGINT/SIGTERM (procrastinate then lets the jobs in hand finish)."""
    url = require_postgres(config, "worker")
    ensure_schema(library.db)
    # Downloads and matching overlap the decodes: a few more jobs than decoding processes.
    jobs_at_once = concurrency or config.watch.fingerprint_workers * 2 + 2
    print(
        f"oldclip: worker on {config.database_label}, {jobs_at_once} jobs at once; "
        "Ctrl-C or SIGTERM stops it",
        file=sys.stderr,
        flush=True,
    )

    async def serve() -> None:
        app = make_app(url)
        async with app.open_async():
            await work(
                library, config, app, concurrency=jobs_at_once, stalled_after_s=stalled_after_s
            )

    asyncio.run(serve())
    print("oldclip: stopped", file=sys.stderr)
    return 0


async def work(
    library: Library,
    config: Config,
    app: procrastinate.App,
    *,
    concurrency: int,
    stalled_after_s: float = STALLED_AFTER_S,
    wait: bool = True,
) -> None:
    """Run ``app``'s jobs here (opened by the caller); ``wait=False`` returns once none is left.

    The jobs' storage steps run in storage threads, one per job at once and one for keeping
    the index fresh, each on its own connection (``storage.threads``): a statement waiting
    for a lock then holds up its own job, not the others nor procrastinate's heartbeat.
    """
    async with (
        media_workers(config) as workers,
        http_session(config) as session,
        storage_threads(library, require_postgres(config, "worker"), concurrency + 1),
    ):
        pipeline = Pipeline(library, config, session, workers)
        # The index follows the library between jobs too: staleness stays bounded when idle.
        settings = config.replica
        fresh = asyncio.create_task(
            keep_fresh(library, settings.refresh_s, settings.changes_keep_h, role="worker")
        )
        try:
            await app.run_worker_async(
                concurrency=concurrency,
                wait=wait,
                install_signal_handlers=wait,
                additional_context={"pipeline": pipeline, "stalled_after_s": stalled_after_s},
                update_heartbeat_interval=stalled_after_s / 6,
                stalled_worker_timeout=stalled_after_s,
            )
        finally:
            # Waited for while the storage threads are there: it takes its row away in one.
            fresh.cancel()
            await asyncio.gather(fresh, return_exceptions=True)
