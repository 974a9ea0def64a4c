"""The ``oldclip`` command line: its parser (every command and option) and ``main``.

What each command does is in ``oldclip.commands``, one module per group of commands.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import storage
from fingerprint import MediaError
from watchers.errors import FeedError
from watchers.kinds import KIND_NAMES

from . import __version__
from .commands import UsageError, say
from .config import DEFAULT_DATABASE, ConfigError, load_config
from .render import log_to_terminal

if TYPE_CHECKING:
    from .library import Library

# The parser names every command ("module.function" of oldclip.commands, one module per group);
# only the one that runs is imported (``command``).


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
    add.set_defaults(run="library.cmd_add")

    imp = commands.add_parser("import", help="add a folder of media described by a manifest")
    imp.add_argument("path", type=Path, help="folder with manifest.csv or manifest.json")
    imp.set_defaults(run="library.cmd_import")

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
    page.set_defaults(run="library.cmd_import_page")

    check = commands.add_parser(
        "check",
        help="is this video or photo old footage?",
        description="Is this video or photo old footage? Exit status: 0 old footage, 3 not "
        "found (or only seen by the watchers recently, or only its sound matches: the picture "
        "differs), 1 an error.",
    )
    check.add_argument("file", metavar="FILE|URL", help="a file, or a link to a post")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run="check.cmd_check")

    lst = commands.add_parser("list", help="list the clips in the library")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run="library.cmd_list")

    show = commands.add_parser("show", help="show one clip")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(run="library.cmd_show")

    remove = commands.add_parser("remove", help="remove a clip from the library")
    remove.add_argument("id", type=int)
    remove.set_defaults(run="library.cmd_remove")

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
    benign_add.set_defaults(run="library.cmd_benign_add")
    benign_list = benign_commands.add_parser("list", help="the benign clips")
    benign_list.add_argument("--json", action="store_true")
    benign_list.set_defaults(run="library.cmd_benign_list")
    benign_remove = benign_commands.add_parser("remove", help="make a benign clip count again")
    benign_remove.add_argument("id", type=int)
    benign_remove.set_defaults(run="library.cmd_benign_remove")

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
    feed_add.set_defaults(run="watch.cmd_feeds_add")
    feed_list = feed_commands.add_parser("list", help="feeds with their health")
    feed_list.add_argument("--json", action="store_true")
    feed_list.set_defaults(run="watch.cmd_feeds_list")
    feed_remove = feed_commands.add_parser("remove", help="stop watching a source")
    feed_remove.add_argument("id", type=int)
    feed_remove.set_defaults(run="watch.cmd_feeds_remove")

    watch = commands.add_parser("watch", help="run the watchers")
    watch.add_argument(
        "--once", action="store_true", help="poll every feed once, process everything fetched, exit"
    )
    watch.set_defaults(run="watch.cmd_watch")

    run = commands.add_parser(
        "run", help="run the bot, the watchers and alert delivery until stopped"
    )
    run.set_defaults(run="services.cmd_run")

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
    bot.set_defaults(run="services.cmd_bot")

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
    worker.set_defaults(run="services.cmd_worker")

    scheduler = commands.add_parser(
        "scheduler",
        help="queue the polls of due feeds (and media left due) until stopped",
        description="Queue each feed's poll when it is due, and media whose job was lost, in "
        "the PostgreSQL job queue. Two may run at once.",
    )
    scheduler.add_argument(
        "--every", type=float, default=5.0, metavar="SECONDS", help="how often to look (default 5)"
    )
    scheduler.set_defaults(run="services.cmd_scheduler")

    status = commands.add_parser(
        "status",
        help="is the deployment healthy? replicas' lag, backlogs, alerts, feeds",
        description="Read the database every process shares and say how the deployment is: "
        "each index replica's lag (every `oldclip worker`, `run` and `bot`, on any host), "
        "what waits in the pipeline, the job queue, undelivered alerts and messages, and the "
        "feeds failing. Exit status: 0 healthy, 2 unhealthy (one line per problem on "
        "stderr), 1 the database cannot be read.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--stuck-after",
        default="15m",
        metavar="DURATION",
        help="media, alerts or messages due this long are stuck: 90s, 15m, 2h (default 15m)",
    )
    status.set_defaults(run="status.cmd_status")

    reposts = commands.add_parser("reposts", help="reposts of old footage found, newest first")
    reposts.add_argument("--json", action="store_true")
    reposts.add_argument("--limit", type=int, default=100)
    reposts.set_defaults(run="watch.cmd_reposts")

    export = commands.add_parser(
        "export", help="write the library's fingerprints and provenance (no media) to a bundle"
    )
    export.add_argument("file", type=Path, help="bundle to write (.jsonl, or .jsonl.gz)")
    export.add_argument("--publisher", metavar="NAME", help="who the bundle is from (config)")
    export.add_argument("--contact", metavar="EMAIL", help="how to reach the publisher")
    export.set_defaults(run="library.cmd_export")

    refp = commands.add_parser(
        "refingerprint",
        help="give stored media the signals added to oldclip since (from their kept files)",
        description="Extract the signals (local features, sound...) that stored media lack, from "
        "the copies of their files the library keeps, so a library made by an older oldclip "
        "matches with them too. Media whose file is not kept (bundle imports) are left as they "
        "are.",
    )
    refp.set_defaults(run="maintenance.cmd_refingerprint")

    bundle = commands.add_parser("import-bundle", help="merge another newsroom's bundle")
    bundle.add_argument("file", type=Path, help="a bundle written by `oldclip export`")
    bundle.set_defaults(run="library.cmd_import_bundle")

    move = commands.add_parser(
        "migrate-db",
        help="copy this SQLite library into an empty PostgreSQL database",
        description="Copy every table of the library (--db) into an empty PostgreSQL database, "
        "ids kept, in one transaction: on any error the target stays empty. Then point "
        "[database] url at it. The SQLite file is left as it was. Media files and the search "
        "index stay where they are: copy the media folder along if you move hosts.",
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/dbname")
    move.set_defaults(run="maintenance.cmd_migrate_db")
    return parser


def command(name: str) -> Callable[[Library, argparse.Namespace], int]:
    """The function doing command ``name`` ("module.function" in ``oldclip.commands``),
    imported now: `check` need not load what `watch` or `import-page` use (the commands'
    modules and theirs, ~10 ms of every call)."""
    module, function = name.rsplit(".", 1)
    return getattr(importlib.import_module(f"{__package__}.commands.{module}"), function)


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
            return command(args.run)(library, args)
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
