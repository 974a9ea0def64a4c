"""Recall per edit and precision of oldclip's matching, on edited copies of the shared videos.

    python bench/accuracy.py [--videos chair-orig-22-sd-bar.mp4 ...] [--edits mirror gif ...]
                             [--out bench/out] [--jobs 2]

The library holds one original per family (chair, pattern, doorknob, padded).  Every shared
video (family members included) is edited the ways reposts are edited (``bench/edits.py``) and
checked.  Recall: the share of queries that find their family's original.  Precision: the share
of reported matches that are right.  The scores are recorded with no score cut-off, so the
table also shows which ``matching.min_score`` would be best.  Edited files are cached in --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from edits import EDITS, make_edit  # noqa: E402

from fingerprint import (  # noqa: E402
    INDEXED_VARIANTS,
    HashIndex,
    MatchSettings,
    MediaError,
    find_matches,
    fingerprint_file,
)

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
ORIGINALS = {
    "chair": "chair-orig-22-sd-bar.mp4",
    "pattern": "pattern-hd-no-bar.mp4",
    "doorknob": "doorknob-hd-no-bar.mp4",
    "test": "test-padded-dimensions.mp4",
}


def family(name: str) -> str:
    return name.split("-")[0]


def edited(job: tuple[Path, str, Path]) -> tuple[str, str, Path | None, str]:
    src, edit, out = job
    if edit == "none":
        return src.name, edit, src, ""
    target = out / f"{src.stem}__{edit}{'.gif' if edit == 'gif' else '.mp4'}"
    try:
        path = target if target.exists() else make_edit(src, edit, out)
    except Exception as exc:  # a failed edit is reported, not fatal
        return src.name, edit, None, f"{type(exc).__name__}: {exc}"
    return src.name, edit, path, ""


def scored(job: tuple[str, str, Path]) -> tuple[str, str, dict[str, float], str]:
    """Best score per family original for one query, with no score cut-off."""
    name, edit, path = job
    try:
        query = fingerprint_file(path)
    except MediaError as exc:
        return name, edit, {}, str(exc)
    settings = replace(MatchSettings(), min_score=0.0)
    found = find_matches(query, INDEX, LIBRARY.get, settings)
    scores: dict[str, float] = {}
    for m in found:
        fam = NAMES[m.media_id]
        scores[fam] = max(scores.get(fam, 0.0), m.score)
    return name, edit, scores, ""


def _library() -> tuple[dict[int, object], dict[int, str], HashIndex]:
    library, names = {}, {}
    for i, (fam, name) in enumerate(ORIGINALS.items(), start=1):
        library[i] = fingerprint_file(MEDIA / name)
        names[i] = fam
    index = HashIndex.build(
        (i, fp.hashes[np.isin(fp.variants, INDEXED_VARIANTS)]) for i, fp in library.items()
    )
    return library, names, index


LIBRARY, NAMES, INDEX = _library()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", nargs="+", default=sorted(p.name for p in MEDIA.glob("*.mp4")))
    parser.add_argument("--edits", nargs="+", default=["none", *EDITS])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    jobs = [(MEDIA / v, e, args.out) for v in args.videos for e in args.edits]
    with ProcessPoolExecutor(args.jobs) as pool:
        made = list(pool.map(edited, jobs))
        for name, edit, _, error in made:
            if error:
                print(f"edit failed: {name} {edit}: {error}")
        results = list(pool.map(scored, [(n, e, p) for n, e, p, err in made if not err]))
    print(f"{len(results)} queries in {time.perf_counter() - started:.0f} s\n")

    min_score = MatchSettings().min_score
    thresholds = np.round(np.arange(0.05, 1.0, 0.05), 2)
    rows = []
    for name, edit, scores, error in results:
        if error:
            print(f"not fingerprinted: {name} {edit}: {error}")
        own = scores.get(family(name), 0.0)
        wrong = max((s for f, s in scores.items() if f != family(name)), default=0.0)
        rows.append((edit, own, wrong))

    print(f"recall per edit at min_score={min_score} (and the lowest right score)")
    print(f"{'edit':22} {'queries':>7} {'recall':>7} {'lowest':>7} {'wrong':>6}")
    for edit in args.edits:
        own = np.array([o for e, o, _ in rows if e == edit])
        wrong = np.array([w for e, _, w in rows if e == edit])
        if not len(own):
            continue
        print(
            f"{edit:22} {len(own):7} {np.mean(own >= min_score):7.2f} {own.min():7.2f} "
            f"{int(np.sum(wrong >= min_score)):6}"
        )
    own = np.array([o for _, o, _ in rows])
    wrong = np.array([w for _, _, w in rows])
    tp, fp = int(np.sum(own >= min_score)), int(np.sum(wrong >= min_score))
    print(
        f"\noverall at min_score={min_score}: recall {tp / len(own):.3f}, "
        f"precision {tp / max(1, tp + fp):.3f} ({fp} wrong matches)"
    )

    print("\nthreshold sweep")
    print(f"{'min_score':>9} {'recall':>7} {'precision':>9} {'edits >= 0.95':>13}  worst edit")
    best = None
    for t in thresholds:
        per_edit = {
            edit: float(np.mean([o >= t for e, o, _ in rows if e == edit])) for edit in args.edits
        }
        tp, fp = int(np.sum(own >= t)), int(np.sum(wrong >= t))
        precision = tp / max(1, tp + fp)
        meeting = sum(r >= 0.95 for r in per_edit.values())
        worst = min(per_edit, key=per_edit.get)
        print(
            f"{t:9.2f} {tp / len(own):7.3f} {precision:9.3f} {meeting:>6} of {len(per_edit):<4}"
            f"  {worst} {per_edit[worst]:.2f}"
        )
        if precision == 1.0 and (best is None or (meeting, tp) >= best[1:]):  # ties: higher t
            best = (t, meeting, tp)
    if best:
        print(
            f"best threshold with precision 1.0: {best[0]:.2f} "
            f"({best[1]} of {len(args.edits)} edits at recall >= 0.95)"
        )
    print(f"highest wrong score seen: {wrong.max():.3f}")


if __name__ == "__main__":
    main()
