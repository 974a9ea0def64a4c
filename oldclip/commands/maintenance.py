"""`oldclip refingerprint` and `migrate-db`: upkeep of the stored library (new signals, a move
to PostgreSQL)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import storage

from ..render import plural
from . import UsageError, say

if TYPE_CHECKING:
    from ..library import Library


def cmd_refingerprint(library: Library, args: argparse.Namespace) -> int:
    from ..refingerprint import refingerprint

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
