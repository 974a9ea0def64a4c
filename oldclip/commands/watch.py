"""`oldclip feeds ...`, `watch` and `reposts`: the sources the watchers poll and what they found."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import storage

from ..durations import parse_duration
from ..feeds import add_feed, sync_config_feeds
from ..render import feed_line, plural, repost_line
from . import UsageError, say

if TYPE_CHECKING:
    from ..library import Library


def cmd_feeds_add(library: Library, args: argparse.Namespace) -> int:
    every = parse_duration(args.every) if args.every else library.config.watch.poll_interval_s
    feed_id, created = add_feed(
        library,
        args.kind,
        args.target,
        interval_s=every,
        label=args.label,
        language=args.language,
        include=args.include,
        exclude=args.exclude,
    )
    say(feed_id)
    if not created:
        say(f"oldclip: that feed is already watched as feed {feed_id}", file=sys.stderr)
    return 0


def cmd_feeds_list(library: Library, args: argparse.Namespace) -> int:
    sync_config_feeds(library, library.config)  # feeds declared in the config show at once
    feeds = storage.list_feeds(library.db)
    if args.json:
        say(json.dumps([asdict(f) for f in feeds], ensure_ascii=False, indent=2))
    elif not feeds:
        say("No feeds: add one with `oldclip feeds add KIND TARGET`.")
    else:
        for feed in feeds:
            say(feed_line(feed))
    return 0


def cmd_feeds_remove(library: Library, args: argparse.Namespace) -> int:
    if not storage.remove_feed(library.db, args.id):
        raise UsageError(f"no feed {args.id} (see `oldclip feeds list`)")
    say(f"removed feed {args.id}")
    return 0


def cmd_watch(library: Library, args: argparse.Namespace) -> int:
    import asyncio

    from ..runner import run_until_signalled
    from ..watch import run_forever, run_once, say_if_no_feeds

    def tell(line: str, *, problem: bool = False) -> None:
        """Each repost found (stdout) and each medium that failed (stderr), as it happens."""
        if problem:
            say(f"oldclip: {line}", file=sys.stderr)
        else:
            say(line)
            sys.stdout.flush()

    say_if_no_feeds(library)
    if args.once:
        report = asyncio.run(run_once(library, library.config, tell=tell))
        say(
            f"polled {plural(report.polled, 'feed')} ({report.failed_polls} failed), "
            f"{plural(report.new_posts, 'new post')}, "
            f"{plural(report.processed, 'media file')} processed, "
            f"{plural(report.reposts, 'repost')} found, {report.library} added to the library "
            f"from fact-checks, {plural(report.failed_media, 'media file')} failed"
            + (
                f", {plural(report.skipped_items, 'item')} skipped (see `oldclip feeds list`)"
                if report.skipped_items
                else ""
            )
        )
        if report.polled and report.failed_polls == report.polled:
            say(
                f"oldclip: every feed failed ({plural(report.polled, 'feed')}): their errors "
                "are above and in `oldclip feeds list`",
                file=sys.stderr,
            )
            return 1
        # 0 otherwise: failed feeds, skipped items and failed media are recorded on their feed
        # or item and said above; the next pass retries what can be retried.
        return 0
    return run_until_signalled(
        lambda library, config, stop: run_forever(library, config, stop, tell=tell), library
    )


def cmd_reposts(library: Library, args: argparse.Namespace) -> int:
    found = storage.list_reposts(library.db, limit=args.limit)
    if args.json:
        say(json.dumps([asdict(r) for r in found], ensure_ascii=False, indent=2))
    elif not found:
        say("No reposts found yet.")
    else:
        for repost in found:
            say(repost_line(repost))
    return 0
