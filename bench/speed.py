"""Speed and memory of fingerprinting and search.

    python bench/speed.py [--sizes 10000 100000 1000000] [--queries 20]

1. Fingerprinting throughput on the shared videos: x-realtime, and the ratio of fingerprinting
   time to a plain PyAV decode of every frame of the same file (target: <= 1.0).
2. Query latency of ``find_matches`` (index search + temporal verification) with 10k, 100k and
   1M stored frame hashes: the shared videos plus synthetic clips whose frames drift like real
   footage does, and the index memory per stored hash (target: < 100 bytes), read from the
   process's resident memory.  The index scans exactly (about 1 ns of CPU per query hash and
   stored hash, so ~0.25 s per 20 s query at 1M); its recall, and `oldclip check` against 1M
   hashes (target: < 2 s wall), are in ``bench/index.py``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fingerprint import INDEXED_VARIANTS, HashIndex, find_matches, fingerprint_file  # noqa: E402
from fingerprint.types import Fingerprint  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
FRAMES_PER_CLIP = 40


def plain_decode(path: Path) -> float:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass
    return time.perf_counter() - started


def throughput(videos: list[Path]) -> None:
    print("fingerprinting throughput (best of 3 runs per file)")
    print(
        f"{'file':38} {'length s':>8} {'fp s':>7} {'decode s':>8} "
        f"{'x-realtime':>10} {'fp/decode':>9}"
    )
    ratios, realtime = [], []
    for path in videos:
        fp_time = min(_timed(lambda p=path: fingerprint_file(p)) for _ in range(3))
        decode_time = min(plain_decode(path) for _ in range(3))
        duration = fingerprint_file(path).duration
        ratios.append(fp_time / decode_time)
        realtime.append(duration / fp_time)
        print(
            f"{path.name:38} {duration:8.1f} {fp_time:7.3f} {decode_time:8.3f} "
            f"{duration / fp_time:10.1f} {fp_time / decode_time:9.2f}"
        )
    print(
        f"median: {statistics.median(realtime):.1f}x realtime, "
        f"fingerprint/decode ratio {statistics.median(ratios):.2f} (target <= 1.0)\n"
    )


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def synthetic_clips(count: int, rng: np.random.Generator):
    """Clips of FRAMES_PER_CLIP hashes; each frame drifts a few bits from the one before."""
    base = rng.integers(0, 256, (count, 1, 32), dtype=np.uint8)
    drift = np.packbits(rng.random((count, FRAMES_PER_CLIP, 256)) < 0.02, axis=2)
    return np.bitwise_xor.accumulate(np.concatenate([base, drift[:, 1:]], axis=1), axis=1)


def library(real: dict[int, Fingerprint], size: int, rng: np.random.Generator):
    """(media id, hashes) of the shared videos, then synthetic clips up to ``size`` hashes."""
    stored = 0
    for media_id, fp in real.items():
        hashes = fp.hashes[np.isin(fp.variants, INDEXED_VARIANTS)]
        stored += len(hashes)
        yield media_id, hashes
    next_id = 1000
    while stored < size:
        for clip in synthetic_clips(min(2000, (size - stored) // FRAMES_PER_CLIP + 1), rng):
            yield next_id, clip
            next_id += 1
            stored += len(clip)


def measure(size: int, queries: int) -> tuple[int, float, list[float], float, int]:
    """Build an index of ``size`` hashes and time queries; run in a fresh process each time so
    that the memory reading is this index's alone."""
    videos = sorted(MEDIA.glob("*.mp4"))
    real = {i + 1: fingerprint_file(p) for i, p in enumerate(videos)}
    probes = list(real.values())
    rng = np.random.default_rng(7)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    index = HashIndex.build(library(real, size, rng))
    build = time.perf_counter() - started
    gc.collect()
    per_hash = (rss_bytes() - before) / len(index)
    samples, found = [], 0
    for i in range(queries):
        query = probes[i % len(probes)]
        started = time.perf_counter()
        # Synthetic clips have no stored times: they load the search, never verify.
        found += len(find_matches(query, index, real.get))
        samples.append((time.perf_counter() - started) * 1000)
    return len(index), build, sorted(samples), per_hash, found


def latency(sizes: list[int], queries: int) -> None:
    print("query latency of find_matches (search + verification), one query = one shared video")
    print(
        f"{'stored hashes':>13} {'build s':>8} {'median ms':>9} {'p90 ms':>7} "
        f"{'bytes/hash':>10} {'matches':>7}"
    )
    spawn = multiprocessing.get_context("spawn")
    for size in sizes:
        with spawn.Pool(1) as pool:
            stored, build, samples, per_hash, found = pool.apply(measure, (size, queries))
        print(
            f"{stored:13,} {build:8.1f} {statistics.median(samples):9.1f} "
            f"{samples[int(0.9 * (len(samples) - 1))]:7.1f} {per_hash:10.1f} {found:7}"
        )
    print("target: < 100 bytes per hash (latency and recall at 1M/10M: bench/index.py)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=28)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(sorted(MEDIA.glob("*.mp4")))
    latency(args.sizes, args.queries)


if __name__ == "__main__":
    main()
