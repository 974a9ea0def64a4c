"""A saved index's sums are checked once per file, not at every open: a `check` against 25M
descriptors spent 0.15 CPU s summing 1 GB it had summed the time before.  A file changed
since, even in place with its size kept, is summed again and its damage caught.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from fingerprint import index_file
from fingerprint.index_file import IndexFileError, load_arrays, save_arrays

MB = 1 << 20


def saved(tmp_path: Path, monkeypatch) -> Path:
    """A 64 MB index file, settled (changed longer ago than ``SETTLED_S``, made short here)."""
    monkeypatch.setattr(index_file, "SETTLED_S", 0.2, raising=False)
    path = tmp_path / "library.orb.index"
    save_arrays(path, {"codes": np.arange(64 * MB // 8, dtype=np.int64)}, {"signal": "orb"})
    time.sleep(0.3)
    return path


def cpu_opening(path: Path) -> float:
    """CPU seconds to open ``path`` (and sum its arrays, if it does)."""
    started = time.process_time()
    arrays, _ = load_arrays(path)
    spent = time.process_time() - started
    del arrays
    return spent


def test_an_index_file_whose_sums_matched_is_not_summed_at_the_next_open(tmp_path, monkeypatch):
    path = saved(tmp_path, monkeypatch)
    first = cpu_opening(path)  # 64 MB summed: ~10 ms
    later = min(cpu_opening(path) for _ in range(3))  # the header read: ~0.2 ms
    assert later < first / 5  # was as long as the first
    arrays, meta = load_arrays(path)
    assert meta == {"signal": "orb"} and arrays["codes"][-1] == 64 * MB // 8 - 1


@pytest.mark.parametrize("change", ["in place", "replaced"])
def test_a_file_changed_after_its_sums_matched_is_summed_again(tmp_path, monkeypatch, change):
    path = saved(tmp_path, monkeypatch)
    load_arrays(path)  # summed: the file is marked checked
    if change == "in place":  # same inode, same size: only its times say it changed
        with open(path, "r+b") as fh:
            fh.seek(path.stat().st_size // 2)
            fh.write(b"\xff")
    else:  # another file renamed over it, the sums in its header not its arrays'
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        other = tmp_path / "other"
        other.write_bytes(bytes(data))
        other.replace(path)
    with pytest.raises(IndexFileError, match="checksum mismatch"):
        load_arrays(path)
    time.sleep(0.3)  # settled, still damaged: never marked checked
    with pytest.raises(IndexFileError, match="checksum mismatch"):
        load_arrays(path)
