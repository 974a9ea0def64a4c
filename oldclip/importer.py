"""Bulk import: a folder of media and a manifest (CSV or JSON) describing each file.

A bad row never stops the others: it is reported with where it is (the CSV file's line number,
counting the header as line 1, or the JSON list's item number), its file and the reason, and
every good row is kept.  Rows are saved one by one, so an import stopped half-way keeps what it
saved, and running it again skips those (adding the same file twice keeps one clip).

The manifest has one row per file with the fields of ``oldclip add``:
``file, title, first_seen, source`` (required), ``description, verdict_url, language, tags``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from fingerprint import MediaError

from .library import Library

REQUIRED = ("file", "title", "first_seen", "source")
OPTIONAL = ("description", "verdict_url", "language", "tags")


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    problems: list[str] = field(default_factory=list)


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C during an import: carries what was saved before it, for the person to be told."""

    def __init__(self, report: ImportReport):
        super().__init__()
        self.report = report


def read_manifest(folder: Path) -> tuple[Path, list[tuple[str, dict]]]:
    """The manifest's rows as dicts, each with where it is ("line 5", "item 4"); ValueError
    names the file and what is wrong with it."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder (expected a folder holding a manifest)")
    for name in ("manifest.json", "manifest.csv"):
        path = folder / name
        if path.is_file():
            break
    else:
        raise ValueError(f"{folder}: no manifest.json or manifest.csv in it")
    try:
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix == ".json":
            items = json.loads(text)
            if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
                raise ValueError("the JSON must be a list of objects, one per file")
            return path, [(f"item {n}", row) for n, row in enumerate(items, start=1)]
        return path, _csv_rows(path, text)
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None


def _csv_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    """A CSV's rows with their line numbers; the separator (comma, semicolon or tab, as
    spreadsheets in different locales save) is recognised from the header."""
    header = text.split("\n", 1)[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(header, ",;\t")
    except csv.Error:  # one column: nothing to tell the separator by
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    columns = [name.strip() for name in reader.fieldnames or []]
    if not set(REQUIRED) <= set(columns):
        raise ValueError(
            f"{path}: the header was not recognised: expected comma-separated columns "
            f"{','.join(REQUIRED)} (optional: {','.join(OPTIONAL)}); "
            f"found {header.strip()[:80]!r}"
        )
    reader.fieldnames = columns
    rows = []
    line = reader.line_num + 1  # where the next row starts (a quoted field may span lines)
    for row in reader:
        rows.append((f"line {line}", row))
        line = reader.line_num + 1
    return rows


def inside(folder: Path, name: str) -> Path:
    """The file ``name`` of the manifest, which must be inside ``folder``: a manifest from
    someone else must not make oldclip read (and archive a copy of) files elsewhere, through
    ``../``, an absolute path or a symbolic link pointing out.  ValueError says which."""
    if Path(name).is_absolute():
        raise ValueError(f"file {name!r} is an absolute path: give it relative to the folder")
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"file {name!r} is outside the folder: only files inside it are imported")
    return path


def import_folder(library: Library, folder: Path) -> ImportReport:
    """Add every row's file; Ctrl-C raises ImportInterrupted with what was saved until then."""
    import storage

    manifest, rows = read_manifest(folder)
    report = ImportReport()
    before = storage.last_clip_id(library.db)
    try:
        for where, row in tqdm(rows, desc="importing", unit="file"):
            _import_row(library, folder, manifest.name, where, row, report)
    except KeyboardInterrupt:
        # Ctrl-C may land after a row's clip is committed but before it is counted (while
        # the search index catches up): what is in the library says what was added.
        added = storage.count_clips_added(library.db, f"import:{manifest.name}", before)
        report.added = max(report.added, added)
        raise ImportInterrupted(report) from None
    return report


def _import_row(
    library: Library, folder: Path, manifest: str, where: str, row: dict, report: ImportReport
) -> None:
    """One row; its problem, if any, recorded in ``report`` with where it is and its file."""
    name = str(row.get("file") or "").strip()
    where = f"{manifest} {where}" + (f" ({name})" if name else "")
    missing = [k for k in REQUIRED if not str(row.get(k) or "").strip()]
    if missing:
        report.problems.append(f"{where}: missing {', '.join(missing)}")
        return
    tags = row.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    try:
        _, created = library.add_clip(
            inside(folder, str(row["file"])),
            title=str(row["title"]).strip(),
            first_seen=str(row["first_seen"]).strip(),
            source=str(row["source"]).strip(),
            description=row.get("description") or None,
            verdict_url=row.get("verdict_url") or None,
            language=row.get("language") or None,
            tags=tags,
            added_by=f"import:{manifest}",
        )
    except (MediaError, ValueError) as exc:
        report.problems.append(f"{where}: {exc}")
        return
    if created:
        report.added += 1
    else:
        report.existing += 1
