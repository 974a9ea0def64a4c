"""`oldclip run`: the bot, the watchers and alert delivery on one event loop; `oldclip bot`:
the bot and alert delivery alone (long polling, or a webhook served by any number of them).

The token comes from ``$OLDCLIP_BOT_TOKEN`` or ``[bot] token`` in the config (outside git).
Without one, `oldclip run` still runs the watchers and says clearly that the bot is off;
`oldclip bot` has nothing to do and says so.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import numpy as np

import storage
from bot import evidence
from bot.app import quiet_secrets, run_bot
from bot.deps import Deps
from bot.ports import CheckOutcome, Finding
from bot.ratelimit import RateLimit
from fingerprint import (
    INDEXED_VARIANTS,
    Fingerprint,
    HashIndex,
    MatchSettings,
    MediaError,
    find_matches,
    signal,
)
from watchers.errors import FeedError

from .config import Config, ConfigError
from .durations import parse_duration
from .feeds import add_feed
from .library import ClipMatch, Library
from .links import LinkDownloader
from .render import terminal
from .replica import keep_fresh
from .runner import run_until_signalled
from .watch import run_forever, say_if_no_feeds
from .workers import MediaWorkers, media_workers

log = logging.getLogger(__name__)
MAX_OPEN_QUESTIONS = 5000  # open questions matched against a newly added clip
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LibraryChecker:
    """The bot's ``Checker``: decode in an isolated worker process, match, say what is known."""

    def __init__(self, library: Library, workers: MediaWorkers):
        self.library = library
        self.workers = workers

    async def _fingerprint(self, path: Path) -> Fingerprint:
        return await self.workers.fingerprint(path)

    async def key_frames(self, path: Path) -> list[bytes]:
        try:
            return await self.workers.run(
                path.name, evidence.key_frames, path, limits=self.workers.limits
            )
        except MediaError as exc:
            log.info("no key frames: %s", exc)
            return []

    async def side_by_side(
        self,
        query: Path,
        query_at: float,
        query_label: str,
        ref: Path,
        ref_at: float,
        ref_label: str,
        lang: str = "en",
    ) -> bytes | None:
        try:
            return await self.workers.run(
                Path(query).name,
                evidence.compare,
                *(query, query_at, query_label, ref, ref_at, ref_label),
                lang=lang,
                limits=self.workers.limits,
            )
        except MediaError as exc:
            log.info("no evidence picture: %s", exc)
            return None

    async def check(self, path: Path, *, keep: bool) -> CheckOutcome:
        fp = await self._fingerprint(path)
        found = self.library.match(fp)
        media_id = None
        if keep:  # stored so that a person can be told when the footage is identified later
            media_id = self.library.add_fingerprint(fp, index=False)
        return CheckOutcome(
            findings=[self._finding(f) for f in found],
            library_size=storage.count_clips(self.library.db),
            media_id=media_id,
        )

    async def add_clip(
        self,
        path: Path,
        *,
        title: str,
        first_seen: str,
        source: str,
        description: str | None,
        verdict_url: str | None,
        added_by: str,
    ) -> tuple[int, bool]:
        fp = await self.workers.fingerprint(path, store=True)
        return self.library.add_clip(  # also keeps a copy, for evidence pictures
            path,
            fp=fp,
            title=title,
            first_seen=first_seen,
            source=source,
            description=description,
            verdict_url=verdict_url,
            added_by=added_by,
        )

    async def askers_of(self, clip_id: int) -> list[storage.Question]:
        """Open questions about media that, asked about now, would be identified as the clip.

        Matching is not symmetric (a query is tried cropped, zoomed and mirrored; stored media
        only as it is), so each asked-about file is matched as a query against the clip alone,
        exactly as the question would be checked today.  The newest ``MAX_OPEN_QUESTIONS``
        open questions are considered.
        """
        db = self.library.db
        clip = storage.get_clip(db, clip_id)
        clip_fp = self.library.load(clip.media_id) if clip is not None else None
        if clip is None or clip_fp is None or clip.benign:
            return []  # a benign clip identifies nothing
        questions = storage.open_questions(db, limit=MAX_OPEN_QUESTIONS)
        asked: dict[int, Fingerprint] = {}
        for media_id in {q.media_id for q in questions} - {clip.media_id, None}:
            fp = storage.load_fingerprint(db, media_id)
            if fp is not None:
                asked[media_id] = fp
        # Loaded here: the matching thread must not touch the event loop's connection.
        benign = {m: self.library.load(m) for m in storage.benign_media_ids(db)}
        known = {**benign, clip.media_id: clip_fp}
        settings = self.library.config.matching
        matched = await asyncio.to_thread(
            _matching, clip.media_id, known, asked, settings, self.library.benign_index
        )
        return [q for q in reversed(questions) if q.media_id in matched | {clip.media_id}]

    def remove_clip(self, clip_id: int) -> bool:
        return self.library.remove_clip(clip_id)

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
            agreement=found.agreement,
            clip_id=clip.id if clip else None,
            title=clip.title if clip else None,
            description=clip.description if clip else None,
            first_seen=clip.first_seen if clip else (first.seen_at if first else None),
            source=clip.source if clip else (first.post_url or first.url if first else None),
            verdict_url=clip.verdict_url if clip else None,
            rating=clip.rating if clip else None,
            claim=clip.claim if clip else None,
            ref_path=getattr(media, "path", None),
        )


class LibraryFeeds:
    """The bot's ``Feeds``: the admin commands add and remove feeds like `oldclip feeds`."""

    def __init__(self, library: Library, config: Config):
        self.library, self.config = library, config

    def add(self, kind: str, target: str, every: str | None) -> tuple[int, bool]:
        interval = parse_duration(every) if every else self.config.watch.poll_interval_s
        try:
            return add_feed(self.library, kind, target, interval_s=interval)
        except FeedError as exc:  # a target the kind cannot use
            raise ValueError(f"{exc.reason} ({exc.hint})" if exc.hint else exc.reason) from None

    def remove(self, feed_id: int) -> bool:
        return storage.remove_feed(self.library.db, feed_id)

    def list(self) -> list[storage.Feed]:
        return storage.list_feeds(self.library.db)


def _matching(
    clip_media_id: int,
    known: dict[int, Fingerprint | None],
    asked: dict[int, Fingerprint],
    settings: MatchSettings,
    benign: HashIndex,
) -> set[int]:
    """The ids of the ``asked`` media that match the clip when checked against it alone.

    ``known`` holds the clip's fingerprint and those of the benign media, whose frames are
    ignored as in every other match (an intro shared with the clip identifies nothing).
    """
    clip_fp = known[clip_media_id]
    only_clip = HashIndex.build(
        [(clip_media_id, clip_fp.hashes[np.isin(clip_fp.variants, INDEXED_VARIANTS)])]
    )
    others = {}
    for name, data in clip_fp.signals.items():
        if name in signal.PLUGINS:
            others[name] = signal.get(name).new_index()
            others[name].add(clip_media_id, data)
    # Identified means what a check would call old: a match of the sound alone is not.
    return {
        media_id
        for media_id, fp in asked.items()
        if any(
            not m.sound_only
            for m in find_matches(fp, only_clip, known.get, settings, benign, others)
        )
    }


def _say(line: str) -> None:
    """The bot's state, for the person running the service: one line on stderr."""
    print(terminal(f"oldclip: {line}"), file=sys.stderr, flush=True)


def bot_deps(library: Library, config: Config, workers: MediaWorkers) -> Deps:
    """What the bot's handlers reach: oldclip's checker, feeds, link downloader and settings."""
    settings = config.bot
    return Deps(
        db=library.db,
        checker=LibraryChecker(library, workers),
        settings=settings,
        rate=RateLimit(per_minute=settings.requests_per_minute),
        feeds=LibraryFeeds(library, config),
        links=LinkDownloader(
            max_bytes=settings.link_max_mb * 1_000_000,
            max_duration_s=settings.link_max_duration_s,
            socket_timeout_s=settings.link_timeout_s,
            proxy=settings.link_proxy or None,
        ),
    )


def run_bot_alone(library: Library, config: Config, webhook_url: str | None = None) -> int:
    """`oldclip bot`: the bot and alert delivery without the watchers, until SIGINT/SIGTERM.

    Exit status 0 after a clean stop, 1 when the bot cannot start (no token, a token or a
    webhook Telegram refuses, the port taken).
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    quiet_secrets()
    if not config.bot.token:
        raise ConfigError(
            "the bot has no token: set OLDCLIP_BOT_TOKEN or [bot] token in the config file"
        )
    started = True

    async def serve(library: Library, config: Config, stop: asyncio.Event) -> None:
        nonlocal started
        async with media_workers(config, stop) as workers:
            deps = bot_deps(library, config, workers)
            # Its index follows the library when idle too, and says so (`oldclip status`).
            fresh = asyncio.create_task(
                keep_fresh(
                    library, config.replica.refresh_s, config.replica.changes_keep_h, role="bot"
                )
            )
            try:
                started = await run_bot(deps, stop, _say, webhook_url=webhook_url, meanwhile="")
            finally:
                fresh.cancel()
                await asyncio.gather(fresh, return_exceptions=True)

    run_until_signalled(serve, library)
    return 0 if started else 1


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
    say_if_no_feeds(library)

    async def everything(library: Library, config: Config, stop: asyncio.Event) -> None:
        # One pool of decoding workers for the watchers and the bot; with the bot on, it has
        # room for the watchers' queue and as many checks at once, so people never wait
        # behind the queue.
        count = config.watch.fingerprint_workers * (2 if settings.token else 1)
        async with media_workers(config, stop, count=count) as workers:
            await _serve(library, config, stop, workers)

    async def _serve(
        library: Library, config: Config, stop: asyncio.Event, workers: MediaWorkers
    ) -> None:
        tasks = [asyncio.create_task(run_forever(library, config, stop, workers))]
        # As on a worker: other processes' changes (`oldclip add`) are caught up when idle,
        # and the change log is pruned, or every sighting would stay in it for ever.
        fresh = asyncio.create_task(
            keep_fresh(library, config.replica.refresh_s, config.replica.changes_keep_h, role="run")
        )
        if settings.token:
            deps = bot_deps(library, config, workers)
            tasks.append(asyncio.create_task(run_bot(deps, stop, _say)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
        finally:
            stop.set()  # one part failing stops the others cleanly
            fresh.cancel()
            await asyncio.gather(fresh, *tasks, return_exceptions=True)

    return run_until_signalled(everything, library)
