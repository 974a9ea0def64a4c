"""`oldclip run`: the bot, the watchers and alert delivery on one event loop.

The token comes from ``$OLDCLIP_BOT_TOKEN`` or ``[bot] token`` in the config (outside git).
Without one, the watchers still run and oldclip says clearly that the bot is off.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import storage
from bot.app import quiet_secrets, run_bot
from bot.deps import Deps
from bot.ports import CheckOutcome, Finding
from bot.ratelimit import RateLimit
from fingerprint import fingerprint_file

from .config import Config
from .library import ClipMatch, Library
from .watch import run_forever

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LibraryChecker:
    """The bot's ``Checker``: fingerprint in a worker process, match, describe what is known."""

    def __init__(self, library: Library, workers: ProcessPoolExecutor):
        self.library = library
        self.workers = workers

    async def check(self, path: Path, *, keep: bool) -> CheckOutcome:
        loop = asyncio.get_running_loop()
        limits = self.library.config.limits
        fp = await loop.run_in_executor(self.workers, fingerprint_file, path, limits)
        found = self.library.match(fp)
        media_id = None
        if keep:  # stored so that a person can be told when the footage is identified later
            media_id = self.library.add_fingerprint(fp)
            found = [f for f in found if f.match.media_id != media_id or f.clip is not None]
        return CheckOutcome(
            findings=[self._finding(f) for f in found if f.clip or f.sightings],
            library_size=storage.count_clips(self.library.db),
            media_id=media_id,
        )

    def _finding(self, found: ClipMatch) -> Finding:
        m, clip = found.match, found.clip
        media = storage.get_media(self.library.db, m.media_id)
        first = found.sightings[0] if found.sightings else None
        return Finding(
            media_id=m.media_id,
            score=m.score,
            query_start=m.query_start,
            query_end=m.query_end,
            ref_start=m.ref_start,
            ref_end=m.ref_end,
            frames=m.frames_matched,
            mirrored=m.mirrored,
            best_pair=m.best_pair,
            clip_id=clip.id if clip else None,
            title=clip.title if clip else None,
            description=clip.description if clip else None,
            first_seen=clip.first_seen if clip else (first.seen_at if first else None),
            source=clip.source if clip else (first.post_url or first.url if first else None),
            verdict_url=clip.verdict_url if clip else None,
            ref_path=getattr(media, "path", None),
        )


def run(library: Library, config: Config) -> int:
    """Run until SIGINT/SIGTERM; exit status 0 after a clean stop."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    quiet_secrets()
    settings = config.bot
    if not settings.token:
        print(
            "oldclip: the Telegram bot is OFF (no token): set OLDCLIP_BOT_TOKEN or [bot] token "
            "in the config file; running the watchers only",
            file=sys.stderr,
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        tasks = [asyncio.create_task(run_forever(library, config, stop))]
        workers = None
        if settings.token:
            workers = ProcessPoolExecutor(max_workers=max(1, config.watch.fingerprint_workers))
            deps = Deps(
                db=library.db,
                checker=LibraryChecker(library, workers),
                settings=settings,
                rate=RateLimit(per_minute=settings.requests_per_minute),
            )
            tasks.append(asyncio.create_task(run_bot(deps, stop)))
        print("oldclip: running; Ctrl-C or SIGTERM stops it", file=sys.stderr)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    stop.set()
                    raise task.exception()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if workers is not None:
                workers.shutdown(cancel_futures=True)

    asyncio.run(main())
    print("oldclip: stopped", file=sys.stderr)
    return 0
