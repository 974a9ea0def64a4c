"""Which stored items share enough ORB descriptors with a query to be worth verifying.

Every stored keypoint descriptor goes in one faiss binary index.  Each query descriptor looks
up its nearest stored ones; a neighbour within ``VOTE_RADIUS`` bits votes for the picture it
came from.  A repost shares many descriptors with a few pictures of its source, while chance
neighbours scatter over the whole library, so an item ranks by the votes of its best picture
for each query picture, summed over the query's pictures.

Items added go in the index at its next search (libraries change in batches, between
searches).  The index is saved beside the library (``to_arrays``) as faiss's own serialised
index (each descriptor once, in its cell, with its row: 42 bytes a descriptor with its picture
index), which a command reads where it lies in the memory-mapped file (faiss's zero-copy
reader): no training, no assigning, no copy (format 2 copied every descriptor into the cells'
lists on opening, ~1 GB at 1M frame hashes, whose library holds ~25M descriptors; a 20 s clip
stores ~5,000).  A change to a built or opened inverted file leaves it as it is: an added
item's descriptors go in a second inverted file sharing its cells (assigned to them: its own
~5,000 descriptors), a removed item's rows are dropped from the neighbours found, and both are
merged into one index when the library is saved, by copying each cell's entries (renumbered,
not assigned again).  Until then, a change rebuilt the whole index at its next search: at 1M
frame hashes, ~25M descriptors assigned to their cells again in every process holding it.
The cells are trained again only when the library has grown or shrunk 4x since.

Each side of a query (its upright descriptors, its mirrored ones) is one search (``votes``, on
``SEARCH_THREADS`` threads): ``fingerprint.match`` looks the mirrored side up only for the
pictures the upright one leaves unexplained (an off-centre crop at 25M descriptors: 1.19 -> 0.58
CPU s), ``candidates`` both, ranked as one search of both was.  Up to ``FLAT_LIMIT`` descriptors
it is an exact scan; above, an inverted file of cells of ~CELL_SIZE descriptors whatever the
library's size (a probe costs the same at any size), centred on descriptors sampled from the
library (k-means of 25,000 cells would take hours) and found by a small inverted file of their
own (sqrt(cells) k-means cells of the centres, CENTRE_PROBES of them probed), searched with
``NPROBE`` probes.  Each probed cell is scanned once for all the descriptors probing it
(faiss's ``per_invlist_search``; a query of fewer descriptors than cells padded:
``fingerprint.local_search``):
the probed cells are the large ones, and read once per descriptor an off-centre crop's search
at 25M took 1.65 CPU s a side, 0.67 cell by cell, the same votes.  ``SEARCHED``
neighbours are looked up and the NEIGHBOURS nearest kept, ties going to the earliest row as in
the exact scan: with only NEIGHBOURS looked up, the order the cells are visited in decided which
of several equally near descriptors voted (Hamming distances tie often).

Measured by ``bench/local_index.py`` at 1M descriptors of real frames (26 queries: shared clips
and edits of them, ~20 s, looked up upright and mirrored; one search thread on a 2-core machine
loaded ~7), share of the exact scan's top 25 kept, queries keeping their exact best, CPU s per
query clip: exact scan 20.5 s; the former layout (sqrt(n) k-means cells, 64 probes) 0.989,
26/26, 0.78 s, 0.58 s with ``per_invlist_search``, built in 5-10 s.  Cells of 1,000 with 8 of
the centres' cells probed: 16/32/64 probes 0.915/0.928/0.935, 25/26, 0.20/0.32/0.58 s; with 32
probed (all 31 at 1M), 16/32 probes 0.935/0.966, 26/26, 0.21/0.34 s (saved, opened in 0.01
CPU s, 42 bytes a descriptor in the file, built in 9 s).  Cells of 500, 16 of the
centres' cells probed: 32/48/64 probes 0.946 (25/26)/0.949/0.955 (26/26), 0.21/0.29/0.37 s;
cells of 250, 64 probes: 0.949, 26/26, 0.30 s.  The centres must be found well: probing fewer
of their cells lost more than fewer probes.  At 5M descriptors (25 queries with a stored
source, counted as kept when their source is among the 25, an exact scan being too slow): 64
probes of sqrt(n) cells 23/25 kept, 23/25 first, 1.33 CPU s a clip, built in 25 s; cells of 500
(32 probes, 8 of the centres' cells) and of 250 (64 probes, 16) the same 23/25, 0.56 s and 0.77
s, built in 15-27 s.  At 25M (bench descriptors, 10,000 query descriptors as a 20 s clip's
upright and mirrored): 64 probes of 5,000 sampled-centre cells 9.4 CPU s, 7.6 s with
``per_invlist_search`` (k-means cells: ~11 s in a `check`), assigned in 146 s (k-means of 5,000
cells takes ~10 min more); cells of 1,000 with 8 of the centres' cells probed 1.0 s with 16
probes, 1.7 s with 32 (keeping 0.92 and 0.93 of the 4 nearest that 64 probes of sqrt(n) cells
find), built in 74 s; with 32 of the centres' cells probed 1.9 s with 32 probes, 1.1 s with
16, built in 278 s.  bench/accuracy.py with 5M ORB distractors: verdicts unchanged (recall
0.980, precision 1.000, 1 match lost, 0 wrong) with 32 probes and with 16 (every answer, plain
and padded, the same for the 475 queries), its padded library built in 94 s instead of 208 s.
16 probes it is: in `oldclip check` of an off-centre crop at 1M hashes and 25M descriptors
(``bench/index.py --saved-only --query``), the search took 1.2 CPU s against 2.2 with 32
(the whole check 3.0-3.4 against 4.1-4.4).  So the search at 25M costs ~8x less (9.4 s to
1.2 s), not yet what a 2 s `check` needs: what is left is reading ~16,000 descriptors from
memory per query descriptor, each probe in a cell of its own.

Earlier (on 7 to 26 queries at 1M): binary HNSW (M 16, efSearch 128) 0.943, 184 bytes a
descriptor and 506 s to build; cells of ~1,000 found by a binary HNSW graph, 16-64 probes
0.943-0.982 at 0.57-1.73 s (the graph costs more than the cells); looking up every 2nd query
descriptor 0.786, every 3rd 0.703 (one query losing its best): a query picture's votes are
few already.  One clip (5,000 descriptors) added to a saved index of 5M descriptors, then a
search (``bench/orb_add_one.py``, 5,000 query descriptors, sqrt(n) cells): 17.4 CPU s when a
change rebuilt the index, 0.94 s now (0.85 s without the change); saving the merged index 1.7
s.  As shipped (cells of 1,000): 0.63 s (0.55 s without the change), saved again in 1.6 s;
at 1M 0.26 s (0.23 s), saved again in 0.5 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from .local_build import cells_of, filled, live_rows, serialised
from .local_features import DESCRIPTOR_BYTES, LocalFeatures
from .local_search import search
from .signal import ranked

VOTE_RADIUS = 56  # bits: a stored descriptor this close to a query descriptor votes
NEIGHBOURS = 4  # stored descriptors that may vote per query descriptor
SEARCHED = 16  # stored descriptors looked up per query descriptor, the NEIGHBOURS nearest kept
FLAT_LIMIT = 50_000  # descriptors up to which the index scans them all
NPROBE = 16  # inverted-file cells visited per query descriptor above FLAT_LIMIT
CELL_SIZE = 1000  # stored descriptors a cell holds on average, whatever the library's size
CENTRE_PROBES = 32  # cells of the centres probed to find a descriptor's nearest centres
ROWS_CHECKED = 1 << 19  # ids of an opened index checked at a time (4 MB: in cache)
# faiss threads of one search (a query clip's ~10,000 descriptors, upright and mirrored).  One:
# on the 2-core machine measured, shared with other work (load ~4), two threads took 55% more
# CPU (5.8 against 3.7 s a clip at 1M descriptors, OpenMP's waiting threads spin) and more wall
# time too (16-17 s against 12-13 s); an idle machine may differ (unmeasured).
SEARCH_THREADS = 1


class LocalIndex:
    """The candidate finder of the "orb" signal (see fingerprint.signal.SignalIndex)."""

    # A saved index of another format is rebuilt: every parameter that shapes it is in here
    # (the probes are set on the index once opened: changing them rebuilds nothing).
    format = f"orb-4 flat<={FLAT_LIMIT} ivf cells of {CELL_SIZE} sampled, found by sqrt cells"

    def __init__(self) -> None:
        # The indexed rows: ``_index`` (built, or opened from a saved file) holds rows 0 up to
        # its size, ``_extra`` (items indexed since, in the same cells) the rest.  Item
        # position ``p`` is media ``_ids[p]``, rows ``_starts[p]`` up to the next; a removed
        # item stays in the cells until the next save, masked (``_live``).
        self._index: faiss.IndexBinary | None = None
        self._extra: faiss.IndexBinaryIVF | None = None
        self._ids = np.empty(0, np.int64)
        self._starts = np.empty(0, np.int64)
        self._frame = np.empty(0, np.uint16)  # each row's picture index in its item
        self._live = np.empty(0, bool)
        self._where: dict[int, int] = {}  # media id -> position of its live item
        # Added, not indexed yet (the picture index and descriptor of each stored keypoint):
        # libraries change in batches, between searches.
        self._pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._ivf: _Trained | None = None
        self._saved: dict[str, np.ndarray] | None = None  # the opened file's, while unchanged

    def add(self, media_id: int, data: LocalFeatures) -> None:
        self.remove(media_id)
        self._pending[media_id] = (data.frame, data.descriptors)  # upright only, as stored
        self._saved = None

    def remove(self, media_id: int) -> None:
        if self._pending.pop(media_id, None) is not None:
            return
        position = self._where.pop(media_id, None)
        if position is not None:
            self._live[position] = False
            self._saved = None

    def __len__(self) -> int:
        return len(self._where) + len(self._pending)

    def __contains__(self, media_id: int) -> bool:
        return media_id in self._where or media_id in self._pending

    def media_ids(self) -> list[int]:
        return list(self._where) + list(self._pending)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Each item's picture index per descriptor, and faiss's serialised index, which holds
        each descriptor once (in its cell, for an inverted file): opening it is reading it in
        place (``load_arrays``), with neither training, assigning nor copying.  Items added or
        removed since it was built or opened are merged in: cells copied, not assigned again."""
        if self._saved is not None:
            return dict(self._saved)  # opened and unchanged: the file as it was
        index = self._built()
        if self._extra is not None or not self._live.all():
            ivf = isinstance(index, faiss.IndexBinaryIVF)
            live = self._live_count()
            fits = ivf and live > FLAT_LIMIT and self._fits(live)
            index = self._compacted() if fits else self._rebuilt()
        ivf = index if isinstance(index, faiss.IndexBinaryIVF) else None
        return {
            "media": self._ids,
            "counts": self._counts(),
            "frame": self._frame.astype(np.uint16),
            "faiss": serialised(index),
            "trained_for": np.array([0 if ivf is None else self._ivf.ntotal_trained], np.int64),
        }

    def load_arrays(self, arrays: dict[str, np.ndarray], checked: bool = False) -> None:
        """Open the saved index in place; ``checked``: its file passed these checks before
        (``index_file.Opened``), so the pass over every row id (``_rows_sound``) is skipped."""
        try:
            media, counts, frame, blob, trained = (
                np.asarray(arrays[k]) for k in ("media", "counts", "frame", "faiss", "trained_for")
            )
        except KeyError as exc:
            raise ValueError(f"no {exc} in a saved orb index") from None
        if (
            media.ndim != 1
            or counts.shape != media.shape
            or (counts < 0).any()
            or frame.shape != (int(counts.sum()),)
            or len(np.unique(media)) != len(media)
            or trained.shape != (1,)
            or blob.ndim != 1
            or blob.dtype != np.uint8
        ):
            raise ValueError("inconsistent saved orb index")
        index = _read(blob)
        if (
            index.d != DESCRIPTOR_BYTES * 8
            or index.ntotal != len(frame)
            or not (checked or _rows_sound(index, len(frame)))
        ):
            raise ValueError("the saved orb index does not hold the saved descriptors")
        self._rows(media.astype(np.int64), counts, frame)
        self._index, self._extra, self._ivf, self._pending = index, None, None, {}
        self._saved = dict(arrays)
        if isinstance(index, faiss.IndexBinaryIVF):
            _searching(index)
            self._ivf = _Trained(index, index.quantizer, int(trained[0]))

    def candidates(self, query: LocalFeatures, limit: int) -> list[int]:
        """Media ids with the most votes, upright or mirrored, best first (at most ``limit``).

        Both sides of a fresh query are looked up (``fingerprint.match`` looks the mirrored
        side up only for the pictures the upright one leaves unexplained: ``votes``)."""
        if limit <= 0:
            return []
        sides = [s for s in (query, query.mirrored) if s is not None]
        return ranked([self.votes(side) for side in sides], limit)

    def votes(self, query: LocalFeatures) -> dict[int, float]:
        """Media id -> the votes of its best picture for each query picture, summed: the
        query's own descriptors only (not its ``mirrored`` side).  At ~2,500-5,000
        descriptors a side for a 20 s clip, a side's search is the largest part of a
        `check` at scale."""
        if not len(self) or not len(query.descriptors):
            return {}
        self._built()
        if not len(self._where):
            return {}
        distances, rows = self._nearest(np.ascontiguousarray(query.descriptors))
        return dict(self._votes(query, distances, rows))

    def _votes(self, query: LocalFeatures, distances: np.ndarray, rows: np.ndarray):
        """Per media item: (id, the votes of its best picture for each query picture, summed)."""
        k = rows.shape[1]
        hit = (rows >= 0) & (distances <= VOTE_RADIUS)
        q_frame = np.repeat(query.frame.astype(np.int64), k).reshape(rows.shape)[hit]
        rows = rows[hit]
        if not len(rows):
            return []
        media = self._ids[self._positions(rows)]
        frame = self._frame[rows].astype(np.int64)
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
        return zip(unique.tolist(), score.tolist(), strict=True)

    def _nearest(self, codes: np.ndarray) -> tuple[np.ndarray, ...]:
        """(distances, rows) of the NEIGHBOURS nearest live stored descriptors of each query
        one, ties going to the earliest row, as in an exact scan: SEARCHED are looked up (in
        each part) and the nearest kept, so that the order an inverted file visits its cells in
        does not decide which of several equally near descriptors vote (Hamming distances tie
        often).  Removed items' rows are dropped before."""
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            found = [
                search(part, codes, min(SEARCHED, part.ntotal), NEIGHBOURS)
                for part in (self._index, self._extra)
                if part is not None and part.ntotal
            ]
        finally:
            faiss.omp_set_num_threads(threads)
        distances = np.concatenate([d for d, _ in found], axis=1)
        rows = np.concatenate([r for _, r in found], axis=1)
        if not self._live.all():
            dead = rows >= 0
            dead[dead] = ~self._live[self._positions(rows[dead])]
            rows[dead] = -1
        unfound = rows < 0
        distances[unfound] = np.iinfo(distances.dtype).max
        if rows.shape[1] <= NEIGHBOURS:
            return distances, rows
        order = np.lexsort((np.where(unfound, np.iinfo(np.int64).max, rows), distances))
        keep = order[:, :NEIGHBOURS]
        return np.take_along_axis(distances, keep, 1), np.take_along_axis(rows, keep, 1)

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        """The item position of each row."""
        return np.searchsorted(self._starts, rows, side="right") - 1

    def _live_count(self) -> int:
        """Descriptors of the indexed live items."""
        return int(self._counts()[self._live].sum())

    def _counts(self) -> np.ndarray:
        return np.diff(np.append(self._starts, len(self._frame)))

    def _rows(self, ids: np.ndarray, counts: np.ndarray, frame: np.ndarray) -> None:
        """Set the row tables to these live items."""
        self._ids, self._frame = ids, frame
        self._starts = np.cumsum(counts) - counts
        self._live = np.ones(len(ids), bool)
        self._where = {int(m): p for p, m in enumerate(ids.tolist())}

    def _built(self) -> faiss.IndexBinary:
        """The index with every pending item in it.  Into an inverted file whose cells still
        suit the library they go in ``_extra``, assigned to the same cells: one clip added to
        a library of 25M descriptors costs its own ~5,000, not assigning all of them again."""
        if self._index is not None and not self._pending:
            return self._index
        pending = sum(len(d) for _, d in self._pending.values())
        live = self._live_count() + pending
        if self._index is None or live <= FLAT_LIMIT or not self._fits(live):
            return self._rebuilt()
        if self._extra is None:
            self._extra = _sharing_cells(self._index)
        ids = np.fromiter(self._pending, np.int64, len(self._pending))
        frames, codes = zip(*self._pending.values(), strict=True)
        counts = np.array([len(d) for d in codes], np.int64)
        rows = np.arange(len(self._frame), len(self._frame) + pending, dtype=np.int64)
        self._extra.add_with_ids(np.ascontiguousarray(np.concatenate(codes)), rows)
        first = len(self._ids)
        self._ids = np.append(self._ids, ids)
        self._starts = np.append(self._starts, len(self._frame) + np.cumsum(counts) - counts)
        self._frame = np.concatenate([self._frame, *frames])
        self._live = np.append(self._live, np.ones(len(ids), bool))
        self._where.update({int(m): first + n for n, m in enumerate(ids.tolist())})
        self._pending = {}
        return self._index

    def _fits(self, live: int) -> bool:
        """Whether the trained cells suit a library of ``live`` descriptors: one of a quarter
        or four times the size they were trained for is still split well enough (the probes
        are what keep recall)."""
        trained = self._ivf
        return trained is not None and trained.ntotal_trained / 4 <= live <= (
            4 * trained.ntotal_trained
        )

    def _rebuilt(self) -> faiss.IndexBinary:
        """Every live item indexed anew, in one index: flat up to FLAT_LIMIT descriptors,
        else an inverted file (its cells trained again only when they no longer fit).

        The descriptors are copied into one array as each pending item is let go, and the
        indexed ones straight to their new rows: memory holds them about twice (array and
        cells), not once more per step (at 25M descriptors of 800 MB, a rebuild from the
        database peaked at 11.4 GB before, ``local_build``)."""
        keep = np.repeat(self._live, self._counts())
        kept = int(keep.sum())
        ids = np.concatenate([self._ids[self._live], list(self._pending)]).astype(np.int64)
        sizes = [len(d) for _, d in self._pending.values()]
        counts = np.concatenate([self._counts()[self._live], sizes]).astype(np.int64)
        codes = np.empty((kept + sum(sizes), DESCRIPTOR_BYTES), np.uint8)
        frame = np.empty(len(codes), np.uint16)
        live_rows([self._index, self._extra], keep, codes[:kept])
        frame[:kept] = self._frame[keep]
        for media_id in list(self._pending):  # in order; each item's arrays freed once copied
            frames, descriptors = self._pending.pop(media_id)
            codes[kept : kept + len(frames)], frame[kept : kept + len(frames)] = descriptors, frames
            kept += len(frames)
        self._rows(ids, counts, frame)
        self._index, self._extra, self._saved = None, None, None  # the old cells freed first
        if len(codes) <= FLAT_LIMIT:
            index = faiss.IndexBinaryFlat(DESCRIPTOR_BYTES * 8)
            index.add(codes)
        else:
            index = self._inverted(codes)
            filled(index, codes)
        self._index = index
        return index

    def _inverted(self, codes: np.ndarray) -> faiss.IndexBinaryIVF:
        """An empty inverted file, its cells made again only when they no longer fit.

        A cell holds ~CELL_SIZE descriptors whatever the library's size, so a probe costs the
        same at any size; their centres are descriptors sampled from the library (k-means of
        50,000 cells would take hours), found by an inverted file of sqrt(cells) k-means cells
        of the centres, CENTRE_PROBES of them probed: a descriptor is compared with ~2,000
        centres instead of all of them."""
        if self._fits(len(codes)):
            self._ivf = _trained_like(self._ivf)
            return _searching(self._ivf.index)
        bits = DESCRIPTOR_BYTES * 8
        cells = _cells(len(codes))
        rng = np.random.default_rng(0)
        centres = codes[np.sort(rng.choice(len(codes), cells, replace=False))]
        top = faiss.IndexBinaryFlat(bits)
        quantizer = faiss.IndexBinaryIVF(top, bits, max(1, int(np.sqrt(cells))))
        quantizer.cp.min_points_per_centroid = 1  # few centres in a small library: no warning
        quantizer.train(centres)
        quantizer.add(centres)
        top.this.disown()  # the centres' inverted file owns its own quantizer from now on
        quantizer.own_fields = True
        index = faiss.IndexBinaryIVF(quantizer, bits, cells)
        index.is_trained = True
        self._ivf = _Trained(index, quantizer, len(codes))
        return _searching(index)

    def _compacted(self) -> faiss.IndexBinaryIVF:
        """The inverted file and ``_extra`` merged, removed items dropped: each cell's entries
        copied (the descriptors renumbered as rows of the live items), none assigned again."""
        keep = np.repeat(self._live, self._counts())
        renumbered = np.cumsum(keep) - 1
        self._ivf = trained = _trained_like(self._ivf)
        lists = trained.index.invlists
        for part in (self._index, self._extra):
            for number, ids, cell in cells_of(part) if part is not None else ():
                kept = keep[ids]
                rows = np.ascontiguousarray(renumbered[ids[kept]])
                codes = np.ascontiguousarray(cell[kept])
                lists.add_entries(number, len(rows), faiss.swig_ptr(rows), faiss.swig_ptr(codes))
        trained.index.ntotal = int(keep.sum())
        self._rows(self._ids[self._live], self._counts()[self._live], self._frame[keep])
        self._index, self._extra = _searching(trained.index), None
        return self._index


@dataclass(frozen=True)
class _Trained:
    index: faiss.IndexBinaryIVF
    quantizer: faiss.IndexBinary  # the IVF holds it by pointer only: keep it alive
    ntotal_trained: int  # descriptors in the library it was trained for


def _searching(index: faiss.IndexBinaryIVF) -> faiss.IndexBinaryIVF:
    """``index`` set to search with NPROBE probes, its centres found with CENTRE_PROBES."""
    index.nprobe = NPROBE
    quantizer = faiss.downcast_IndexBinary(index.quantizer)
    if isinstance(quantizer, faiss.IndexBinaryIVF):
        quantizer.nprobe = CENTRE_PROBES
    return index


def _sharing_cells(index: faiss.IndexBinaryIVF) -> faiss.IndexBinaryIVF:
    """An empty inverted file with the cells of ``index`` (its very quantizer)."""
    extra = faiss.IndexBinaryIVF(index.quantizer, index.d, index.nlist)
    extra.is_trained = True
    extra.cells_of = index  # it holds the quantizer by pointer only: keep its owner alive
    return _searching(extra)


def _read(blob: np.ndarray) -> faiss.IndexBinary:
    """faiss's index serialised in ``blob`` (a memory map of the saved file), read in place:
    its descriptors and inverted lists stay views of the file, so opening costs no copy and
    several processes share the page cache (``blob`` must outlive the index)."""
    if not len(blob):
        raise ValueError("no faiss index in a saved orb index")
    reader = faiss.ZeroCopyIOReader(faiss.swig_ptr(blob), len(blob))
    try:
        index = faiss.read_index_binary(reader, faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:
        raise ValueError(f"unreadable faiss index ({str(exc).strip().splitlines()[-1]})") from None
    if not isinstance(index, faiss.IndexBinaryFlat | faiss.IndexBinaryIVF):
        raise ValueError(f"unexpected faiss index {type(index).__name__}")
    index.blob = blob  # the memory the index reads from lives as long as the index
    return index


def _rows_sound(index: faiss.IndexBinary, count: int) -> bool:
    """Whether an opened inverted file's cells hold ``count`` descriptors, each id a row
    (0 up to ``count``): a search returns ids as rows, which index the picture table, so a
    file whose sums match but whose ids do not (written so, not damaged) would fail every
    `check` with an IndexError instead of being rebuilt.  One pass over the ids (8 bytes a
    descriptor, a fifth of what the checksum already read), the cells' ids copied together
    ``ROWS_CHECKED`` at a time and checked in one call: checked cell by cell, the 25,000
    cells of 25M descriptors took 0.18 CPU s of every `check`, then 0.09-0.12; now once per
    file (``load_arrays``'s ``checked``)."""
    if not isinstance(index, faiss.IndexBinaryIVF):
        return True  # a flat index's ids are its rows
    lists, buffer = index.invlists, np.empty(ROWS_CHECKED, np.int64)

    def sound(cells: list[np.ndarray], rows: int) -> bool:
        ids = cells[0] if len(cells) == 1 else np.concatenate(cells, out=buffer[:rows])
        # Read as unsigned, a negative id is above every row: one pass instead of min and max.
        return bool(ids.view(np.uint64).max() < count)

    cells: list[np.ndarray] = []
    rows = held = 0
    for number in range(index.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        if cells and rows + size > len(buffer):
            if not sound(cells, rows):
                return False
            cells, rows = [], 0
        cells.append(faiss.rev_swig_ptr(lists.get_ids(number), size))
        rows += size
        held += size
    return held == count and (not cells or sound(cells, rows))


def _trained_like(trained: _Trained) -> _Trained:
    """An empty inverted file with the cells of ``trained`` (to add descriptors to): its
    centres' index copied (not a view of a saved file, which is replaced when saved)."""
    bits = DESCRIPTOR_BYTES * 8
    quantizer = faiss.deserialize_index_binary(faiss.serialize_index_binary(trained.quantizer))
    index = faiss.IndexBinaryIVF(quantizer, bits, trained.index.nlist)
    index.is_trained = True
    return _Trained(index, quantizer, trained.ntotal_trained)


def _cells(count: int) -> int:
    """Inverted-file cells for ``count`` descriptors: one per CELL_SIZE."""
    return max(1, count // CELL_SIZE)
