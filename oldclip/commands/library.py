"""`oldclip add`, `import`, `import-page`, `list`, `show`, `remove`, `benign ...`, `export`
and `import-bundle`: the commands that fill, read and share the library of known footage."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING

import storage

from ..render import clip_details, page_report, page_report_dict, plural
from . import UsageError, say

if TYPE_CHECKING:
    from ..library import Library


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
    from ..importer import ImportInterrupted, import_folder

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

    from ..pageimport import PageImportError, import_page

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
    fp = library.fingerprint(args.file, store=True)
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


def cmd_import_bundle(library: Library, args: argparse.Namespace) -> int:
    say(storage.import_bundle(library.db, args.file).summary())
    return 0
