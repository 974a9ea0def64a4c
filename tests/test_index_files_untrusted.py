"""Saved index files opened while another process replaces them, or written to mislead (a
hostile header, an orb index whose ids are no rows):
opening gives the old file or the new one whole, or ``IndexFileError`` (the caller rebuilds
with one log line), never another exception (a traceback for `oldclip check`).

The other process is a real one saving real files in a loop, as `oldclip run` saves its
indexes while a `check` opens them.
"""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from media import CHAIR_RECUT, shared_fingerprint
from test_saved_signal_indexes import saved_library

from fingerprint import index_file, local_index
from fingerprint.index_file import MAGIC, IndexFileError, load_arrays, save_arrays
from oldclip.indexfiles import open_signal
from oldclip.library import Library

ROOT = Path(__file__).resolve().parents[1]

# Saves, in turn, a large file (arrays of 16 MB: their sums take a while to check) and a small
# one, whose meta says which it is.
WRITER = """
import sys, numpy as np
from fingerprint.index_file import save_arrays
big = {"a": np.arange(2_000_000, dtype=np.int64), "b": np.full(4_000_000, 7, np.uint8)}
small = {"a": np.arange(10, dtype=np.int64), "b": np.full(10, 7, np.uint8)}
i = 0
while True:
    save_arrays(sys.argv[1], big if i % 2 else small, {"big": bool(i % 2)})
    i += 1
"""


def test_a_file_replaced_while_it_is_opened_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "library.orb.index"
    save_arrays(path, {"a": np.arange(10, dtype=np.int64), "b": np.full(10, 7, np.uint8)}, {})
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT)
    failures: dict[str, int] = {}
    opened = 0
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                arrays, meta = load_arrays(path)
            except Exception as exc:  # noqa: BLE001 (any is a failure; counted by kind)
                kind = f"{type(exc).__name__}: {exc}"
                failures[kind] = failures.get(kind, 0) + 1
                continue
            opened += 1
            length = 2_000_000 if meta.get("big") else 10
            assert len(arrays["a"]) == length and arrays["a"][-1] == length - 1
    finally:
        writer.kill()
        writer.wait()
    assert opened > 100
    assert not failures  # was ~1% "mmap length is greater than file size", ~1% checksums


@pytest.mark.parametrize("shape", [[2**62, 4], [2**64]])
def test_a_header_promising_a_huge_array_is_an_index_file_error(tmp_path, shape) -> None:
    header = json.dumps({"arrays": [["codes", "|u1", shape, 0]], "meta": {}}).encode()
    path = tmp_path / "library.index"
    head = MAGIC + struct.pack("<I", len(header)) + header
    path.write_bytes(head + b"\0" * (-len(head) % 64))  # what the overflowed size would say
    with pytest.raises(IndexFileError):
        load_arrays(path)


def misnumbered(tmp_path: Path, monkeypatch) -> tuple[Path, object, dict]:
    """(the saved orb index, the library's config, the file's meta): an inverted file whose
    sums match but the first id of one cell is no row (written so: the sums are no
    signature)."""
    monkeypatch.setattr(local_index, "FLAT_LIMIT", 100)  # the two clips' ~4,000 descriptors
    config = saved_library(tmp_path)  # orb's saved index an inverted file
    path = Library(None, config).signal_index_path("orb")
    arrays, meta = load_arrays(path)
    index = local_index._read(arrays["faiss"])
    assert isinstance(index, faiss.IndexBinaryIVF)
    lists = index.invlists
    cell = next(n for n in range(index.nlist) if lists.list_size(n))
    ids = faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell))
    at = ids.__array_interface__["data"][0] - arrays["faiss"].__array_interface__["data"][0]
    blob = np.array(arrays["faiss"])
    blob[at : at + 8] = np.array([10**12], "<i8").view(np.uint8)  # the cell's first id
    del index, ids, lists
    save_arrays(path, {**arrays, "faiss": blob}, meta)
    return path, config, meta


def test_an_orb_index_whose_rows_are_out_of_range_is_rebuilt(tmp_path, monkeypatch, caplog):
    """An inverted file whose sums match but whose ids are no rows is rebuilt with one log
    line, not an IndexError in every `check`."""
    _, config, _ = misnumbered(tmp_path, monkeypatch)
    with caplog.at_level(logging.WARNING):
        library = Library.open(config)
        found = [m.match.media_id for m in library.match(shared_fingerprint(CHAIR_RECUT))]
        library.close()
    assert found == [1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "orb index" in warnings[0] and "rebuilding" in warnings[0]


def test_an_orb_index_whose_rows_are_out_of_range_is_never_stamped_checked(tmp_path, monkeypatch):
    """A file checked whole is stamped, and its row ids are not read again at the next open:
    the stamp must vouch for the index's checks, not only the file's sums, which match here.
    Opened twice (settled, and not saved again between), it is refused both times."""
    path, config, meta = misnumbered(tmp_path, monkeypatch)
    monkeypatch.setattr(index_file, "SETTLED_S", 0.0)
    time.sleep(0.05)  # the file settled: a stamp may be written
    files = Library(None, config).indexes.files
    for _ in range(2):
        assert open_signal(files, "orb", meta["library_version"]) is None
    assert not index_file.open_arrays(path, vouches="rows").checked


def test_a_stamp_for_the_sums_alone_does_not_spare_an_orb_index_its_row_checks(
    tmp_path, monkeypatch
):
    """A stamp written after the sums alone (``load_arrays``, as benches and releases before
    row checks were stamped do) must not let a misnumbered index through."""
    path, config, meta = misnumbered(tmp_path, monkeypatch)
    monkeypatch.setattr(index_file, "SETTLED_S", 0.0)
    time.sleep(0.05)
    index_file.load_arrays(path)  # sums match: stamped as summed
    assert index_file.open_arrays(path, vouches="sums").checked
    files = Library(None, config).indexes.files
    assert open_signal(files, "orb", meta["library_version"]) is None
