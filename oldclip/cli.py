"""The ``oldclip`` command line: the library and the checker, with no bot and no watchers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import storage
from fingerprint import MediaError

from . import __version__
from .config import ConfigError, load_config
from .importer import import_folder
from .library import CheckResult, Library
from .render import clip_details, verdict


class UsageError(Exception):
    """Something the user asked for does not exist or does not make sense."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oldclip",
        description="Catch old conflict footage passed off as new.",
    )
    parser.add_argument("--version", action="version", version=f"oldclip {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ./config.toml)")
    parser.add_argument("--db", metavar="PATH", help="library database (overrides the config)")
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

    check = commands.add_parser("check", help="is this video or photo old footage?")
    check.add_argument("file", type=Path)
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
    print(clip_id)
    if not created:
        print(f"oldclip: {args.file} is already in the library as clip {clip_id}", file=sys.stderr)
    return 0


def cmd_import(library: Library, args: argparse.Namespace) -> int:
    report = import_folder(library, args.path)
    for problem in report.problems:
        print(f"oldclip: {problem}", file=sys.stderr)
    print(
        f"added {report.added}, already in the library {report.existing}, "
        f"failed {len(report.problems)}"
    )
    return 1 if report.problems else 0


def cmd_check(library: Library, args: argparse.Namespace) -> int:
    result: CheckResult = library.check_file(args.file)
    if args.json:
        print(
            json.dumps(
                {
                    "matches": [m.as_dict() for m in result.matches],
                    "fingerprint_ms": round(result.fingerprint_ms, 1),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(verdict(args.file.name, result, storage.count_clips(library.db)))
    return 0


def cmd_list(library: Library, args: argparse.Namespace) -> int:
    clips = storage.list_clips(library.db)
    if args.json:
        print(json.dumps([asdict(c) for c in clips], ensure_ascii=False, indent=2))
    elif not clips:
        print("The library is empty: add a clip with `oldclip add FILE --title ...`.")
    else:
        for c in clips:
            print(f"{c.id:>5}  {c.first_seen}  {c.title}")
    return 0


def _clip_or_fail(library: Library, clip_id: int) -> storage.Clip:
    clip = storage.get_clip(library.db, clip_id)
    if clip is None:
        raise UsageError(f"no clip {clip_id} in the library (see `oldclip list`)")
    return clip


def cmd_show(library: Library, args: argparse.Namespace) -> int:
    clip = _clip_or_fail(library, args.id)
    media = storage.get_media(library.db, clip.media_id)
    if args.json:
        print(json.dumps({**asdict(clip), "media": asdict(media)}, ensure_ascii=False, indent=2))
    else:
        print(clip_details(clip, media))
    return 0


def cmd_remove(library: Library, args: argparse.Namespace) -> int:
    clip = _clip_or_fail(library, args.id)
    library.remove_clip(clip.id)
    print(f"removed clip {clip.id}: {clip.title}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, args.db)
        library = Library.open(config)
        try:
            return args.run(library, args)
        finally:
            library.close()
    except (ConfigError, MediaError, storage.StorageError, UsageError, ValueError) as exc:
        print(f"oldclip: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("oldclip: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
