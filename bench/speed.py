"""Speed of fingerprinting, decoder settings, CLI start-up, and search at scale.

    python bench/speed.py [--skip throughput decoder startup latency index]
                          [--sizes 10000 100000 1000000] [--index-sizes 1000000 10000000]

1. Fingerprinting throughput on the shared videos, in x-realtime per CPU-second (seconds of
   video per second of CPU used by the whole process, decoding thread included: the machine
   is shared, so wall time says little).  ``fingerprint_file`` runs every registered signal.
   Compared with a plain PyAV decode of every frame, and with the peer a plain loop would be:
   every frame decoded and an imagehash pHash a second (``bench/peer.py``).  Target >= 55x.
   Then the CPU per photo of ``fingerprint_file`` on the shared photos.
2. Decoder settings (``fingerprint.decode.DECODER_OPTIONS`` and ``SKIP_UNSAMPLED``): FFmpeg's
   whole-stream ``skip_loop_filter`` and ``skip_frame``, and skipping only the non-reference
   frames no sample needs, on the shared videos: CPU against FFmpeg's defaults with every
   frame decoded, and how many PDQ bits each sampled frame's hashes change (frame matched to
   the nearest time of the same variant; "moved": that nearest one is of another moment).
3. CLI start-up CPU (``bench/startup.py``): ``oldclip --help`` and ``oldclip check`` of a
   missing file.  Target < 0.3 s.
4. Query latency of ``find_matches`` (index search + verification) with 10k, 100k and 1M
   stored frame hashes (the shared videos plus synthetic clip-like walks), and the memory per
   hash read from the process's resident memory.
5. Index recall against an exact scan and latency per query clip at 1M and 10M hashes
   (``bench/index.py``, which also times ``oldclip check`` against 1M hashes with every
   signal's index saved beside the library; the local features' descriptor index is measured
   by ``bench/local_index.py``).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import index as index_bench  # noqa: E402
import startup  # noqa: E402

from fingerprint import INDEXED_VARIANTS, HashIndex, find_matches, fingerprint_file  # noqa: E402
from fingerprint import decode as decoding  # noqa: E402
from fingerprint.types import Fingerprint  # noqa: E402

MEDIA = HERE.parent.parent / "shared" / "media" / "videos"
PHOTOS = MEDIA.parent / "images"
FRAMES_PER_CLIP = 40
# label: (FFmpeg decoder options, whether unsampled non-reference frames are skipped)
DECODER_TRIALS = {
    "skip_loop_filter=all": ({"skip_loop_filter": "all"}, False),
    "unsampled skipped": ({}, True),
    "both (shipped)": ({"skip_loop_filter": "all"}, True),
    "skip_frame=noref": ({"skip_loop_filter": "all", "skip_frame": "noref"}, False),
}


def cpu_of(fn) -> tuple[float, object]:
    """(CPU seconds of this process, every thread, while ``fn`` ran; its result)."""
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def plain_decode(path: Path) -> None:
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        for _ in container.decode(video=0):
            pass


def throughput(videos: list[Path], runs: int) -> None:
    from peer import phashes

    print(f"fingerprinting throughput, x-realtime per CPU-second (best of {runs} per file)")
    print(f"{'file':38} {'length s':>8} {'oldclip':>8} {'decode':>8} {'pHash 1/s':>9}")
    totals = np.zeros(4)
    for path in videos:
        fp_cpu, fp = min((cpu_of(lambda p=path: fingerprint_file(p)) for _ in range(runs)),
                         key=lambda r: r[0])  # fmt: skip
        decode_cpu = min(cpu_of(lambda p=path: plain_decode(p))[0] for _ in range(runs))
        peer_cpu = min(cpu_of(lambda p=path: phashes(p))[0] for _ in range(runs))
        totals += (fp.duration, fp_cpu, decode_cpu, peer_cpu)
        print(
            f"{path.name:38} {fp.duration:8.1f} {fp.duration / fp_cpu:8.1f} "
            f"{fp.duration / decode_cpu:8.1f} {fp.duration / peer_cpu:9.1f}"
        )
    length, fp_cpu, decode_cpu, peer_cpu = totals
    print(
        f"{'all':38} {length:8.1f} {length / fp_cpu:8.1f} {length / decode_cpu:8.1f} "
        f"{length / peer_cpu:9.1f}   (target >= 55x, and >= the pHash peer)\n"
    )
    photos = sorted(PHOTOS.glob("*.jpg"))
    if photos:
        cpu = sum(
            min(cpu_of(lambda p=p: fingerprint_file(p))[0] for _ in range(runs)) for p in photos
        )
        print(f"photos: {len(photos)} shared photos, {1000 * cpu / len(photos):.1f} ms CPU each\n")


def _bits(a: Fingerprint, b: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
    """PDQ bits between each hash of ``a`` and the hash of ``b`` nearest in time (same
    variant), and whether that nearest hash is of another moment (the frame was skipped, or
    a scene cut was seen elsewhere)."""
    bits, moved = [], []
    for variant in np.unique(a.variants):
        ha, ta = a.select(int(variant))
        hb, tb = b.select(int(variant))
        if not len(hb):
            continue
        gap = np.abs(ta[:, None] - tb[None, :])
        nearest = gap.argmin(axis=1)
        bits.append(np.unpackbits(ha ^ hb[nearest], axis=1).sum(axis=1))
        moved.append(gap[np.arange(len(ta)), nearest] > 1e-3)
    if not bits:
        return np.zeros(0, int), np.zeros(0, bool)
    return np.concatenate(bits), np.concatenate(moved)


def decoder_settings(videos: list[Path], runs: int) -> None:
    shipped = dict(decoding.DECODER_OPTIONS), decoding.SKIP_UNSAMPLED
    print(f"decoder settings against FFmpeg's defaults, on the shared videos (shipped: {shipped})")
    print(f"{'setting':22} {'x-realtime/CPU s':>16} {'speed-up':>8} {'hashes':>7} "
          f"{'bits median':>11} {'p95':>4} {'max':>4} {'> 32 bits':>9} {'moved':>6}")  # fmt: skip
    try:
        decoding.DECODER_OPTIONS, decoding.SKIP_UNSAMPLED = {}, False
        base = {p: _best(p, runs) for p in videos}
        base_cpu = sum(c for c, _ in base.values())
        length = sum(fp.duration for _, fp in base.values())
        print(f"{'FFmpeg defaults':22} {length / base_cpu:16.1f} {1:8.2f} "
              f"{sum(len(fp) for _, fp in base.values()):7}")  # fmt: skip
        for label, (options, skip) in DECODER_TRIALS.items():
            decoding.DECODER_OPTIONS, decoding.SKIP_UNSAMPLED = options, skip
            trial = {p: _best(p, runs) for p in videos}
            cpu = sum(c for c, _ in trial.values())
            pairs = [_bits(base[p][1], trial[p][1]) for p in videos]
            bits = np.concatenate([b for b, _ in pairs])
            moved = np.concatenate([m for _, m in pairs])
            print(
                f"{label:22} {length / cpu:16.1f} {base_cpu / cpu:8.2f} "
                f"{sum(len(fp) for _, fp in trial.values()):7} {np.median(bits):11.0f} "
                f"{np.percentile(bits, 95):4.0f} {bits.max():4} {np.mean(bits > 32):9.3f} "
                f"{np.mean(moved):6.3f}"
            )
    finally:
        decoding.DECODER_OPTIONS, decoding.SKIP_UNSAMPLED = shipped
    print()


def _best(path: Path, runs: int) -> tuple[float, Fingerprint]:
    return min((cpu_of(lambda: fingerprint_file(path)) for _ in range(runs)), key=lambda r: r[0])


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def library(real: dict[int, Fingerprint], size: int, rng: np.random.Generator):
    """(media id, hashes) of the shared videos, then synthetic clips up to ``size`` hashes."""
    stored = 0
    for media_id, fp in real.items():
        hashes = fp.hashes[np.isin(fp.variants, INDEXED_VARIANTS)]
        stored += len(hashes)
        yield media_id, hashes
    next_id = 1000
    while stored < size:
        count = min(2000, (size - stored) // FRAMES_PER_CLIP + 1)
        for clip in index_bench.walks(count, rng, FRAMES_PER_CLIP):
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
    print("target: < 100 bytes per hash\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = ["throughput", "decoder", "startup", "latency", "index"]
    parser.add_argument("--skip", nargs="+", default=[], choices=parts)
    parser.add_argument("--runs", type=int, default=3, help="runs per file (best is kept)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=28)
    parser.add_argument("--index-sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--clips", type=int, default=3, help="query clips per index size")
    args = parser.parse_args()
    videos = sorted(MEDIA.glob("*.mp4"))
    if "throughput" not in args.skip:
        throughput(videos, args.runs)
    if "decoder" not in args.skip:
        decoder_settings(videos, args.runs)
    if "startup" not in args.skip:
        startup.measure(7, commands=[["--help"], ["check", startup.MISSING]])
        print()
    if "latency" not in args.skip:
        latency(args.sizes, args.queries)
    if "index" not in args.skip:
        index_bench.recall_table(args.index_sizes, args.clips)


if __name__ == "__main__":
    main()
