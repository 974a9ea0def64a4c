"""Which stored items share enough ORB descriptors with a query to be worth verifying.

Every stored keypoint descriptor goes in one faiss binary index.  Each query descriptor looks
up its nearest stored ones; a neighbour within ``VOTE_RADIUS`` bits votes for the picture it
came from.  A repost shares many descriptors with a few pictures of its source, while chance
neighbours scatter over the whole library, so an item ranks by the votes of its best picture
for each query picture, summed over the query's pictures.

The faiss index is rebuilt from the stored arrays when it is next searched after items were
added or removed (libraries change in batches, between searches), and saved beside the
library (``to_arrays``), so a command opens it instead of training it again: each descriptor
once (38 bytes a descriptor with its picture and place in a cell; 75 in format 1, which held
faiss's serialised copy too), the trained cells, and each cell's rows, which opening copies into
the cells' lists without searching the quantizer.  Up to
``FLAT_LIMIT`` descriptors it is an exact scan; above, an inverted file of about sqrt(n) cells,
searched with ``NPROBE`` probes.  ``SEARCHED`` neighbours are looked up and the NEIGHBOURS
nearest kept, ties going to the earliest row as in the exact scan: with only NEIGHBOURS looked
up, the order the cells are visited in decided which of several equally near descriptors
voted (Hamming distances tie often).

Measured by ``bench/local_index.py`` at 1M descriptors of real frames (26 queries: shared
clips and edits of them, ~20 s, looked up upright and mirrored; one search thread on a machine
shared with other work), share of the exact scan's top 25 kept, CPU s per query clip: exact
scan 6.5 s; sqrt(n) cells with 16 probes 0.959, 0.35 s; 32 probes 0.977, 0.57 s; 48 probes
0.986, 0.95 s; 64 probes 0.992, 1.11 s; 2 sqrt(n) cells with 32 probes 0.980, 0.42 s; 4 sqrt(n)
cells with 64 probes 0.979, 0.58 s, with 128 probes 0.994, 1.16 s (training 3x, 7x longer);
16 probes, then 64 for the query descriptors whose 4th neighbour is 48 bits or farther, 0.971,
1.07 s.  Earlier, on 7 queries: binary HNSW (M 16, efSearch 128) 0.943, 1.2 s, 184 bytes a
descriptor and 506 s to build.  The misses are chance neighbours' votes deciding the last places of
the 25 (every query kept its exact best candidate with 16 probes already), so 64 probes it is.
At 10M, with the cells growing as sqrt(n), the same 64 probes scan ~3x the rows (~3.5 s a clip)
and keep less than at 1M; unmeasured here (the exact scan alone takes ~108 s a clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from .local_features import DESCRIPTOR_BYTES, LocalFeatures

VOTE_RADIUS = 56  # bits: a stored descriptor this close to a query descriptor votes
NEIGHBOURS = 4  # stored descriptors that may vote per query descriptor
SEARCHED = 16  # stored descriptors looked up per query descriptor, the NEIGHBOURS nearest kept
FLAT_LIMIT = 50_000  # descriptors up to which the index scans them all
NPROBE = 64  # inverted-file cells visited per query descriptor above FLAT_LIMIT
TRAIN_PER_CELL = 39  # descriptors sampled per cell to train the inverted file


class LocalIndex:
    """The candidate finder of the "orb" signal (see fingerprint.signal.SignalIndex)."""

    # A saved index of another format is rebuilt: every parameter that shapes it is in here.
    format = f"orb-2 flat<={FLAT_LIMIT} ivf sqrt cells x{TRAIN_PER_CELL} nprobe={NPROBE}"

    def __init__(self) -> None:
        # Per media item: the picture index and descriptor of each stored (upright) keypoint.
        self._items: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._index: faiss.IndexBinary | None = None
        self._media = np.empty(0, np.int64)  # media id of each indexed descriptor
        self._frame = np.empty(0, np.int64)  # that media item's picture index
        self._ivf: _Trained | None = None

    def add(self, media_id: int, data: LocalFeatures) -> None:
        self._items[media_id] = (data.frame, data.descriptors)  # upright only, as stored
        self._index = None

    def remove(self, media_id: int) -> None:
        if self._items.pop(media_id, None) is not None:
            self._index = None

    def __len__(self) -> int:
        return len(self._items)

    def media_ids(self) -> list[int]:
        return list(self._items)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The items' keypoints, each descriptor once, and for an inverted file its trained
        cells and each descriptor's cell: opening it then costs neither training nor assigning
        every descriptor to a cell, only copying the codes into the cells' lists (format 1
        also held faiss's serialised index, the descriptors a second time)."""
        index = self._built() if self._items else None
        ivf = index if isinstance(index, faiss.IndexBinaryIVF) else None
        items = list(self._items.values())
        codes = np.concatenate([np.zeros((0, DESCRIPTOR_BYTES), np.uint8)] + [d for _, d in items])
        return {
            "media": np.fromiter(self._items, np.int64, len(items)),
            "counts": np.array([len(d) for _, d in items], np.int64),
            "frame": np.concatenate([np.zeros(0, np.uint16)] + [f for f, _ in items]),
            "descriptors": codes,
            "cells": np.zeros((0, DESCRIPTOR_BYTES), np.uint8) if ivf is None else _centroids(ivf),
            **_lists(ivf, len(codes)),
            "trained_for": np.array([0 if ivf is None else self._ivf.ntotal_trained], np.int64),
        }

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            media, counts, frame, codes, cells, sizes, rows, trained = (
                arrays[k]
                for k in (
                    "media",
                    "counts",
                    "frame",
                    "descriptors",
                    "cells",
                    "list_sizes",
                    "list_rows",
                    "trained_for",
                )
            )
        except KeyError as exc:
            raise ValueError(f"no {exc} in a saved orb index") from None
        # Plain views of the memory maps: np.memmap's slicing costs ~20 us a slice in Python.
        media, counts, frame, codes, cells, sizes, rows, trained = map(
            np.asarray, (media, counts, frame, codes, cells, sizes, rows, trained)
        )
        ends = np.cumsum(counts)
        if (
            media.ndim != 1
            or counts.shape != media.shape
            or (counts < 0).any()
            or codes.shape != (int(ends[-1]) if len(ends) else 0, DESCRIPTOR_BYTES)
            or frame.shape != codes.shape[:1]
            or len(np.unique(media)) != len(media)
            or trained.shape != (1,)
            or cells.ndim != 2
            or cells.shape[1] != DESCRIPTOR_BYTES
            or sizes.shape != (len(cells),)
            or rows.shape != ((len(codes),) if len(cells) else (0,))
            or (len(cells) and int(sizes.sum()) != len(codes))
            or (len(rows) and (rows.min() < 0 or rows.max() >= len(codes)))
        ):
            raise ValueError("inconsistent saved orb index")
        starts = ends - counts
        self._items = {
            int(m): (frame[a:b], codes[a:b])
            for m, a, b in zip(media.tolist(), starts.tolist(), ends.tolist(), strict=True)
        }
        self._media = np.repeat(np.asarray(media, np.int64), counts)
        self._frame = np.asarray(frame, np.int64)
        self._index = self._ivf = None
        if len(cells):
            bits = DESCRIPTOR_BYTES * 8
            quantizer = faiss.IndexBinaryFlat(bits)
            quantizer.add(np.ascontiguousarray(cells))
            index = faiss.IndexBinaryIVF(quantizer, bits, len(cells))
            index.is_trained = True
            _fill(index, np.asarray(codes), np.asarray(sizes), np.asarray(rows))
            index.nprobe = NPROBE
            self._index = index
            self._ivf = _Trained(index, quantizer, int(trained[0]))

    def candidates(self, query: LocalFeatures, limit: int) -> list[int]:
        """Media ids with the most votes, upright or mirrored, best first (at most ``limit``)."""
        if not self._items or not len(query.descriptors) or limit <= 0:
            return []
        scores: dict[int, float] = {}
        for side in (query, query.mirrored):
            if side is None or not len(side.descriptors):
                continue
            for media_id, score in self._votes(side).items():
                scores[media_id] = max(score, scores.get(media_id, 0.0))
        return sorted(scores, key=lambda m: (-scores[m], m))[:limit]

    def _votes(self, query: LocalFeatures) -> dict[int, float]:
        """Per media item: the votes of its best picture for each query picture, summed."""
        index = self._built()
        distances, rows = self._nearest(index, np.ascontiguousarray(query.descriptors))
        k = rows.shape[1]
        hit = (rows >= 0) & (distances <= VOTE_RADIUS)
        q_frame = np.repeat(query.frame.astype(np.int64), k).reshape(rows.shape)[hit]
        rows = rows[hit]
        if not len(rows):
            return {}
        media, frame = self._media[rows], self._frame[rows]
        # Votes per (query picture, stored picture), counting each query keypoint once.
        q_key = np.flatnonzero(hit) // k
        triples = np.unique(np.stack([q_frame, media, frame, q_key]), axis=1)
        pictures, votes = np.unique(triples[:3], axis=1, return_counts=True)
        # Best stored picture per (query picture, media item), then summed per media item.
        order = np.lexsort((-votes, pictures[1], pictures[0]))
        pairs = pictures[:2, order]
        first = np.concatenate(([True], (np.diff(pairs, axis=1) != 0).any(axis=0)))
        ids, totals = pairs[1, first], votes[order][first]
        unique, inverse = np.unique(ids, return_inverse=True)
        score = np.bincount(inverse, weights=totals)
        return dict(zip(unique.tolist(), score.tolist(), strict=True))

    def _nearest(self, index: faiss.IndexBinary, codes: np.ndarray) -> tuple[np.ndarray, ...]:
        """(distances, rows) of the NEIGHBOURS nearest stored descriptors of each query one,
        ties going to the earliest row, as in an exact scan: SEARCHED are looked up and the
        nearest kept, so that the order an inverted file visits its cells in does not decide
        which of several equally near descriptors vote (Hamming distances tie often)."""
        distances, rows = index.search(codes, min(SEARCHED, index.ntotal))
        if rows.shape[1] <= NEIGHBOURS:
            return distances, rows
        order = np.lexsort((np.where(rows < 0, np.iinfo(np.int64).max, rows), distances))
        keep = order[:, :NEIGHBOURS]
        return np.take_along_axis(distances, keep, 1), np.take_along_axis(rows, keep, 1)

    def _built(self) -> faiss.IndexBinary:
        if self._index is not None:
            return self._index
        ids = list(self._items)
        items = [self._items[i] for i in ids]
        codes = np.ascontiguousarray(np.concatenate([d for _, d in items]))
        counts = [len(d) for _, d in items]
        self._media = np.repeat(np.asarray(ids, dtype=np.int64), counts)
        self._frame = np.concatenate([f.astype(np.int64) for f, _ in items])
        if len(codes) <= FLAT_LIMIT:
            index = faiss.IndexBinaryFlat(DESCRIPTOR_BYTES * 8)
        else:
            index = self._inverted(codes)
            index.reset()  # keeps the trained cells, drops the descriptors of the last build
            index.nprobe = NPROBE
        index.add(codes)
        self._index = index
        return index

    def _inverted(self, codes: np.ndarray) -> faiss.IndexBinaryIVF:
        """The inverted file, trained again only when the library has grown or shrunk 4x.

        Training (k-means of the cells) is what costs: ~10 s at 1M descriptors, against ~1 s
        to assign them all to trained cells.  Cells trained on a library of a quarter or
        four times the size still split it well enough (the probes are what keep recall).
        """
        trained = self._ivf
        if trained is not None and trained.ntotal_trained / 4 <= len(codes) <= 4 * (
            trained.ntotal_trained
        ):
            return trained.index
        bits = DESCRIPTOR_BYTES * 8
        cells = _cells(len(codes))
        quantizer = faiss.IndexBinaryFlat(bits)
        index = faiss.IndexBinaryIVF(quantizer, bits, cells)
        sample = np.random.default_rng(0).choice(
            len(codes), min(len(codes), cells * TRAIN_PER_CELL), replace=False
        )
        index.train(codes[np.sort(sample)])
        self._ivf = _Trained(index, quantizer, len(codes))
        return index


@dataclass(frozen=True)
class _Trained:
    index: faiss.IndexBinaryIVF
    quantizer: faiss.IndexBinary  # the IVF holds it by pointer only: keep it alive
    ntotal_trained: int  # descriptors in the library it was trained for


def _centroids(ivf: faiss.IndexBinaryIVF) -> np.ndarray:
    """The trained cells' centres (the quantizer is a flat index of them)."""
    quantizer = faiss.downcast_IndexBinary(ivf.quantizer)
    return faiss.vector_to_array(quantizer.xb).reshape(-1, DESCRIPTOR_BYTES)


def _lists(ivf: faiss.IndexBinaryIVF | None, count: int) -> dict[str, np.ndarray]:
    """The inverted lists as saved: each cell's size and its rows (faiss ids are rows: the
    descriptors were added in row order), cell after cell."""
    if ivf is None:
        return {"list_sizes": np.zeros(0, np.int64), "list_rows": np.zeros(0, np.int32)}
    lists = ivf.invlists
    sizes = np.array([lists.list_size(n) for n in range(ivf.nlist)], np.int64)
    rows = np.zeros(int(sizes.sum()), np.int32)
    first = 0
    for number in np.flatnonzero(sizes).tolist():
        size = int(sizes[number])
        rows[first : first + size] = faiss.rev_swig_ptr(lists.get_ids(number), size)
        first += size
    if first != count:
        raise ValueError("the inverted file does not hold every descriptor")
    return {"list_sizes": sizes, "list_rows": rows}


def _fill(
    index: faiss.IndexBinaryIVF, codes: np.ndarray, sizes: np.ndarray, rows: np.ndarray
) -> None:
    """Put each descriptor (its id: its row) straight into its saved cell, without searching
    the quantizer or sorting: one copy of the codes."""
    ids = rows.astype(np.int64)
    # One gather of the codes into cell order (np.take of 8-byte words: ~2x a void gather).
    grouped = np.take(np.ascontiguousarray(codes).view(np.uint64), ids, axis=0)
    first = 0
    for number in np.flatnonzero(sizes).tolist():
        size = int(sizes[number])
        index.invlists.add_entries(
            number,
            size,
            faiss.swig_ptr(ids[first:]),
            faiss.swig_ptr(grouped[first:].view(np.uint8)),
        )
        first += size
    index.ntotal = len(codes)


def _cells(count: int) -> int:
    """Inverted-file cells for ``count`` descriptors: about sqrt(count).

    faiss suggests 4-16 sqrt(n) for float vectors; binary k-means on 256 bits costs ~10x more
    per cell, and sqrt(n) cells already give the measured recall at ``NPROBE``.
    """
    return max(1, int(np.sqrt(count)))
