"""PDQ frame hashes as a signal plug-in ("pdq"): the signal oldclip has always had.

Its data is a ``Fingerprint``'s own columns (hashes, times, variants, with the kind that says
whether time means anything), so the fingerprints stored before signals were plug-ins are this
signal's data as they are: the library keeps them in the ``fingerprints`` table and bundles
carry them as before.  ``dumps``/``loads`` exist for the contract's sake (one blob per item,
as every other signal stores) and for tools that move a signal's data on its own.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .signal import Evidence
from .types import HASH_BYTES, PDQ, Fingerprint

if TYPE_CHECKING:
    from .decode import Header
    from .index import HashIndex
    from .settings import Limits, MatchSettings

_MAGIC = b"OCPDQ1"
_HEAD = struct.Struct("<6sBfIII")  # magic, photo?, duration, width, height, frames
_TIMES = np.dtype("<f4")


class PdqSignal:
    name = PDQ
    version = 1
    picture = True

    def extractor(self, source: Path | bytes, name: str, header: Header, limits: Limits):
        from .hashing import PdqExtractor

        return PdqExtractor(header, name)

    def dumps(self, data: Fingerprint) -> bytes:
        head = _HEAD.pack(
            _MAGIC, data.kind == "photo", data.duration, data.width, data.height, len(data)
        )
        times = np.ascontiguousarray(data.times, dtype=_TIMES)
        return head + data.hashes.tobytes() + times.tobytes() + data.variants.tobytes()

    def loads(self, blob: bytes) -> Fingerprint:
        if len(blob) < _HEAD.size:
            raise ValueError("not PDQ data: too short")
        magic, photo, duration, width, height, n = _HEAD.unpack_from(blob)
        if magic != _MAGIC or len(blob) != _HEAD.size + n * (HASH_BYTES + 5):
            raise ValueError("not PDQ data: wrong header or length")
        body = np.frombuffer(blob, dtype=np.uint8, offset=_HEAD.size)
        times = np.frombuffer(body[n * HASH_BYTES : n * (HASH_BYTES + 4)].tobytes(), _TIMES)
        if n and not (times.min() >= 0 and np.isfinite(times).all()):
            raise ValueError("not PDQ data: a time is not a finite number >= 0")
        return Fingerprint(
            kind="photo" if photo else "video",
            sha256="",
            size=0,
            duration=duration,
            width=width,
            height=height,
            hashes=body[: n * HASH_BYTES].copy(),
            times=times,
            variants=body[n * (HASH_BYTES + 4) :].copy(),
        )

    def new_index(self) -> HashIndex:
        from .index import HashIndex

        return HashIndex()

    def compare(
        self, query: Fingerprint, reference: Fingerprint, settings: MatchSettings
    ) -> Evidence | None:
        from .match import verify

        found = verify(query, reference, 0, settings)
        if found is None:
            return None
        return Evidence(
            signal=PDQ,
            score=found.score,
            query_start=found.query_start,
            query_end=found.query_end,
            ref_start=found.ref_start,
            ref_end=found.ref_end,
            # The closest pair lies on the fitted line (the span's ends may be clipped at 0).
            offset=found.best_pair[1] - found.best_pair[0],
            units=found.frames_matched,
            mirrored=found.mirrored,
            best_pair=found.best_pair,
        )


PDQ_SIGNAL = PdqSignal()
