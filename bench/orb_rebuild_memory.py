"""Peak memory and CPU of building the orb index from the database, as a `check` does when the
saved index is missing or of another format, then saving it: per step, resident peak (VmHWM,
reset between steps) and CPU s.

    python bench/orb_rebuild_memory.py --db LIBRARY.db|postgresql://... [--clips 1000]
                                       [--fill 2000] [--out /tmp/ob-memory]

``--clips`` takes the first N stored items only (a smaller library from the same database).
``--fill N`` first stores N distractor clips of 5,000 real ORB descriptors each (as
``bench/index.py`` does) when the library holds no local features: on PostgreSQL, reading
them is where a client-side result would hold every row at once.
The saved file goes in ``--out`` (the library's own saved index is left alone).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import storage  # noqa: E402
from fingerprint import signal  # noqa: E402
from fingerprint.index_file import save_arrays  # noqa: E402
from fingerprint.local_features import DESCRIPTOR_BYTES  # noqa: E402
from storage.db import open_db  # noqa: E402


def _peak_mb() -> float:
    """Resident peak since the last reset (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _step(label: str, work):
    Path("/proc/self/clear_refs").write_text("5")  # reset the resident peak to the present
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    print(
        f"{label:28} peak {_peak_mb():8.0f} MB  cpu {time.process_time() - cpu:7.1f} s  "
        f"wall {time.perf_counter() - wall:7.1f} s",
        flush=True,
    )
    return result


def _fill(db, clips: int, cache: Path) -> None:
    import index as index_bench  # noqa: PLC0415 - bench/index.py, only to fill a library
    import numpy as np  # noqa: PLC0415

    per_clip, frames = 5000, 100
    signals = index_bench.distractor_signals(per_clip, clips, cache)
    started = time.perf_counter()
    index_bench.add_distractors(
        db, clips * frames, np.random.default_rng(3), frames=frames, signals=signals
    )
    print(
        f"stored {clips} clips of {per_clip} descriptors in {time.perf_counter() - started:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a library file or a postgresql:// URL")
    parser.add_argument("--clips", type=int, default=None, help="first N stored items only")
    parser.add_argument("--fill", type=int, default=0, help="N distractor clips if none")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ob-memory"))
    args = parser.parse_args()
    db = open_db(args.db)
    if args.fill and not storage.signal_media_ids(db, "orb"):
        _fill(db, args.fill, args.out)
    index = signal.get("orb").new_index()
    descriptors = 0

    def read() -> None:
        nonlocal descriptors
        rows = itertools.islice(storage.iter_signal_rows(db, "orb"), args.clips)
        for media_id, data in rows:
            index.add(media_id, data)
            descriptors += len(data.descriptors)

    _step("read rows (add)", read)
    print(
        f"  {len(index)} items, {descriptors:,} descriptors "
        f"({descriptors * DESCRIPTOR_BYTES / 2**20:.0f} MB)"
    )
    _step("build (first search)", index._built)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{descriptors}.orb.index"
    _step("save", lambda: save_arrays(path, index.to_arrays(), {}))
    path.unlink()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"whole run: ru_maxrss {usage.ru_maxrss / 1024:.0f} MB, "
        f"cpu {usage.ru_utime + usage.ru_stime:.1f} s"
    )


if __name__ == "__main__":
    main()
