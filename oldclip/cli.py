"""The ``oldclip`` command line: the library and the checker, with no bot and no watchers."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import storage
from fingerprint import MediaError
from watchers.errors import FeedError
from watchers.kinds import KIND_NAMES

from . import __version__
from .config import DEFAULT_DATABASE, ConfigError, load_config, parse_duration
from .render import (
    clip_details,
    feed_line,
    log_to_terminal,
    page_report,
    page_report_dict,
    plural,
    repost_line,
    terminal,
    verdict,
)

if TYPE_CHECKING:
    from .library import Library

# Each command imports what it needs when it runs: the bot, the watchers, page import and the
# fingerprinting engine cost ~1 s of CPU to import, more than `list` or `show` take to run.


def say(text: object = "", *, file: TextIO | None = None) -> None:
    """Print for a person, with control characters escaped (see ``render.terminal``)."""
    print(terminal(str(text)), file=file or sys.stdout)


class UsageError(Exception):
    """Something the user asked for does not exist or does not make sense."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oldclip",
        description="Catch old conflict footage passed off as new.",
        epilog=f"The library is {DEFAULT_DATABASE} unless --db, $OLDCLIP_DB or [database] url "
        "in the config file says otherwise; the config file is ./config.toml unless "
        "--config or $OLDCLIP_CONFIG names another. `oldclip COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"oldclip {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $OLDCLIP_CONFIG, ./config.toml)"
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="library database: a SQLite file or postgresql://user@host/dbname "
        f"(default: $OLDCLIP_DB, the config's, {DEFAULT_DATABASE})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = commands.add_parser("add", help="add a known-old video or photo to the library")
    add.add_argument("file", type=Path)
    add.add_argument("--title", required=True)
    add.add_argument("--first-seen", required=True, metavar="YYYY-MM-DD")
    add.add_argument("--source", required=True, metavar="URL", help="where it first appeared")
    add.add_argument("--description", help="what the footage really shows")
    add.add_argument("--verdict-url", metavar="URL", help="a fact-check that debunks its reuse")
    add.add_argument("--language")
    add.add_argument("--tags", default="", help="comma-separated")
    add.set_defaults(run=cmd_add)

    imp = commands.add_parser("import", help="add a folder of media described by a manifest")
    imp.add_argument("path", type=Path, help="folder with manifest.csv or manifest.json")
    imp.set_defaults(run=cmd_import)

    page = commands.add_parser(
        "import-page",
        help="add the media of a news article or fact-check page, with the page's provenance",
    )
    page.add_argument("page", metavar="URL|FILE", help="the page's address, or a saved .html")
    page.add_argument("--url", help="where a saved page was published (default: its canonical)")
    page.add_argument(
        "--first-seen", metavar="YYYY-MM-DD", help="the date to use when the page has none"
    )
    page.add_argument(
        "--media-dir",
        type=Path,
        metavar="DIR",
        help="media saved with the page (e.g. its _files folder): used instead of downloading",
    )
    page.add_argument(
        "--embeds",
        action="store_true",
        help="also download embedded YouTube / X / Telegram players (with yt-dlp)",
    )
    page.add_argument("--json", action="store_true")
    page.set_defaults(run=cmd_import_page)

    check = commands.add_parser(
        "check",
        help="is this video or photo old footage?",
        description="Is this video or photo old footage? Exit status: 0 old footage, 3 not "
        "found (or only seen by the watchers recently, or only its sound matches: the picture "
        "differs), 1 an error.",
    )
    check.add_argument("file", metavar="FILE|URL", help="a file, or a link to a post")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run=cmd_check)

    lst = commands.add_parser("list", help="list the clips in the library")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=cmd_list)

    show = commands.add_parser("show", help="show one clip")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=cmd_show)

    remove = commands.add_parser("remove", help="remove a clip from the library")
    remove.add_argument("id", type=int)
    remove.set_defaults(run=cmd_remove)

    benign = commands.add_parser(
        "benign", help="footage that never counts: channel intros, logos, test cards, stock"
    )
    benign_commands = benign.add_subparsers(dest="benign_command", required=True, metavar="ACTION")
    benign_add = benign_commands.add_parser(
        "add", help="ignore this footage wherever it appears (a clip's file: mark it benign)"
    )
    benign_add.add_argument("file", type=Path)
    benign_add.add_argument("--title", help="default: the file name")
    benign_add.add_argument("--note", metavar="TEXT", help="what it is, e.g. the channel's intro")
    benign_add.set_defaults(run=cmd_benign_add)
    benign_list = benign_commands.add_parser("list", help="the benign clips")
    benign_list.add_argument("--json", action="store_true")
    benign_list.set_defaults(run=cmd_benign_list)
    benign_remove = benign_commands.add_parser("remove", help="make a benign clip count again")
    benign_remove.add_argument("id", type=int)
    benign_remove.set_defaults(run=cmd_benign_remove)

    feeds = commands.add_parser("feeds", help="the sources the watchers poll")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    feed_add = feed_commands.add_parser("add", help="watch a source")
    # Not argparse choices: a bad kind gets the one-line "oldclip: error: ..." of add_feed.
    feed_add.add_argument("kind", help=f"one of {', '.join(sorted(KIND_NAMES))}")
    feed_add.add_argument("target", help="URL, or channel name / handle / hashtag")
    feed_add.add_argument("--every", metavar="DURATION", help="poll interval: 90s, 10m, 2h")
    feed_add.add_argument("--label", help="a name for alerts and filters")
    feed_add.add_argument("--language", help="language of the source, e.g. ar")
    feed_add.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="WORD",
        help="keep only posts containing one of these words (repeatable)",
    )
    feed_add.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="WORD",
        help="skip posts containing any of these words (repeatable)",
    )
    feed_add.set_defaults(run=cmd_feeds_add)
    feed_list = feed_commands.add_parser("list", help="feeds with their health")
    feed_list.add_argument("--json", action="store_true")
    feed_list.set_defaults(run=cmd_feeds_list)
    feed_remove = feed_commands.add_parser("remove", help="stop watching a source")
    feed_remove.add_argument("id", type=int)
    feed_remove.set_defaults(run=cmd_feeds_remove)

    watch = commands.add_parser("watch", help="run the watchers")
    watch.add_argument(
        "--once", action="store_true", help="poll every feed once, process everything fetched, exit"
    )
    watch.set_defaults(run=cmd_watch)

    run = commands.add_parser(
        "run", help="run the bot, the watchers and alert delivery until stopped"
    )
    run.set_defaults(run=cmd_run)

    bot = commands.add_parser(
        "bot",
        help="run the bot and alert delivery alone (no watchers) until stopped",
        description="Run the Telegram bot and alert delivery without the watchers. Without "
        "--webhook it long-polls Telegram (one process per token); with --webhook URL, Telegram "
        "sends updates to URL and any number of `oldclip bot --webhook URL` processes on one "
        "database may serve it behind a load balancer ([bot] webhook_listen, webhook_port, "
        "webhook_path say where each listens).",
    )
    bot.add_argument(
        "--webhook",
        metavar="URL",
        help="the public https:// URL Telegram sends updates to (ports 443, 80, 88 or 8443)",
    )
    bot.set_defaults(run=cmd_bot)

    worker = commands.add_parser(
        "worker",
        help="run polls and media jobs from the PostgreSQL job queue until stopped",
        description="A procrastinate worker: polls feeds and downloads, fingerprints and "
        "matches media, from the job queue in the PostgreSQL database ([database] url or "
        "--db). Run any number, on any hosts; `oldclip scheduler` queues the polls and "
        "`oldclip bot` delivers the alerts.",
    )
    worker.add_argument(
        "--concurrency", type=int, metavar="N", help="jobs at once (default: 2 per decoder + 2)"
    )
    worker.add_argument(
        "--stalled-after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a worker silent this long is taken for dead and its jobs run again (default 60)",
    )
    worker.set_defaults(run=cmd_worker)

    scheduler = commands.add_parser(
        "scheduler",
        help="queue the polls of due feeds (and media left due) until stopped",
        description="Queue each feed's poll when it is due, and media whose job was lost, in "
        "the PostgreSQL job queue. Two may run at once.",
    )
    scheduler.add_argument(
        "--every", type=float, default=5.0, metavar="SECONDS", help="how often to look (default 5)"
    )
    scheduler.set_defaults(run=cmd_scheduler)

    reposts = commands.add_parser("reposts", help="reposts of old footage found, newest first")
    reposts.add_argument("--json", action="store_true")
    reposts.add_argument("--limit", type=int, default=100)
    reposts.set_defaults(run=cmd_reposts)

    export = commands.add_parser(
        "export", help="write the library's fingerprints and provenance (no media) to a bundle"
    )
    export.add_argument("file", type=Path, help="bundle to write (.jsonl, or .jsonl.gz)")
    export.add_argument("--publisher", metavar="NAME", help="who the bundle is from (config)")
    export.add_argument("--contact", metavar="EMAIL", help="how to reach the publisher")
    export.set_defaults(run=cmd_export)

    refp = commands.add_parser(
        "refingerprint",
        help="give stored media the signals added to oldclip since (from their kept files)",
        description="Extract the signals (local features, sound...) that stored media lack, from "
        "the copies of their files the library keeps, so a library made by an older oldclip "
        "matches with them too. Media whose file is not kept (bundle imports) are left as they "
        "are.",
    )
    refp.set_defaults(run=cmd_refingerprint)

    bundle = commands.add_parser("import-bundle", help="merge another newsroom's bundle")
    bundle.add_argument("file", type=Path, help="a bundle written by `oldclip export`")
    bundle.set_defaults(run=cmd_import_bundle)

    move = commands.add_parser(
        "migrate-db",
        help="copy this SQLite library into an empty PostgreSQL database",
        description="Copy every table of the library (--db) into an empty PostgreSQL database, "
        "ids kept, in one transaction: on any error the target stays empty. Then point "
        "[database] url at it. The SQLite file is left as it was. Media files and the search "
        "index stay where they are: copy the media folder along if you move hosts.",
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/dbname")
    move.set_defaults(run=cmd_migrate_db)
    return parser


def cmd_add(library: Library, args: argparse.Namespace) -> int:
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    clip_id, created = library.add_clip(
        args.file,
        title=args.title,
        first_seen=args.first_seen,
        source=args.source,
        description=args.description,
        verdict_url=args.verdict_url,
        language=args.language,
        tags=tags,
        added_by="cli",
    )
    say(clip_id)
    if not created:
        say(f"oldclip: {args.file} is already in the library as clip {clip_id}", file=sys.stderr)
    return 0


def cmd_import(library: Library, args: argparse.Namespace) -> int:
    from .importer import ImportInterrupted, import_folder

    try:
        report = import_folder(library, args.path)
    except ImportInterrupted as stopped:
        report = stopped.report
        for problem in report.problems:
            say(f"oldclip: {problem}", file=sys.stderr)
        saved = report.added + report.existing
        say(
            f"oldclip: interrupted: {plural(saved, 'row')} saved ({report.added} added, "
            f"{report.existing} already in the library); run the same import again to go on: "
            "the rows saved are skipped",
            file=sys.stderr,
        )
        return 130
    for problem in report.problems:
        say(f"oldclip: {problem}", file=sys.stderr)
    say(
        f"added {report.added}, already in the library {report.existing}, "
        f"failed {len(report.problems)}"
    )
    return 1 if report.problems else 0


def cmd_import_page(library: Library, args: argparse.Namespace) -> int:
    import asyncio

    from .pageimport import PageImportError, import_page

    first_seen = None
    if args.first_seen:
        try:
            first_seen = date.fromisoformat(args.first_seen)
        except ValueError:
            raise UsageError(
                f"--first-seen {args.first_seen!r} is not a date (YYYY-MM-DD)"
            ) from None
    try:
        report = asyncio.run(
            import_page(
                library,
                library.config,
                args.page,
                page_url=args.url,
                first_seen=first_seen,
                embeds=args.embeds,
                media_dir=args.media_dir,
            )
        )
    except PageImportError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        say(json.dumps(page_report_dict(report), ensure_ascii=False, indent=2))
    else:
        say(page_report(report))
    return 0 if report.clips else 1


# `oldclip check` exit statuses, for scripts (documented in the README and --help).
CHECK_OLD, CHECK_ERROR, CHECK_NOT_OLD = 0, 1, 3


def cmd_check(library: Library, args: argparse.Namespace) -> int:
    target = str(args.file)
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
        with tempfile.TemporaryDirectory(prefix="oldclip-check-") as folder:
            return _check(library, args, _download(library, target, Path(folder)), target)
    path = Path(target)
    if path.is_dir():
        raise UsageError(f"{target} is a folder: check one video or photo file at a time")
    if not path.exists():
        raise UsageError(f"{target}: no such file")
    return _check(library, args, path, path.name)


def _download(library: Library, url: str, folder: Path) -> Path:
    """The video of a post on a supported site, with the bot's downloader and caps."""
    from .links import LinkError, download_link

    settings = library.config.bot
    try:
        return download_link(
            url,
            folder,
            max_bytes=settings.link_max_mb * 1_000_000,
            max_duration_s=settings.link_max_duration_s,
            socket_timeout_s=settings.link_timeout_s,
            proxy=settings.link_proxy or None,
        )
    except LinkError as exc:
        raise UsageError(
            f"{url}: {exc} (links to posts on YouTube, X, TikTok, Facebook, Instagram, Reddit, "
            "Bluesky, Vimeo and t.me are downloaded; for anything else save the file and check it)"
        ) from None


def _check(library: Library, args: argparse.Namespace, path: Path, name: str) -> int:
    result = library.check_file(path)
    min_age_h = library.config.watch.sighting_min_age_h
    clips = storage.count_clips(library.db)
    now = datetime.now(UTC)
    old = any(m.evidence(now, min_age_h) is not None for m in result.matches)
    if args.json:
        if old:
            verdict_word = "old"
        elif not result.matches:
            verdict_word = "no_match"
        elif all(m.match.sound_only for m in result.matches):
            verdict_word = "sound_only"  # the sound matches, the picture differs: not old
        else:
            verdict_word = "seen_recently"
        say(
            json.dumps(
                {
                    "file": name,
                    "verdict": verdict_word,
                    "matches": [m.as_dict(now, min_age_h) for m in result.matches],
                    "library": {"path": library.config.database_label, "clips": clips},
                    "fingerprint_ms": round(result.fingerprint_ms, 1),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        say(
            verdict(
                name,
                result,
                clips,
                min_age_h=min_age_h,
                library_path=library.config.database_label,
            )
        )
    return CHECK_OLD if old else CHECK_NOT_OLD


def cmd_list(library: Library, args: argparse.Namespace) -> int:
    clips = storage.list_clips(library.db)
    if args.json:
        say(json.dumps([asdict(c) for c in clips], ensure_ascii=False, indent=2))
    elif not clips:
        say("The library is empty: add a clip with `oldclip add FILE --title ...`.")
    else:
        for c in clips:
            benign = "  [benign]" if c.benign else ""
            say(f"{c.id:>5}  {c.first_seen}  {c.title}{benign}")
    return 0


def _clip_or_fail(library: Library, clip_id: int) -> storage.Clip:
    clip = storage.get_clip(library.db, clip_id)
    if clip is None:
        raise UsageError(f"no clip {clip_id} in the library (see `oldclip list`)")
    return clip


def cmd_show(library: Library, args: argparse.Namespace) -> int:
    clip = _clip_or_fail(library, args.id)
    media = storage.get_media(library.db, clip.media_id)
    sources = storage.clip_sources(library.db, clip.id)
    if args.json:
        card = {**asdict(clip), "media": asdict(media), "sources": [asdict(s) for s in sources]}
        say(json.dumps(card, ensure_ascii=False, indent=2))
    else:
        say(clip_details(clip, media, sources))
    return 0


def cmd_remove(library: Library, args: argparse.Namespace) -> int:
    clip = _clip_or_fail(library, args.id)
    library.remove_clip(clip.id)
    say(f"removed clip {clip.id}: {clip.title}")
    return 0


def cmd_benign_add(library: Library, args: argparse.Namespace) -> int:
    fp = library.fingerprint(args.file)
    overlapping = [
        m.clip for m in library.match(fp) if m.clip is not None and not m.match.sound_only
    ]
    clip_id, created = library.add_benign(
        args.file, fp=fp, title=args.title, note=args.note, added_by="cli"
    )
    say(clip_id)
    if not created:
        say(f"oldclip: {args.file} is clip {clip_id}: marked benign", file=sys.stderr)
    for clip in overlapping:
        if clip.id != clip_id:
            say(
                f"oldclip: clip {clip.id} ({clip.title}) shows this footage too: "
                "what it shares with it no longer counts",
                file=sys.stderr,
            )
    return 0


def cmd_benign_list(library: Library, args: argparse.Namespace) -> int:
    clips = [c for c in storage.list_clips(library.db) if c.benign]
    if args.json:
        say(json.dumps([asdict(c) for c in clips], ensure_ascii=False, indent=2))
    elif not clips:
        say("The benign list is empty: add an intro or logo with `oldclip benign add FILE`.")
    else:
        for c in clips:
            say(f"{c.id:>5}  {c.title}" + (f"  ({c.description})" if c.description else ""))
    return 0


def cmd_benign_remove(library: Library, args: argparse.Namespace) -> int:
    clip = _clip_or_fail(library, args.id)
    if not clip.benign:
        raise UsageError(f"clip {clip.id} is not on the benign list (see `oldclip benign list`)")
    library.set_benign(clip.id, False)
    say(
        f"clip {clip.id} ({clip.title}) is no longer benign: it matches and is reported "
        f"like any clip (`oldclip remove {clip.id}` deletes it)"
    )
    return 0


def cmd_feeds_add(library: Library, args: argparse.Namespace) -> int:
    from .watch import add_feed

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
    from .watch import sync_config_feeds

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

    from .runner import run_until_signalled
    from .watch import run_forever, run_once, say_if_no_feeds

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


def cmd_run(library: Library, args: argparse.Namespace) -> int:
    from .run import run as run_everything

    return run_everything(library, library.config)


def cmd_bot(library: Library, args: argparse.Namespace) -> int:
    from bot.webhook import url_problem

    from .run import run_bot_alone

    if args.webhook is not None and (problem := url_problem(args.webhook)):
        raise UsageError(problem)
    return run_bot_alone(library, library.config, args.webhook)


def cmd_worker(library: Library, args: argparse.Namespace) -> int:
    from .worker import run_worker

    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.stalled_after < 5:
        raise UsageError("--stalled-after must be at least 5 seconds")
    return run_worker(
        library, library.config, concurrency=args.concurrency, stalled_after_s=args.stalled_after
    )


def cmd_scheduler(library: Library, args: argparse.Namespace) -> int:
    from .scheduler import run_scheduler

    if args.every <= 0:
        raise UsageError("--every must be more than 0 seconds")
    return run_scheduler(library, library.config, every_s=args.every)


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


def cmd_export(library: Library, args: argparse.Namespace) -> int:
    publisher = args.publisher or library.config.publisher
    if not publisher:
        raise UsageError(
            "say who the bundle is from: --publisher NAME, or publisher in [library] of the "
            "config file"
        )
    contact = args.contact or library.config.publisher_contact or None
    report = storage.export_bundle(library.db, args.file, publisher=publisher, contact=contact)
    left_out = f"; {report.skipped} without a fingerprint left out" if report.skipped else ""
    if report.signals_left_out:
        left_out += (
            f"; {plural(report.signals_left_out, 'signal')} of very long videos left out "
            "(too big for a bundle line: those clips match by their other signals)"
        )
    say(
        f"exported {plural(report.clips, 'clip')} to {report.path} ({report.bytes / 1e6:.1f} MB) "
        f"from {report.publisher}{left_out}"
    )
    return 0


def cmd_refingerprint(library: Library, args: argparse.Namespace) -> int:
    from .refingerprint import refingerprint

    report = refingerprint(library)
    if not report.media:
        say("nothing to do: every media item whose file is kept has every signal")
        return 0
    added = ", ".join(f"{name} {count}" for name, count in sorted(report.added.items()))
    parts = [f"refingerprinted {plural(report.updated, 'media item')} ({added or 'no signal'})"]
    if report.nothing:
        parts.append(f"{report.nothing} had nothing more to give (no sound track...)")
    if report.missing_files:
        parts.append(f"{plural(report.missing_files, 'kept file')} missing")
    if report.failed:
        parts.append(f"{report.failed} could not be decoded (see the warnings)")
    say("; ".join(parts))
    return 1 if report.failed else 0


def cmd_import_bundle(library: Library, args: argparse.Namespace) -> int:
    say(storage.import_bundle(library.db, args.file).summary())
    return 0


def cmd_migrate_db(library: Library, args: argparse.Namespace) -> int:
    from storage.copy import copy_library
    from storage.db import safe_url

    if not args.to.lower().startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--to must be a postgresql:// URL, not {safe_url(args.to)}")
    if library.db.dialect != "sqlite":
        raise UsageError("migrate-db copies a SQLite library: name it with --db")
    target = storage.open_db(args.to)
    try:
        report = copy_library(library.db, target)
    finally:
        target.close()
    tables = ", ".join(f"{table} {n}" for table, n in report.rows.items() if n)
    say(f"copied {report.total} rows into {target.name} ({tables or 'an empty library'})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What Python prints by itself (warnings and errors, bare), or `run`'s log, both escaped.
    if args.command in ("run", "bot", "worker", "scheduler"):
        from .run import LOG_FORMAT

        log_to_terminal(logging.INFO, LOG_FORMAT)
    else:
        log_to_terminal(logging.WARNING, "%(message)s")
    try:
        from .library import Library

        config = load_config(args.config, args.db)
        library = Library.open(config)
        try:
            return args.run(library, args)
        finally:
            library.close()
    except (
        ConfigError,
        FeedError,
        MediaError,
        storage.StorageError,
        UsageError,
        ValueError,
    ) as exc:
        say(f"oldclip: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        say("oldclip: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`oldclip show 1 | head -1`): not an error worth a traceback.
        # Python would complain again when flushing stdout at exit, so point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
