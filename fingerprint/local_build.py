"""Building and saving the orb index (``fingerprint.local_index``) in memory that is a small
multiple of its descriptors, whatever the library's size.

A `check` after an upgrade that changes the index's format builds it from the database.  At
25M descriptors (800 MB: 5,000 clips of 5,000) that peaked at 11.5 GB resident (296 CPU s,
297 s wall), and a worker or bot host of 4-8 GB would be killed on upgrade: faiss's ``add``
assigned every descriptor to its cell in one search of the centres' inverted file (12 bytes
per probe per descriptor, 9.6 GB), its cells' lists grew by doubling, and
``serialize_index_binary`` grew a buffer by doubling then copied it.  Here they are assigned
a batch at a time, each cell filled once with its rows in order, and the file's bytes written
into one array of their size: the same file byte for byte.  That `check` (1M PDQ hashes too)
now peaks at 2.4 GB resident (1.85 GB while building), 266 CPU s, 272 s wall;
``bench/orb_rebuild_memory.py`` at 5M descriptors: the build's peak 0.47 GB instead of
2.3 GB, 29 CPU s instead of 33.
"""

from __future__ import annotations

from collections.abc import Iterator

import faiss
import numpy as np

from .local_features import DESCRIPTOR_BYTES

ADD_BATCH = 65_536  # descriptors assigned to their cells at a time when an index is built


def serialised(index: faiss.IndexBinary) -> np.ndarray:
    """faiss's serialised ``index`` (``serialize_index_binary``) in an array of its size, written
    twice (once to measure it): faiss's own grows a buffer by doubling, then copies it, up to
    3x the index at once (~3 GB more at 25M descriptors) where this holds it once."""
    size = 0

    def measure(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    faiss.write_index_binary(index, faiss.PyCallbackIOWriter(measure))
    blob, at = np.empty(size, np.uint8), 0

    def fill(chunk: bytes) -> None:
        nonlocal at
        blob[at : at + len(chunk)] = np.frombuffer(chunk, np.uint8)
        at += len(chunk)

    faiss.write_index_binary(index, faiss.PyCallbackIOWriter(fill))
    return blob


def cells_of(index: faiss.IndexBinaryIVF) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(number, rows, descriptors) of each non-empty cell of ``index``: views of its lists."""
    lists = index.invlists
    for number in range(index.nlist):
        size = lists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(lists.get_ids(number), size)
            cell = faiss.rev_swig_ptr(lists.get_codes(number), size * DESCRIPTOR_BYTES)
            yield number, ids, cell.reshape(size, DESCRIPTOR_BYTES)


def live_rows(indexes: list[faiss.IndexBinary | None], keep: np.ndarray, out: np.ndarray) -> None:
    """The descriptors of ``indexes`` (their ids are rows) whose row is kept (``keep``), into
    ``out`` in row order, renumbered: no array of every row, removed ones included."""
    renumbered = np.cumsum(keep) - 1
    for index in indexes:
        if isinstance(index, faiss.IndexBinaryIVF):
            for _, ids, cell in cells_of(index):
                kept = keep[ids]
                out[renumbered[ids[kept]]] = cell[kept]
        elif index is not None and index.ntotal:
            kept = keep[: index.ntotal]
            out[renumbered[: index.ntotal][kept]] = index.reconstruct_n(0, index.ntotal)[kept]


def filled(index: faiss.IndexBinaryIVF, codes: np.ndarray) -> None:
    """``codes`` (rows 0 up to their count) put in the cells of the empty ``index`` as its
    ``add`` would (each cell's rows in order), but assigned ADD_BATCH at a time and each cell
    filled at once.  faiss's ``add`` assigns them all in one search of the centres' inverted
    file, which holds 12 bytes per probe per descriptor (384 bytes with 32 of them probed:
    9.6 GB at 25M descriptors), and grows each cell's list by doubling."""
    cells = np.empty(len(codes), np.int32)  # -1 where none was found, as faiss leaves out
    for start in range(0, len(codes), ADD_BATCH):
        part = codes[start : start + ADD_BATCH]
        cells[start : start + len(part)] = index.quantizer.assign(part, 1)[:, 0]
    order = np.argsort(cells, kind="stable")  # rows by cell, in row order within one
    bounds = np.cumsum(np.bincount(cells + 1, minlength=index.nlist + 1))  # cell n: n to n + 1
    del cells
    lists = index.invlists
    for number in np.flatnonzero(np.diff(bounds)).tolist():
        rows = order[bounds[number] : bounds[number + 1]]
        cell = np.ascontiguousarray(codes[rows])
        lists.add_entries(number, len(rows), faiss.swig_ptr(rows), faiss.swig_ptr(cell))
    index.ntotal = len(codes)
