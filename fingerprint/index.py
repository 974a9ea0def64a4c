"""The search index: which stored frame hashes lie within a Hamming radius of a query hash.

An exact scan, done in cache-sized chunks with faiss's Hamming kernel (the engine
python-threatexchange uses for PDQ).  Approximate indexes were measured and lost
(``bench/index.py``): frame hashes are searched at radius 64 of 256 bits, a quarter of the
bits, and at that distance neither inverted lists (IVF at 1M hashes, 1,025 cells probing 24 or
4,000 probing 64: 0.58-0.79 of the exact scan's rows on clip-like codes, 0.72-0.76 on uniform
ones) nor multi-index hashing (a quarter of the bits leaves no sub-string that must match) find
nearly everything without visiting most of the data, and faiss's binary HNSW has no range
search at all.  A scan has no training, no build and no recall to tune; every row is where it
was added, so a saved index is used straight from the file (``fingerprint.index_file``,
memory-mapped), and chunking keeps a block of codes in cache while all query hashes go past it:
246 query hashes (20 s, upright and mirrored) against 1M codes take 0.23-0.24 CPU s in blocks
of 4,096 to 32,768 rows, 0.29 in blocks of 65,536 (2 MB, the whole L2 of a core here).  Each
block is first counted (faiss's counting kernel, ~0.6 ns a pair) and range-searched (~1 ns a
pair) only when it holds a pair: 0.145 CPU s for a query whose 246 hashes find nothing or one
clip; when most blocks hold pairs, counting stops after ``COUNTED_FIRST`` (``_any_within``).
Searching one query hash for a group of near-identical ones, at the radius plus their spread,
was measured and rejected: consecutive frames of a clip are not that close (246 hashes make 217
groups at 32 bits).

Rows of one media item are contiguous, so the row -> media mapping costs a few bytes per media,
not per hash.  Memory: 32 bytes per hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from .types import HASH_BYTES, INDEXED_VARIANTS, QUERY_VARIANTS, Fingerprint

BITS = HASH_BYTES * 8
CHUNK_ROWS = 16_384  # codes scanned per call: 512 KB, a quarter of L2 (see the docstring)
COUNTED_FIRST = 8  # blocks counted before searching: then only while most hold no pair
TAIL_PARTS = 32  # media added one by one are merged into one array past this many

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
    """An append-mostly index of PDQ hashes grouped by media item.

    The stored codes are a list of parts scanned one after the other: the bulk (an array, or
    the memory-mapped codes of a saved index) and what was added since.  Each media item added
    takes a "slot" (its first row and id); removing a media item retires its slots, so its rows
    are never returned again, even if the id comes back with other hashes.
    """

    def __init__(self, chunk_rows: int = CHUNK_ROWS):
        self.chunk_rows = chunk_rows
        self._parts: list[np.ndarray] = []  # (n, HASH_BYTES) uint8 arrays, in row order
        self._starts: list[int] = []  # first row of each slot, ascending
        self._media: list[int] = []  # media id of each slot
        self._alive: list[bool] = []
        self._slots: dict[int, int] = {}  # media id -> its live slot
        self._rows = 0
        self._tail = 0  # parts at the end made by ``add`` (merged past TAIL_PARTS)

    @classmethod
    def build(cls, items: Iterable[tuple[int, np.ndarray]], chunk_rows: int = CHUNK_ROWS):
        """An index of many media at once (start-up): one array for all their codes."""
        index = cls(chunk_rows)
        index.add_many(items)
        index._tail = 0  # the bulk: later additions are merged among themselves only
        return index

    @classmethod
    def from_arrays(
        cls,
        codes: np.ndarray,
        starts: np.ndarray,
        media: np.ndarray,
        chunk_rows: int = CHUNK_ROWS,
    ) -> HashIndex:
        """An index over ``codes`` as they are (a memory map is not copied): media ``media[i]``
        holds rows ``starts[i]`` up to the next start.  The caller vouches for the arrays."""
        index = cls(chunk_rows)
        index._starts = [int(s) for s in starts]
        index._media = [int(m) for m in media]
        index._alive = [True] * len(index._media)
        index._slots = {m: i for i, m in enumerate(index._media)}
        index._rows = len(codes)
        if len(codes):
            index._parts.append(codes)
        return index

    def __len__(self) -> int:
        return self._rows

    @property
    def media_count(self) -> int:
        return len(self._slots)

    def __contains__(self, media_id: int) -> bool:
        return media_id in self._slots

    def media_ids(self) -> list[int]:
        """The media ids whose rows are served, in row order."""
        return [m for m, alive in zip(self._media, self._alive, strict=True) if alive]

    def hashes_of(self, media_id: int) -> np.ndarray:
        """The stored hashes of one media item (empty if it is not indexed)."""
        slot = self._slots.get(media_id)
        if slot is None:
            return np.zeros((0, HASH_BYTES), dtype=np.uint8)
        return self._rows_between(self._starts[slot], self._end(slot))

    def add(self, media_id: int, hashes: np.ndarray | Fingerprint) -> None:
        """Index the hashes of one media item (its rows stay together): given as codes, or as
        its fingerprint (the "pdq" signal's data: its ``INDEXED_VARIANTS`` are indexed)."""
        if isinstance(hashes, Fingerprint):
            hashes = hashes.hashes[np.isin(hashes.variants, INDEXED_VARIANTS)]
        hashes = _codes(hashes)
        if not len(hashes):
            return
        self.remove(media_id)  # an id stands for one set of rows
        self._new_slot(media_id, len(hashes))
        self._append(hashes.copy())

    def add_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None:
        """Index many media items (codes) at once, as one new array: a replica catching up
        with thousands would otherwise merge the recent arrays again and again."""
        parts = []
        for media_id, hashes in items:
            hashes = _codes(hashes)
            if len(hashes):
                self.remove(media_id)
                self._new_slot(media_id, len(hashes))
                parts.append(hashes)
        if parts:
            self._append(np.concatenate(parts))

    def _append(self, codes: np.ndarray) -> None:
        self._parts.append(codes)
        self._tail += 1
        if self._tail > TAIL_PARTS:
            # Many small arrays cost a call each per search: make the recent ones one array.
            merged = np.concatenate(self._parts[-self._tail :])
            self._parts[-self._tail :] = [merged]
            self._tail = 1

    def remove(self, media_id: int) -> None:
        """Stop returning a media item (its rows are dropped when the index is next saved)."""
        slot = self._slots.pop(media_id, None)
        if slot is not None:
            self._alive[slot] = False

    def search(self, hashes: np.ndarray, radius: int) -> Hits:
        """Every stored hash within ``radius`` bits of each query hash."""
        hashes = _codes(hashes)
        if not len(hashes) or not self._rows:
            return _no_hits()
        queries, rows, distances = [], [], []
        first = counted = paired = 0
        for part in self._parts:
            for start in range(0, len(part), self.chunk_rows):
                block = np.asarray(part[start : start + self.chunk_rows])  # no copy
                # Count first while most blocks hold no pair (counting costs ~0.6 of a search).
                if counted < COUNTED_FIRST or 2 * paired <= counted:
                    counted += 1
                    if not _any_within(hashes, block, radius):
                        continue
                    paired += 1
                q, r, d = _range_search(hashes, block, radius)
                queries.append(q)
                rows.append(r + (first + start))
                distances.append(d)
            first += len(part)
        if not queries:
            return _no_hits()
        query, row, distance = map(np.concatenate, (queries, rows, distances))
        slot = np.searchsorted(np.asarray(self._starts, dtype=np.int64), row, side="right") - 1
        keep = np.asarray(self._alive, dtype=bool)[slot]
        media = np.asarray(self._media, dtype=np.int64)[slot[keep]]
        return Hits(query[keep], media, distance[keep])

    def candidates(self, query: Fingerprint, limit: int, radius: int | None = None) -> list[int]:
        """The "pdq" signal's candidates: media ids with the most query pictures (upright,
        flipped) within ``radius`` bits of one of their stored hashes, best first."""
        if radius is None:
            from .settings import MatchSettings

            radius = MatchSettings.index_radius
        searched = np.isin(query.variants, QUERY_VARIANTS)
        hits = self.search(query.hashes[searched], radius)
        if not len(hits):
            return []
        media_ids, counts = np.unique(hits.media, return_counts=True)
        return media_ids[np.argsort(-counts, kind="stable")][:limit].tolist()

    def live_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, starts, media ids) of the live media only, compacted: what a saved index
        holds."""
        alive = np.asarray(self._alive, dtype=bool)
        sizes = np.diff(np.asarray(self._starts + [self._rows], dtype=np.int64))
        if alive.all() and len(self._parts) <= 1:
            codes = self._parts[0] if self._parts else np.zeros((0, HASH_BYTES), np.uint8)
        else:
            keep_row = np.repeat(alive, sizes)
            pieces, first = [], 0
            for part in self._parts:
                pieces.append(part[keep_row[first : first + len(part)]])
                first += len(part)
            codes = np.concatenate(pieces) if pieces else np.zeros((0, HASH_BYTES), np.uint8)
        kept = sizes[alive]
        starts = np.concatenate(([0], np.cumsum(kept)[:-1])).astype(np.int64)[: len(kept)]
        return codes, starts, np.asarray(self._media, dtype=np.int64)[alive]

    def _new_slot(self, media_id: int, rows: int) -> None:
        self._slots[media_id] = len(self._media)
        self._starts.append(self._rows)
        self._media.append(media_id)
        self._alive.append(True)
        self._rows += rows

    def _end(self, slot: int) -> int:
        return self._starts[slot + 1] if slot + 1 < len(self._starts) else self._rows

    def _rows_between(self, begin: int, end: int) -> np.ndarray:
        """Stored rows ``begin`` up to ``end`` (one media item: they may span parts only if
        ``build`` and ``add`` were mixed, so gather across parts)."""
        pieces, first = [], 0
        for part in self._parts:
            lo, hi = max(begin, first), min(end, first + len(part))
            if lo < hi:
                pieces.append(part[lo - first : hi - first])
            first += len(part)
        return np.concatenate(pieces) if pieces else np.zeros((0, HASH_BYTES), np.uint8)


def _any_within(queries: np.ndarray, block: np.ndarray, radius: int) -> bool:
    """Whether any pair of a query hash and a row of ``block`` is within ``radius`` bits.

    faiss's counting kernel runs at ~0.6 ns a pair where its range search takes ~1 ns (246
    query hashes x 1M codes: 0.149 CPU s against 0.264), and most blocks hold no stored hash
    near a query: they are counted, and only a block with pairs is range-searched."""
    count = np.zeros(1, np.uint64)
    faiss.hamming_count_thres(
        faiss.swig_ptr(queries),
        faiss.swig_ptr(block),
        len(queries),
        len(block),
        radius,  # counts pairs at most this far apart (inclusive)
        HASH_BYTES,
        faiss.swig_ptr(count),
    )
    return bool(count[0])


def _range_search(
    queries: np.ndarray, block: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, row in block, distance) of every pair within ``radius`` bits (inclusive)."""
    result = faiss.RangeSearchResult(len(queries))
    faiss.hamming_range_search(
        faiss.swig_ptr(queries),
        faiss.swig_ptr(block),
        len(queries),
        len(block),
        radius + 1,  # faiss's radius is exclusive
        HASH_BYTES,
        result,
    )
    limits = faiss.rev_swig_ptr(result.lims, len(queries) + 1).astype(np.int64)
    total = int(limits[-1])
    rows = faiss.rev_swig_ptr(result.labels, total).astype(np.int64) if total else _EMPTY
    distances = (
        faiss.rev_swig_ptr(result.distances, total).astype(np.int32)
        if total
        else np.zeros(0, np.int32)
    )
    query = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(limits))
    return query, rows, distances


_EMPTY = np.zeros(0, dtype=np.int64)


def _codes(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)


def _no_hits() -> Hits:
    return Hits(_EMPTY.copy(), _EMPTY.copy(), np.zeros(0, dtype=np.int32))


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
