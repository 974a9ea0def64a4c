"""Page-date accuracy on saved pages nobody tuned on: right / wrong / none.

Usage:
    .venv/bin/python bench/pagedates.py FOLDER EXPECTED [--htmldate] [--show-wrong]

FOLDER holds saved HTML pages.  EXPECTED is either
  - a JSON object {url: {"file": NAME, "date": "YYYY-MM-DD"}, ...} (the shape of htmldate's
    tests/eval_*.json and trafilatura's evaluation sets), or
  - a CSV with the columns file,date[,url].
Entries whose file is not in FOLDER are skipped (and counted), so a partial copy of a corpus
can be measured.  --htmldate also measures htmldate.find_date(original_date=True) on the same
pages, for comparison.  The pages themselves are never part of this repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

from watchers.pages import read_page


def load_expected(path: Path) -> list[tuple[str, str, str]]:
    """(file, expected date, url) rows."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [(v["file"], v["date"], url) for url, v in data.items() if v.get("date")]
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (row["file"], row["date"], row.get("url") or f"https://saved.invalid/{row['file']}")
            for row in csv.DictReader(handle)
            if row.get("date")
        ]


def htmldate_guess(html: bytes, url: str) -> str | None:
    from htmldate import find_date

    try:
        return find_date(html.decode("utf-8", "replace"), url=url, original_date=True)
    except Exception:  # noqa: BLE001 - a comparison run must not stop on one page
        return None


def score(results: Counter, expected: str, found: str | None) -> str:
    outcome = "none" if not found else "right" if found == expected else "wrong"
    results[outcome] += 1
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("expected", type=Path)
    parser.add_argument("--htmldate", action="store_true", help="also measure htmldate alone")
    parser.add_argument("--show-wrong", action="store_true", help="list wrong and missing pages")
    args = parser.parse_args(argv)

    ours: Counter = Counter()
    theirs: Counter = Counter()
    signals: Counter = Counter()
    skipped = 0
    started = time.monotonic()
    for name, expected, url in load_expected(args.expected):
        path = args.folder / name
        if not path.is_file():
            skipped += 1
            continue
        html = path.read_bytes()
        info = read_page(html, url)
        found = info.published.isoformat() if info.published else None
        outcome = score(ours, expected, found)
        if found:
            signals[(info.published_from, outcome)] += 1
        if args.show_wrong and outcome != "right":
            print(f"{outcome:5}  {name}: expected {expected}, got {found} ({info.published_from})")
        if args.htmldate:
            score(theirs, expected, htmldate_guess(html, url))
    total = sum(ours.values())
    elapsed = time.monotonic() - started
    print(f"pages: {total} measured, {skipped} listed but not in {args.folder}")
    print(f"oldclip:  right {ours['right']}, wrong {ours['wrong']}, none {ours['none']}")
    if args.htmldate:
        print(f"htmldate: right {theirs['right']}, wrong {theirs['wrong']}, none {theirs['none']}")
    for (signal, outcome), count in sorted(signals.items()):
        print(f"  {signal:>8} {outcome}: {count}")
    print(f"{elapsed:.1f} s")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
