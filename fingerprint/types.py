"""The values that cross fingerprint/'s boundary.

Kept free of any storage or I/O concern so that storage/, the CLI and the bot can all hold a
fingerprint or a match without importing the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from .errors import MediaError  # noqa: F401  (re-exported: fingerprint.types.MediaError)

HASH_BYTES = 32  # PDQ: 256 bits
ALGORITHM = "pdq-v1"
PDQ = "pdq"  # the signal whose data are a fingerprint's hashes, times and variants

# Which picture of a sampled frame a hash describes.  Frames are sampled densely (``Limits.
# sample_fps``), so that whatever the sampling phase of two copies, each frame of one lies close
# in time to a frame of the other: on handheld footage, frames 0.25 s apart are as different
# as unrelated pictures.  Every few frames is an *anchor* (``Limits.anchor_fps``), which is
# also hashed zoomed and close up, for cropped and vertical reposts.
VARIANT_FULL = 0  # anchor frame, the whole content box
VARIANT_ZOOM = 1  # anchor frame, centre 80%: a cropped or zoomed repost
VARIANT_MIRROR = 2  # any frame, flipped left-right
VARIANT_TURNED = 3  # photos: the other rotations and flips
VARIANT_CLOSE = 4  # anchor frame, a 9:16 centre cut of wide footage, else the centre 70%
VARIANT_DENSE = 5  # a frame between anchors, the whole content box
INDEXED_VARIANTS = (VARIANT_FULL, VARIANT_DENSE, VARIANT_ZOOM, VARIANT_CLOSE)
UPRIGHT_VARIANTS = (VARIANT_FULL, VARIANT_DENSE)
FLIPPED_VARIANTS = (VARIANT_MIRROR, VARIANT_TURNED)
QUERY_VARIANTS = UPRIGHT_VARIANTS + FLIPPED_VARIANTS


@dataclass
class Fingerprint:
    """The frame hashes of one media item, in time order.

    ``hashes`` is an (N, 32) uint8 array of PDQ hashes, ``times`` the second each frame was taken
    at, ``variants`` which picture of the frame was hashed (the VARIANT_* codes above).
    A photo is a fingerprint with one time, 0.0.

    These columns are the "pdq" signal's data (kept as they always were, so stored
    fingerprints and bundles of older libraries read unchanged); ``signals`` holds every other
    signal's data by name (see ``fingerprint.signal``), only those that had something to say.
    Plain picklable values, so a fingerprint crosses to and from worker processes.
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
    signals: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np  # here: `oldclip list` imports this module, and reads no hashes

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

    def signal_data(self, name: str) -> object | None:
        """The data of one signal: the fingerprint itself for "pdq" (its columns), else
        ``signals[name]`` (None when the signal had nothing to say or was not extracted)."""
        return self if name == PDQ else self.signals.get(name)


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
    signals: tuple[str, ...] = (PDQ,)  # the signals that agreed, picture signals first
    # Only the sound agrees: the picture evidence is absent although both sides have pictures
    # (music or a voice-over reused over other footage).  Never makes footage "old".
    sound_only: bool = False
