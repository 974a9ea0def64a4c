"""How the "orb" signal's index is searched with faiss (``fingerprint.local_index``).

An inverted file is searched cell by cell: every probed cell read once for all the query
descriptors probing it, not once per descriptor.  The cells a query probes are the large ones
(at 25M descriptors in cells of 1,000 on average, an off-centre crop's probed cells held 3,380):
descriptor by descriptor, one side of that query (5,520 descriptors) read ~300M descriptors,
1.65 CPU s; cell by cell 0.67 s, the same votes (``bench/index.py --saved-only --query``).
"""

from __future__ import annotations

import threading

import faiss
import numpy as np

# ``per_invlist_search`` is the index's own state: two threads searching one index (a bot's
# check on the event loop beside a worker's in a storage thread) must not see each other's.
SWITCHING = threading.Lock()


def search(
    index: faiss.IndexBinary, codes: np.ndarray, k: int, kept: int
) -> tuple[np.ndarray, ...]:
    """faiss's search of ``index`` for the ``k`` nearest of each of ``codes``; an inverted file
    cell by cell (``per_invlist_search``), the same distances as descriptor by descriptor.

    faiss 1.15 sizes a buffer of one entry per cell by the query count (a heap overrun with
    fewer query descriptors than cells), so a query of fewer is padded to one descriptor per
    cell, the padding probing only the smallest cell (``padded``).  Visiting the cells in
    another order keeps the same distances but may keep other rows among equally near ones:
    where the ``kept``-th nearest ties with the last looked up, the descriptor is looked up
    again one at a time, so that the ``kept`` nearest (``LocalIndex._nearest``: ties to the
    earliest row) are those of a search descriptor by descriptor."""
    if not isinstance(index, faiss.IndexBinaryIVF):
        return index.search(codes, k)
    if len(codes) >= index.nlist:
        return per_cell(index, codes, k)
    distances, rows = padded(index, codes, k)
    if k > kept:
        tied = np.flatnonzero((distances[:, kept - 1] == distances[:, -1]) & (rows[:, -1] >= 0))
        if len(tied):
            distances[tied], rows[tied] = index.search(np.ascontiguousarray(codes[tied]), k)
    return distances, rows


def per_cell(index: faiss.IndexBinaryIVF, codes: np.ndarray, k: int, assigned=None):
    """faiss's search cell by cell (at least one query descriptor a cell), with the cells
    each probes given (``assigned``: centre distances and cells) or found."""
    with SWITCHING:
        index.per_invlist_search = True
        try:
            if assigned is None:
                return index.search(codes, k)
            return index.search_preassigned(codes, k, assigned[1], assigned[0])
        finally:
            index.per_invlist_search = False


def padded(index: faiss.IndexBinaryIVF, codes: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """``per_cell`` of fewer query descriptors than cells: padded to one a cell with
    descriptors that probe only the smallest cell (a few distances each).  The padding's
    arrays take ~420 bytes a cell while searching: 10 MB at 25,000 cells (25M descriptors)."""
    count, probes = len(codes), min(index.nprobe, index.nlist)
    centre_distances, cells = index.quantizer.search(codes, probes)
    queries = np.zeros((index.nlist, codes.shape[1]), np.uint8)
    queries[:count] = codes
    assigned = np.full((index.nlist, probes), smallest_cell(index), np.int64)
    assigned[:count] = cells
    distances = np.zeros((index.nlist, probes), np.int32)
    distances[:count] = centre_distances
    found = per_cell(index, queries, k, (distances, assigned))
    return found[0][:count], found[1][:count]


def smallest_cell(index: faiss.IndexBinaryIVF) -> int:
    """The cell holding the fewest descriptors (found once per opened index: ~10 ms at
    25,000 cells)."""
    smallest = getattr(index, "smallest_cell", None)
    if smallest is None:
        lists = index.invlists
        smallest = min(range(index.nlist), key=lists.list_size)
        index.smallest_cell = smallest
    return smallest
