"""The values that cross fingerprint/'s boundary.

Kept free of any storage or I/O concern so that storage/, the CLI and the bot can all hold a
fingerprint or a match without importing the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HASH_BYTES = 32  # PDQ: 256 bits
ALGORITHM = "pdq-v1"

# Which picture of a sampled frame a hash describes.  Library media are indexed by their full and
# centre-crop hashes; a query searches with its full, mirrored and (photos) turned hashes.
VARIANT_FULL = 0
VARIANT_CENTRE = 1
VARIANT_MIRROR = 2
VARIANT_TURNED = 3
INDEXED_VARIANTS = (VARIANT_FULL, VARIANT_CENTRE)
QUERY_VARIANTS = (VARIANT_FULL, VARIANT_MIRROR, VARIANT_TURNED)


class MediaError(Exception):
    """The file cannot be fingerprinted: says which file and why, in words a person can act on."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass
class Fingerprint:
    """The frame hashes of one media item, in time order.

    ``hashes`` is an (N, 32) uint8 array of PDQ hashes, ``times`` the second each frame was taken
    at, ``variants`` which part of the frame was hashed (VARIANT_FULL or VARIANT_CENTRE).
    A photo is a fingerprint with one time, 0.0.
    """

    kind: str  # "video" or "photo"
    sha256: str
    size: int
    duration: float
    width: int
    height: int
    hashes: np.ndarray
    times: np.ndarray
    variants: np.ndarray
    algorithm: str = ALGORITHM

    def __post_init__(self) -> None:
        self.hashes = np.ascontiguousarray(self.hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        self.times = np.ascontiguousarray(self.times, dtype=np.float32).reshape(-1)
        self.variants = np.ascontiguousarray(self.variants, dtype=np.uint8).reshape(-1)
        if not (len(self.hashes) == len(self.times) == len(self.variants)):
            raise ValueError("hashes, times and variants must have one entry per frame")

    def __len__(self) -> int:
        return len(self.hashes)

    def select(self, variant: int) -> tuple[np.ndarray, np.ndarray]:
        """The hashes and times of one variant."""
        keep = self.variants == variant
        return self.hashes[keep], self.times[keep]


@dataclass(frozen=True)
class Match:
    """One candidate found for a query: which stored media, how sure, and which seconds agree."""

    media_id: int
    score: float  # in [0, 1]
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    frames_matched: int
    mirrored: bool = False
    # (query time, reference time) of the best-agreeing frame pair, for evidence pictures.
    best_pair: tuple[float, float] = field(default=(0.0, 0.0))
