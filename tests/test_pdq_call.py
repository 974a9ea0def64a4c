"""PdqHasher gives pdqhash.compute's hashes and qualities, byte for byte, on real pictures."""

from __future__ import annotations

import numpy as np
import pdqhash
from media import VIDEOS, read_frames, require_media
from PIL import Image

from fingerprint import pdq_call
from fingerprint.hashing import _square
from fingerprint.pdq_call import PdqHasher


def _reference(square: np.ndarray) -> tuple[bytes, int]:
    bits, quality = pdqhash.compute(np.repeat(square[:, :, None], 3, axis=2))
    return np.packbits(bits.astype(np.uint8)).tobytes(), quality


def _squares() -> list[np.ndarray]:
    """64x64 grey pictures of real footage, their mirrors, and flat and near-flat ones."""
    require_media()
    frames, _, _ = read_frames(VIDEOS / "pattern-hd-no-bar.mp4", end=2.0, scale=0.25)
    squares = []
    for rgb in frames[::6]:
        square = _square(np.asarray(Image.fromarray(rgb).convert("L")))
        squares += [square, square[:, ::-1]]
    squares.append(np.full((64, 64), 17, np.uint8))
    squares.append(np.tile(np.arange(64, dtype=np.uint8)[None], (64, 1)))
    return squares


def test_native_call_matches_pdqhash_compute():
    assert pdq_call._NATIVE is not None, "pdqhash no longer exports pdqHash256FromFloatLuma"
    hasher = PdqHasher()
    for square in _squares():
        packed, quality = hasher(square)
        assert (packed.tobytes(), quality) == _reference(square)


def test_fallback_matches_pdqhash_compute():
    hasher = PdqHasher()
    hasher.native = None  # a pdqhash build that does not export the function
    for square in _squares()[:6]:
        packed, quality = hasher(square)
        assert (packed.tobytes(), quality) == _reference(square)
