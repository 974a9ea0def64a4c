"""The sound signal's index: which stored items' sound a query's codes are found in.

Kept apart from ``fingerprint.audio`` (which extracts, stores and compares) because it is
the one part whose cost grows with the library: 16 bytes of memory per informative code
(about 8 a second of sound, so ~130 bytes a second), and measured here about 1 ms of CPU to
search 1.9 million codes (66 hours of sound) for a 6 s query, whatever order items come and
go in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import SoundPrint, checked
from .chromaprint import agreeing

MIN_VOTES = 2  # codes agreeing at one offset that make an item a candidate


class SoundIndex:
    """Inverted lookup of the informative codes of every item: sorted codes and their owners.

    ``candidates`` votes per (item, offset) with the codes within one bit of the query's, so
    an item wins by many codes agreeing at one alignment, not by sharing common codes.

    The service adds items one by one between queries, so the codes are kept in sorted
    segments that merge like a binary counter (a new segment merges into the one before it
    while it is at least half its size): adding a code costs O(log n) amortised, never a
    re-sort of the whole library.  Removed items are skipped until their segment next merges.
    """

    format = f"audio-1 votes>={MIN_VOTES}"  # a saved index of another format is rebuilt

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._fresh: dict[int, SoundPrint] = {}  # added since the last search
        self._ids: set[int] = set()
        self._removed: set[int] = set()  # ids whose codes still sit in a segment

    def add(self, media_id: int, data: object) -> None:
        data = checked(data)
        self.remove(media_id)
        if media_id in self._removed:  # its old codes must go before the new ones come
            self._segments = [_merged(self._segments, self._removed)] if self._segments else []
            self._removed.clear()
        self._fresh[media_id] = data
        self._ids.add(media_id)

    def remove(self, media_id: int) -> None:
        if media_id in self._ids:
            self._ids.discard(media_id)
            if self._fresh.pop(media_id, None) is None:
                self._removed.add(media_id)

    def __len__(self) -> int:
        return len(self._ids)

    def media_ids(self) -> list[int]:
        return sorted(self._ids)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The codes of every held item as one sorted segment (removed ones left out)."""
        segments = self._searchable()
        whole = _merged(segments, self._removed) if segments else _sorted(*_NOTHING)
        self._segments, self._removed = [whole], set()
        return {
            "media": np.fromiter(sorted(self._ids), np.int64, len(self._ids)),
            "codes": whole.codes,
            "owners": whole.owners,
            "positions": whole.positions,
        }

    def load_arrays(self, arrays: dict[str, np.ndarray], checked: bool = False) -> None:
        try:
            media, codes, owners, positions = (
                arrays[k] for k in ("media", "codes", "owners", "positions")
            )
        except KeyError as exc:
            raise ValueError(f"no {exc} in a saved sound index") from None
        if (
            codes.dtype != np.uint32
            or owners.shape != codes.shape
            or positions.shape != codes.shape
            or not (checked or _sound(media, codes, owners))
        ):
            raise ValueError("inconsistent saved sound index")
        self._ids = set(media.tolist())
        self._segments = [_Segment(codes, np.asarray(owners, np.int64), positions)]
        self._fresh, self._removed = {}, set()

    def candidates(self, query: object, limit: int) -> list[int]:
        query = checked(query)
        q_idx = np.flatnonzero(query.informative)
        keys, hits = [], []
        for segment in self._searchable():
            qi, hit = agreeing(query.codes[q_idx], segment.codes)
            owners = segment.owners[hit]
            # Votes per (item, offset in pairs of codes: an offset and its neighbour are one
            # bin); a stored code votes once per bin, however many query codes it is near.
            shift = (segment.positions[hit].astype(np.int64) - q_idx[qi]) // 2
            keys.append((owners << 21) + shift + (1 << 20))
            hits.append(hit + len(hits) * (1 << 40))  # stored codes of all segments distinct
        none = np.zeros(0, np.int64)
        key, hit = np.concatenate([none, *keys]), np.concatenate([none, *hits])
        if self._removed and len(key):
            keep = ~np.isin(key >> 21, np.fromiter(self._removed, np.int64))
            key, hit = key[keep], hit[keep]
        order = np.lexsort((hit, key))
        key, hit = key[order], hit[order]
        first = np.concatenate(([True], (key[1:] != key[:-1]) | (hit[1:] != hit[:-1])))[: len(key)]
        bins, votes = np.unique(key[first], return_counts=True)
        order = np.argsort(-votes, kind="stable")
        ranked: dict[int, None] = {}
        for media_id, count in zip(
            (bins[order] >> 21).tolist(), votes[order].tolist(), strict=True
        ):
            if count < MIN_VOTES or len(ranked) == limit:
                break
            ranked[media_id] = None
        return list(ranked)

    def _searchable(self) -> list[_Segment]:
        """The segments, with the items added since the last search as the newest one."""
        if self._fresh:
            self._segments.append(_segment(self._fresh))
            self._fresh = {}
            while len(self._segments) > 1 and 2 * len(self._segments[-1].codes) >= len(
                self._segments[-2].codes
            ):
                last = self._segments.pop()
                self._segments[-1] = _merged([self._segments[-1], last], self._removed)
        return self._segments


@dataclass(frozen=True)
class _Segment:
    codes: np.ndarray  # uint32, sorted
    owners: np.ndarray  # int64 media id of each code
    positions: np.ndarray  # int32 index of each code in its item's codes


_NOTHING = (np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.int32))


def _segment(items: dict[int, SoundPrint]) -> _Segment:
    kept = {media_id: np.flatnonzero(data.informative) for media_id, data in items.items()}
    return _sorted(
        np.concatenate([np.zeros(0, np.uint32)] + [d.codes[kept[i]] for i, d in items.items()]),
        np.repeat(np.fromiter(kept, np.int64, len(kept)), [len(k) for k in kept.values()]),
        np.concatenate([np.zeros(0, np.int32)] + [k.astype(np.int32) for k in kept.values()]),
    )


def _merged(segments: list[_Segment], removed: set[int]) -> _Segment:
    """One segment of all of ``segments``' codes but those of ``removed`` items."""
    owners = np.concatenate([s.owners for s in segments])
    keep = ~np.isin(owners, np.fromiter(removed, np.int64, len(removed)))
    return _sorted(
        np.concatenate([s.codes for s in segments])[keep],
        owners[keep],
        np.concatenate([s.positions for s in segments])[keep],
    )


def _sorted(codes_: np.ndarray, owners: np.ndarray, positions: np.ndarray) -> _Segment:
    order = np.argsort(codes_, kind="stable")  # timsort: sorted runs merge in linear time
    return _Segment(codes_[order], owners[order], positions[order])


def _sound(media: np.ndarray, codes: np.ndarray, owners: np.ndarray) -> bool:
    """Whether saved codes are sorted and each owned by a saved item: a pass over every code,
    made once per file (``SignalIndex.load_arrays``'s ``checked``)."""
    return not (np.diff(codes.astype(np.int64)) < 0).any() and bool(np.isin(owners, media).all())
