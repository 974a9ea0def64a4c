"""Bulk import: a folder of media and a manifest (CSV or JSON) describing each file.

A bad row never stops the others: it is reported with its row number and reason, and every
good row is kept.  The manifest has one row per file with the fields of ``oldclip add``:
``file, title, first_seen, source`` (required), ``description, verdict_url, language, tags``.
"""

from __future__ import annotations

import csv
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


def read_manifest(folder: Path) -> tuple[Path, list[dict]]:
    """The manifest's rows as dicts; ValueError names the file and what is wrong with it."""
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
            rows = json.loads(text)
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValueError("the JSON must be a list of objects, one per file")
        else:
            rows = list(csv.DictReader(text.splitlines()))
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    return path, rows


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
    manifest, rows = read_manifest(folder)
    report = ImportReport()
    for number, row in enumerate(tqdm(rows, desc="importing", unit="file"), start=1):
        where = f"{manifest.name} row {number}"
        missing = [k for k in REQUIRED if not str(row.get(k) or "").strip()]
        if missing:
            report.problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        try:
            path = inside(folder, str(row["file"]))
        except ValueError as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        tags = row.get("tags") or []
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        try:
            _, created = library.add_clip(
                path,
                title=str(row["title"]).strip(),
                first_seen=str(row["first_seen"]).strip(),
                source=str(row["source"]).strip(),
                description=row.get("description") or None,
                verdict_url=row.get("verdict_url") or None,
                language=row.get("language") or None,
                tags=tags,
                added_by=f"import:{manifest.name}",
            )
        except (MediaError, ValueError) as exc:
            report.problems.append(f"{where} ({row['file']}): {exc}")
            continue
        if created:
            report.added += 1
        else:
            report.existing += 1
    return report
