"""What one clip added to (or removed from) a saved orb index costs the next search, as a
`check` after a curator's `oldclip add` opens the saved index and catches up, then saving it.

    python bench/orb_add_one.py [--sizes 5000000 25000000] [--cache /tmp/oldclip-bench]

Library: ``bench/local_index.py``'s distractor items (real ORB descriptors, then the same with
bits flipped); the clip: 20 pictures of them, asked about with ~3% of their bits flipped.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_index import BITS, LIMIT, MAX_POINTS, LocalIndex, as_items, distractors  # noqa: E402

from fingerprint.index_file import load_arrays, save_arrays  # noqa: E402


def add_one(size: int, args) -> None:
    """What one clip added to a saved library costs the next search (as a `check` after a
    curator's `oldclip add` opens the saved index and catches up), then saving it again."""
    codes = distractors(size, args.real_limit, args.cache)
    rng = np.random.default_rng(5)
    clip = codes[rng.integers(0, len(codes), 20 * MAX_POINTS)]  # a clip of 20 pictures
    flips = np.packbits(rng.random((len(clip), BITS), np.float32) < 0.03, axis=1)
    (added,) = as_items(clip, 1).values()
    (query,) = as_items(clip ^ flips, 1).values()  # a copy, ~8 bits off a descriptor
    index = LocalIndex()
    for media_id, features in as_items(codes, 1000).items():
        index.add(media_id, features)
    path = args.cache / f"add-one-{size}.index"
    started = time.process_time()
    index.candidates(query, LIMIT)
    took = time.process_time() - started
    save_arrays(path, index.to_arrays(), {})
    del index
    gc.collect()
    opened = LocalIndex()
    opened.load_arrays(load_arrays(path)[0])
    print(f"\n{size:,} descriptors: built and first search {took:.1f} CPU s", flush=True)
    print(f"  search of the opened file: {_cpu(lambda: opened.candidates(query, LIMIT)):.2f} s")
    opened.add(1, added)
    found: list[int] = []
    took = _cpu(lambda: found.extend(opened.candidates(query, LIMIT)))
    print(f"  one clip added, next search: {took:.2f} CPU s, found it first: {found[:1] == [1]}")
    opened.remove(1000)
    print(f"  one removed, next search: {_cpu(lambda: opened.candidates(query, LIMIT)):.2f} s")
    print(f"  saved again: {_cpu(lambda: save_arrays(path, opened.to_arrays(), {})):.1f} CPU s")
    path.unlink()


def _cpu(step) -> float:
    started = time.process_time()
    step()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000_000, 25_000_000])
    parser.add_argument("--real-limit", type=int, default=2_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/oldclip-bench"))
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    for size in args.sizes:
        add_one(size, args)


if __name__ == "__main__":
    main()
