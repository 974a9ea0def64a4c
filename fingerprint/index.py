"""The search index: which stored frame hashes lie within a Hamming radius of a query hash.

Built on faiss's binary indexes (the same engine python-threatexchange uses for PDQ):

* up to ``FLAT_LIMIT`` hashes, an exact brute-force scan (SIMD popcount; a few ms);
* above it, an inverted-file index (IVF) over k-means cells of the hashes, probing the
  ``nprobe`` nearest cells.  It is approximate: a near-duplicate in an unprobed cell is missed.
  Videos give many frames per clip, so a clip is still found when a few of its frames are not;
  ``tests/test_index.py`` measures its agreement with the linear scan.

Rows of one media item are contiguous, so the row -> media mapping costs a few bytes per media,
not per hash.  Memory is about 72 bytes per hash: 32 in faiss, 8 of faiss row id, and a
32-byte copy kept for retraining the cells as the library grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from .types import HASH_BYTES

BITS = HASH_BYTES * 8
FLAT_LIMIT = 200_000  # below this, exact search is fast enough
TRAIN_SAMPLE = 40_000  # hashes used to train the IVF cells


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
        self._index = _flat()
        self._ivf_size = 0  # size at the last (re)training; 0 while flat
        self._starts: list[int] = []  # first row of each media item, ascending
        self._media: list[int] = []
        self._rows = 0
        self._removed: set[int] = set()
        self._codes: list[np.ndarray] = []  # every stored hash, in row order, for (re)training

    def __len__(self) -> int:
        return self._rows

    @property
    def media_count(self) -> int:
        return len(self._media) - len(self._removed)

    def add(self, media_id: int, hashes: np.ndarray) -> None:
        """Index the hashes of one media item (its rows stay together)."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        if not len(hashes):
            return
        self._removed.discard(media_id)
        self._starts.append(self._rows)
        self._media.append(media_id)
        ids = np.arange(self._rows, self._rows + len(hashes), dtype=np.int64)
        self._index.add_with_ids(hashes, ids)
        self._rows += len(hashes)
        self._codes.append(hashes)
        if self._rows > max(FLAT_LIMIT, 4 * self._ivf_size):
            self._train()

    def remove(self, media_id: int) -> None:
        """Stop returning a media item (its rows are dropped when the index is next built)."""
        self._removed.add(media_id)

    def search(self, hashes: np.ndarray, radius: int) -> Hits:
        """Every stored hash within ``radius`` bits of each query hash."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        if not len(hashes) or not self._rows:
            return _no_hits()
        limits, distances, rows = self._index.range_search(hashes, radius + 1)
        query = np.repeat(np.arange(len(hashes), dtype=np.int64), np.diff(limits.astype(np.int64)))
        owner = np.searchsorted(np.asarray(self._starts), rows, side="right") - 1
        media = np.asarray(self._media, dtype=np.int64)[owner]
        if self._removed:
            keep = ~np.isin(media, list(self._removed))
            query, media, distances = query[keep], media[keep], distances[keep]
        return Hits(query, media, distances.astype(np.int32))

    def _train(self) -> None:
        """Swap in an IVF index whose cells are trained on a sample of the stored hashes.

        Retrained whenever the library has grown fourfold, so the cells follow the data.
        """
        codes = np.concatenate(self._codes)
        self._codes = [codes]
        rng = np.random.default_rng(0)
        sample = codes[rng.choice(len(codes), min(TRAIN_SAMPLE, len(codes)), replace=False)]
        nlist = int(min(len(sample) // 39, max(64, 4 * np.sqrt(len(codes)))))  # faiss: >=39/cell
        ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(BITS), BITS, nlist)
        ivf.train(sample)
        ivf.nprobe = self.nprobe
        ivf.add_with_ids(codes, np.arange(len(codes), dtype=np.int64))
        self._index = ivf
        self._ivf_size = len(codes)


def _flat() -> faiss.IndexBinary:
    return faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(BITS))


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
