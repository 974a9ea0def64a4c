"""The search index: which stored frame hashes lie within a Hamming radius of a query hash.

Built on faiss's binary indexes (the engine python-threatexchange uses for PDQ):

* up to ``FLAT_LIMIT`` hashes, an exact brute-force scan (SIMD popcount; a few ms);
* above it, an inverted-file index (IVF) over k-means cells of the hashes, probing the
  ``nprobe`` nearest cells.  It is approximate: a near-duplicate in an unprobed cell is missed.
  Videos give many frames per clip, so a clip is still found when a few of its frames are not;
  ``tests/test_index.py`` measures its agreement with the linear scan.

Rows of one media item are contiguous, so the row -> media mapping costs a few bytes per media,
not per hash.  Memory: 32 bytes per hash while flat, 40 (hash + faiss row id) once IVF.
``HashIndex.build`` loads a whole library in one pass so faiss allocates each list once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from .types import HASH_BYTES

BITS = HASH_BYTES * 8
FLAT_LIMIT = 200_000  # below this, exact search is fast enough
TRAIN_SAMPLE = 40_000  # hashes used to train the IVF cells
MIN_PER_CELL = 39  # faiss's k-means wants at least this many training points per cell

# One search thread: queries are small, and OpenMP's spinning threads cost more than they give
# on a small machine that is also decoding video.
faiss.omp_set_num_threads(1)


@dataclass
class Hits:
    """Query hash positions, stored media ids and distances, one entry per pair within radius."""

    query: np.ndarray  # int64 index into the query hashes
    media: np.ndarray  # int64 media id
    distance: np.ndarray  # int32 Hamming distance

    def __len__(self) -> int:
        return len(self.query)


class HashIndex:
    """An append-mostly index of PDQ hashes grouped by media item."""

    def __init__(self, nprobe: int = 24):
        self.nprobe = nprobe
        self._index: faiss.IndexBinary = faiss.IndexBinaryFlat(BITS)
        self._trained_size = 0  # rows at the last training; 0 while flat
        self._starts: list[int] = []  # first row of each media item, ascending
        self._media: list[int] = []
        self._indexed: set[int] = set()
        self._rows = 0
        self._removed: set[int] = set()

    @classmethod
    def build(cls, items: Iterable[tuple[int, np.ndarray]], nprobe: int = 24) -> HashIndex:
        """An index of many media at once (start-up): one training, one add."""
        index = cls(nprobe)
        parts = []
        for media_id, hashes in items:
            hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
            if len(hashes):
                index._starts.append(index._rows)
                index._media.append(media_id)
                index._indexed.add(media_id)
                index._rows += len(hashes)
                parts.append(hashes)
        if parts:
            index._load(np.concatenate(parts))
        return index

    def __len__(self) -> int:
        return self._rows

    @property
    def media_count(self) -> int:
        return len(self._media) - len(self._removed)

    def __contains__(self, media_id: int) -> bool:
        return media_id in self._indexed and media_id not in self._removed

    def add(self, media_id: int, hashes: np.ndarray) -> None:
        """Index the hashes of one media item (its rows stay together)."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        if not len(hashes):
            return
        self._removed.discard(media_id)
        self._starts.append(self._rows)
        self._media.append(media_id)
        self._indexed.add(media_id)
        first = self._rows
        self._rows += len(hashes)
        if self._rows > max(FLAT_LIMIT, 4 * self._trained_size):
            # Grown past what the current structure serves well: retrain on everything.
            self._load(np.concatenate([self._stored_codes(first), hashes]))
        elif self._trained_size:
            self._index.add_with_ids(hashes, np.arange(first, self._rows, dtype=np.int64))
        else:
            self._index.add(hashes)

    def remove(self, media_id: int) -> None:
        """Stop returning a media item (its rows are dropped when the index is next built)."""
        self._removed.add(media_id)

    def search(self, hashes: np.ndarray, radius: int) -> Hits:
        """Every stored hash within ``radius`` bits of each query hash."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        if not len(hashes) or not self._rows:
            return _no_hits()
        limits, distances, rows = self._index.range_search(hashes, radius + 1)  # radius is "<"
        counts = np.diff(limits.astype(np.int64))
        query = np.repeat(np.arange(len(hashes), dtype=np.int64), counts)
        owner = np.searchsorted(np.asarray(self._starts), rows, side="right") - 1
        media = np.asarray(self._media, dtype=np.int64)[owner]
        if self._removed:
            keep = ~np.isin(media, list(self._removed))
            query, media, distances = query[keep], media[keep], distances[keep]
        return Hits(query, media, distances.astype(np.int32))

    def _load(self, codes: np.ndarray) -> None:
        """Put ``codes`` (all rows, in order) into a fresh flat or IVF index."""
        if len(codes) <= FLAT_LIMIT:
            self._index = faiss.IndexBinaryFlat(BITS)
            self._index.add(codes)
            self._trained_size = 0
            return
        rng = np.random.default_rng(0)
        sample = codes[rng.choice(len(codes), min(TRAIN_SAMPLE, len(codes)), replace=False)]
        nlist = int(min(len(sample) // MIN_PER_CELL, max(64, 4 * np.sqrt(len(codes)))))
        ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(BITS), BITS, nlist)
        ivf.train(sample)
        ivf.nprobe = self.nprobe
        _fill(ivf, codes)
        self._index = ivf
        self._trained_size = len(codes)

    def _stored_codes(self, rows: int) -> np.ndarray:
        """The first ``rows`` stored hashes, in row order, read back from faiss."""
        if not self._trained_size:
            return faiss.vector_to_array(self._index.xb).reshape(-1, HASH_BYTES)[:rows]
        ordered = np.empty((rows, HASH_BYTES), dtype=np.uint8)
        lists = self._index.invlists
        for cell in range(self._index.nlist):
            size = lists.list_size(cell)
            if size:
                ids = faiss.rev_swig_ptr(lists.get_ids(cell), size)
                codes = faiss.rev_swig_ptr(lists.get_codes(cell), size * HASH_BYTES)
                ordered[ids] = codes.reshape(-1, HASH_BYTES)
        return ordered


def _fill(ivf: faiss.IndexBinaryIVF, codes: np.ndarray) -> None:
    """Add all rows list by list, so each inverted list is allocated once at its exact size.

    ``add_with_ids`` appends row by row and lets each list's vector double as it grows, which
    costs about half as much memory again.
    """
    _, cells = ivf.quantizer.search(codes, 1)
    cells = cells.ravel()
    order = np.argsort(cells, kind="stable")
    bounds = np.searchsorted(cells[order], np.arange(ivf.nlist + 1))
    for cell in range(ivf.nlist):
        rows = order[bounds[cell] : bounds[cell + 1]].astype(np.int64)
        if len(rows):
            block = np.ascontiguousarray(codes[rows])
            ivf.invlists.add_entries(
                cell, len(rows), faiss.swig_ptr(rows), faiss.swig_ptr(block.ravel())
            )
    ivf.ntotal = len(codes)


def _no_hits() -> Hits:
    empty = np.zeros(0, dtype=np.int64)
    return Hits(empty, empty.copy(), np.zeros(0, dtype=np.int32))


def linear_search(
    stored: np.ndarray, owners: np.ndarray, query: np.ndarray, radius: int
) -> set[tuple[int, int, int]]:
    """Reference answer for tests: (query position, media id, distance) by brute force."""
    a = np.unpackbits(query.reshape(-1, HASH_BYTES), axis=1).astype(bool)
    b = np.unpackbits(stored.reshape(-1, HASH_BYTES), axis=1).astype(bool)
    found = set()
    for qi, row in enumerate(a):
        d = (b != row).sum(axis=1)
        for r in np.flatnonzero(d <= radius):
            found.add((qi, int(owners[r]), int(d[r])))
    return found
