"""Search index at scale: recall against an exact scan, latency, memory, and `oldclip check`.

    python bench/index.py [--sizes 1000000 10000000] [--clips 3] [--skip-check|--skip-recall]
    nice -n 5 python bench/index.py --skip-recall --saved-only [--orb-per-clip 5000]

1. Recall of ``HashIndex.search`` against faiss's plain exact scan (``IndexBinaryFlat``) at
   radius 64 (``MatchSettings.index_radius``), on two kinds of synthetic library:
   * clip-like: clips of 150 frames whose hash drifts ~5 bits a frame (a random walk);
   * uniform: independent random hashes, 150 to a media item (the worst case for any index);
   a query clip is 20 s of a repost: 120 frames of one stored clip with 8-56 bits flipped,
   plus their 120 mirror pictures (which match nothing).  For comparison, the IVF index this
   project used until now (1,025 cells, nprobe 24) and a scaled one (4 sqrt(n) cells, nprobe
   64) on the same data at 1M.
2. Latency per query clip (wall and CPU seconds) and memory per stored hash (what the
   index allocates, traced).
3. `oldclip check` of a 20 s shared video against a 1M-hash library (5,000 clips of 200
   hashes in a real SQLite file, plus the real clip it shows), every signal stored: each clip
   also has ``--orb-per-clip`` ORB descriptors (real ones, from ``bench/local_index.py``'s
   cache) and 20 s of sound codes.  Wall time with the saved indexes beside the database
   (every signal's: PDQ, local features, sound), and with them deleted (rebuilt from the
   database).  Real footage has ~10 PDQ hashes, ~250-400 ORB descriptors and ~8 sound codes
   a second, so a library of 1M PDQ hashes in proportion holds ~25M descriptors: the default
   (5,000 a clip, as the shared chair video's 20 s store).  Writing that library and building
   its indexes takes ~15 min: ``--saved-only`` keeps it in ``--cache`` and times only checks
   with saved indexes.  Then one check in this process, stage by stage
   (``bench/check_stages.py``: opening the indexes, fingerprinting, each signal's search and
   verification, the database), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fingerprint import HashIndex, fingerprint_file  # noqa: E402
from fingerprint.types import VARIANT_FULL, Fingerprint  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "media" / "videos"
CHECK_QUERY = VIDEOS / "chair-20-sd-bar.mp4"  # 20 s of the chair footage
CHECK_ORIGINAL = VIDEOS / "chair-orig-22-sd-bar.mp4"
RADIUS = 64
FRAMES = 150  # per synthetic clip
QUERY_FRAMES = 120  # a 20 s query clip
CHECK_CLIPS, CHECK_FRAMES = 5000, 200  # the check's library: 1M PDQ hashes
# ORB descriptors a distractor clip of CHECK_FRAMES hashes holds: the shared chair video's
# 20 s store 5,006 (21 pictures), so 1M hashes in proportion bring ~25M descriptors.
ORB_PER_CLIP = 5000


def walks(count: int, rng: np.random.Generator, frames: int = FRAMES) -> np.ndarray:
    """``count`` clips of ``frames`` hashes, each frame ~5 bits (2%) from the one before."""
    base = rng.integers(0, 256, (count, 1, 32), dtype=np.uint8)
    drift = np.packbits(rng.random((count, frames - 1, 256)) < 0.02, axis=2)
    return np.bitwise_xor.accumulate(np.concatenate([base, drift], axis=1), axis=1)


def library(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """(clips, FRAMES, 32) codes, about ``size`` hashes in all."""
    count = -(-size // FRAMES)
    parts = []
    for start in range(0, count, 1000):
        n = min(1000, count - start)
        if kind == "clip-like":
            parts.append(walks(n, rng))
        else:
            parts.append(rng.integers(0, 256, (n, FRAMES, 32), dtype=np.uint8))
    return np.concatenate(parts)


def flip(codes: np.ndarray, rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    bits = np.unpackbits(codes, axis=1)
    for row in bits:
        row[rng.choice(256, int(rng.integers(low, high + 1)), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def query_clip(clips: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """120 noisy frames of one stored clip and 120 unrelated (mirrored) pictures."""
    clip = clips[rng.integers(len(clips))]
    start = int(rng.integers(0, FRAMES - QUERY_FRAMES + 1))
    frames = flip(clip[start : start + QUERY_FRAMES], rng, 8, 56)
    mirrors = rng.integers(0, 256, (QUERY_FRAMES, 32), dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([frames, mirrors]))


def pairs(limits: np.ndarray, rows: np.ndarray) -> set[tuple[int, int]]:
    query = np.repeat(np.arange(len(limits) - 1), np.diff(limits.astype(np.int64)))
    return set(zip(query.tolist(), rows.tolist(), strict=True))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def recall_table(sizes: list[int], clips_per_size: int) -> None:
    print(f"index recall against the exact scan, radius {RADIUS}, {clips_per_size} query clips")
    print(
        f"{'library':>10} {'hashes':>11} {'index':>22} {'recall':>7} {'pairs':>7} "
        f"{'wall s/clip':>11} {'cpu s/clip':>10} {'bytes/hash':>10}"
    )
    for size in sizes:
        for kind in ("clip-like", "uniform"):
            rng = np.random.default_rng(size + len(kind))
            clips = library(kind, size, rng)
            codes = clips.reshape(-1, 32)
            queries = [query_clip(clips, rng) for _ in range(clips_per_size)]
            flat = faiss.IndexBinaryFlat(256)
            flat.add(codes)
            truth = []
            for q in queries:
                limits, _, rows = flat.range_search(q, RADIUS + 1)
                truth.append(pairs(limits, rows))
            del flat
            gc.collect()
            tracemalloc.start()  # numpy reports its buffers to tracemalloc
            index = HashIndex.build((i, clip) for i, clip in enumerate(clips))
            per_hash = tracemalloc.get_traced_memory()[0] / len(index)
            tracemalloc.stop()
            _row(kind, len(codes), "HashIndex (exact)", index_run(index, queries, truth), per_hash)
            del index
            gc.collect()
            if size <= 2_000_000:
                for label, nlist, nprobe in (
                    ("IVF 1025 cells, np 24", 1025, 24),
                    (f"IVF {int(4 * size**0.5)} cells, np 64", int(4 * size**0.5), 64),
                ):
                    ivf = _ivf(codes, nlist, nprobe, rng)
                    _row(kind, len(codes), label, ivf_run(ivf, queries, truth), None)
                    del ivf
            del clips, codes
            gc.collect()


def index_run(index: HashIndex, queries, truth):
    found, walls, cpus = 0, [], []
    expected = sum(len(t) for t in truth)
    for q, t in zip(queries, truth, strict=True):
        (hits, wall, cpu) = timed(lambda q=q: index.search(q, RADIUS))
        walls.append(wall)
        cpus.append(cpu)
        # The index reports (query, media, distance); the scan (query, row): compare per
        # (query, media, count) so that every row must be there.
        got = _per_media(hits.query, hits.media)
        want = _per_media(
            np.array([p[0] for p in t], dtype=np.int64),
            np.array([p[1] // FRAMES for p in t], dtype=np.int64),
        )
        found += sum(min(n, got.get(k, 0)) for k, n in want.items())
    return found / max(1, expected), expected, walls, cpus


def _per_media(query: np.ndarray, media: np.ndarray) -> dict[tuple[int, int], int]:
    keys, counts = np.unique(np.stack([query, media]), axis=1, return_counts=True)
    return {(int(a), int(b)): int(n) for (a, b), n in zip(keys.T, counts, strict=True)}


def _ivf(codes: np.ndarray, nlist: int, nprobe: int, rng: np.random.Generator):
    sample = codes[rng.choice(len(codes), min(len(codes), 40 * nlist), replace=False)]
    ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
    ivf.train(sample)
    ivf.add(codes)
    ivf.nprobe = nprobe
    return ivf


def ivf_run(ivf, queries, truth):
    found, walls, cpus = 0, [], []
    for q, t in zip(queries, truth, strict=True):
        ((limits, _, rows), wall, cpu) = timed(lambda q=q: ivf.range_search(q, RADIUS + 1))
        walls.append(wall)
        cpus.append(cpu)
        found += len(pairs(limits, rows) & t)
    expected = sum(len(t) for t in truth)
    return found / max(1, expected), expected, walls, cpus


def _row(kind, hashes, label, result, per_hash) -> None:
    recall, expected, walls, cpus = result
    print(
        f"{kind:>10} {hashes:11,} {label:>22} {recall:7.4f} {expected:7} "
        f"{statistics.median(walls):11.3f} {statistics.median(cpus):10.3f} "
        f"{'-' if per_hash is None else f'{per_hash:.1f}':>10}"
    )


def add_distractors(
    db,
    hashes: int,
    rng: np.random.Generator,
    title: str = "clip",
    frames: int = FRAMES,
    signals=None,
) -> int:
    """Store clip-like random walks, ``hashes`` frame hashes in all, as library clips, straight
    through storage's API (nothing decoded): a library of realistic size in a minute.
    ``signals(n)`` gives clip n's other signals' data.  Returns the number of hashes stored."""
    import storage  # noqa: PLC0415 - only the parts that write a library need storage

    count, stored = -(-hashes // frames), 0
    with db.atomic():
        for start in range(0, count, 1000):  # in chunks: walks() holds a float per bit
            for n, clip in enumerate(walks(min(1000, count - start), rng, frames), start):
                fp = Fingerprint(
                    kind="video",
                    sha256=f"{n:064x}",
                    size=1,
                    duration=len(clip) / 2,
                    width=640,
                    height=360,
                    hashes=clip,
                    times=np.arange(len(clip), dtype=np.float32) / 2,
                    variants=np.full(len(clip), VARIANT_FULL, dtype=np.uint8),
                    signals=signals(n) if signals else {},
                )
                media_id, _ = storage.add_media(db, fp)
                storage.add_clip(
                    db, media_id, title=f"{title} {n}", first_seen="2015-01-01", source="bench"
                )
                stored += len(clip)
    return stored


def distractor_signals(orb_per_clip: int, clips: int, cache: Path):
    """clip number -> its "orb" and "audio" data: ``orb_per_clip`` real ORB descriptors in
    pictures of 160, and 20 s of random sound codes (all informative, matching nothing)."""
    import local_index as descriptors  # noqa: PLC0415 - bench/local_index.py

    from fingerprint.audio import SECONDS_PER_CODE, SoundPrint  # noqa: PLC0415

    codes = descriptors.distractors(orb_per_clip * clips, 2_000_000, cache)
    per_picture = descriptors.MAX_POINTS  # as many as a real picture keeps
    rng = np.random.default_rng(5)

    def signals(n: int) -> dict:
        block = codes[n * orb_per_clip : (n + 1) * orb_per_clip]
        pictures = -(-len(block) // per_picture)
        orb = descriptors.LocalFeatures(
            kind="video",
            times=np.arange(pictures, dtype=np.float32),
            sizes=np.full((pictures, 2), 480, np.uint16),
            frame=(np.arange(len(block)) // per_picture).astype(np.uint16),
            points=rng.uniform(0, 480, (len(block), 2)).astype(np.float32),
            descriptors=block,
        )
        sound = rng.integers(0, 2**32, int(20 / SECONDS_PER_CODE), dtype=np.uint32)
        return {"orb": orb, "audio": SoundPrint(sound)}

    return signals


def check_library(database: Path, orb_per_clip: int, cache: Path) -> None:
    """The 1M-hash library `check` is timed against, written to ``database``."""
    import storage  # noqa: PLC0415 - only this part needs the project's storage

    db = storage.open_db(database)
    signals = distractor_signals(orb_per_clip, CHECK_CLIPS, cache) if orb_per_clip else None
    add_distractors(
        db,
        CHECK_CLIPS * CHECK_FRAMES,
        np.random.default_rng(3),
        frames=CHECK_FRAMES,
        signals=signals,
    )
    with db.atomic():
        media_id, _ = storage.add_media(db, fingerprint_file(CHECK_ORIGINAL))
        storage.add_clip(db, media_id, title="the chair", first_seen="2014-07-17", source="bench")
    db.conn.close()


def crop_query(path: Path) -> Path:
    """The edit only local features place: the check's query with a quarter of each side's
    length cut away, keeping its top right corner (no frame within PDQ's index radius of the
    stored clip: a crop kept nearer the centre is a PDQ candidate, judged on its local
    features without their lookup), written to ``path`` once."""
    if not path.exists():
        import edits  # noqa: PLC0415 - bench/edits.py, only to make this query

        w, h, _, _ = edits.probe(CHECK_QUERY)
        cw, ch = round(w * 0.75), round(h * 0.75)
        x, y = w - cw, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        edits._render(CHECK_QUERY, path, lambda img: img[y : y + ch, x : x + cw])
    return path


def check_times(
    runs: int,
    orb_per_clip: int,
    cache: Path,
    keep: Path | None,
    saved_only: bool,
    query: Path = CHECK_QUERY,
) -> None:
    """`oldclip check` wall time against a 1M-hash library, with the saved indexes and (unless
    ``saved_only``) with them deleted, then where one check's time goes.  With ``keep``, the
    library is kept in (and reused from) that folder; ``saved_only`` keeps it in ``cache`` by
    default (building the library at the real proportion of descriptors takes most of an
    hour: build it once, then time changes against it).  ``query`` is a re-cut of the stored
    chair clip by default, which PDQ places; an edit only local features place (a crop) costs
    their whole lookup (``fingerprint.match.find_matches``)."""
    if saved_only and keep is None:
        keep = cache / f"check-{CHECK_CLIPS}x{CHECK_FRAMES}-orb{orb_per_clip}"
    with tempfile.TemporaryDirectory(prefix="oldclip-bench-index-") as temporary:
        folder = keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "library.db"
        if not database.exists():
            started = time.perf_counter()
            check_library(database, orb_per_clip, cache)
            print(f"  wrote the library in {time.perf_counter() - started:.0f} s")
        command = [sys.executable, "-m", "oldclip", "--db", str(database), "check", str(query)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def run() -> tuple[float, float, str]:
            """(wall s, CPU s of the child, output) of one `oldclip check`."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return wall, cpu, out.stdout + out.stderr

        started = time.perf_counter()
        run()  # warm the page cache and write the saved indexes (when there are none)
        print(f"  first check (saves missing indexes) {time.perf_counter() - started:.0f} s")
        with_index, without = [], []
        for _ in range(runs):
            if not saved_only:
                for path in Path(folder).glob("library*.index"):
                    path.unlink()
                *times, out = run()
                without.append(times)
            *times, out = run()
            with_index.append(times)
        print(
            f"\n`{' '.join(command[1:3])} --db {database} check {query}` against "
            f"{CHECK_CLIPS * CHECK_FRAMES:,} synthetic + 1 real clip's stored hashes, "
            f"{CHECK_CLIPS * orb_per_clip:,} ORB descriptors and sound codes, "
            f"median of {runs} (wall s / CPU s):"
        )
        for label, samples in (
            ("indexes rebuilt from the database", without),
            ("saved indexes beside the database", with_index),
        ):
            if samples:
                wall = statistics.median(s[0] for s in samples)
                cpu = statistics.median(s[1] for s in samples)
                print(f"  {label:34} {wall:6.2f} {cpu:6.2f}")
        for path in Path(folder).glob("library*.index"):
            print(f"  saved {path.name}: {path.stat().st_size / 1e6:.0f} MB")
        print("found the chair clip" if "the chair" in out else f"MISSED the match:\n{out}")
        check_breakdown(database, query)


def check_breakdown(database: Path, query: Path) -> None:
    """Where the time of one `check` goes (wall and CPU s per stage), in this process: the
    stages are timed by wrapping the functions that do them (``bench/check_stages.py``)."""
    import check_stages  # noqa: PLC0415 - bench/check_stages.py

    stages, total = check_stages.timed_check(database, query)
    print(
        f"\none check in process, by stage (wall s / CPU s), total {total[0]:.2f} / {total[1]:.2f}:"
    )
    for name, (wall, cpu) in stages.items():
        print(f"  {name:34} {wall:6.2f} {cpu:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--clips", type=int, default=3, help="query clips per library")
    parser.add_argument("--check-runs", type=int, default=3)
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument(
        "--orb-per-clip",
        type=int,
        default=ORB_PER_CLIP,
        help="ORB descriptors per distractor clip (real 20 s clips: ~5,000)",
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/oldclip-bench"))
    parser.add_argument(
        "--keep", type=Path, help="folder to keep (and reuse) the check's 1M-hash library in"
    )
    parser.add_argument(
        "--saved-only",
        action="store_true",
        help="time only checks with saved indexes, on a library kept in --cache (or --keep)",
    )
    parser.add_argument(
        "--query",
        type=Path,
        default=CHECK_QUERY,
        help="the file `check` is timed on (a missing *crop*.mp4: an off-centre 25%% crop of "
        "the default, made there)",
    )
    args = parser.parse_args()
    if "crop" in args.query.name and not args.query.exists():
        crop_query(args.query)
    if not args.skip_recall:
        recall_table(args.sizes, args.clips)
    if not args.skip_check:
        check_times(
            args.check_runs, args.orb_per_clip, args.cache, args.keep, args.saved_only, args.query
        )


if __name__ == "__main__":
    main()
