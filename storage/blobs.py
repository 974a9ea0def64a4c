"""Turn fingerprint arrays into BLOBs and back.

The byte layouts are part of the on-disk format, so they are pinned here (uint8 hashes,
little-endian float32 times, uint8 variants) rather than left to the machine's native order.
Decoded arrays are copies, so callers may modify them freely.
"""

from __future__ import annotations

import numpy as np

from fingerprint.types import HASH_BYTES

from .errors import StorageError

_TIMES_DTYPE = np.dtype("<f4")


def encode_hashes(hashes: np.ndarray) -> bytes:
    """(N, 32) uint8 -> N*32 bytes."""
    return np.ascontiguousarray(hashes, dtype=np.uint8).tobytes()


def encode_times(times: np.ndarray) -> bytes:
    """(N,) float -> N*4 bytes of little-endian float32."""
    return np.ascontiguousarray(times, dtype=_TIMES_DTYPE).tobytes()


def encode_variants(variants: np.ndarray) -> bytes:
    """(N,) uint8 -> N bytes."""
    return np.ascontiguousarray(variants, dtype=np.uint8).tobytes()


def decode_hashes(blob: bytes, frame_count: int, media_id: int) -> np.ndarray:
    """N*32 bytes -> (N, 32) uint8, refusing a blob whose length disagrees with frame_count."""
    _check_length(blob, frame_count * HASH_BYTES, "hashes", media_id)
    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, HASH_BYTES).copy()


def decode_times(blob: bytes, frame_count: int, media_id: int) -> np.ndarray:
    """N*4 little-endian bytes -> (N,) native float32."""
    _check_length(blob, frame_count * _TIMES_DTYPE.itemsize, "times", media_id)
    return np.frombuffer(blob, dtype=_TIMES_DTYPE).astype(np.float32)


def decode_variants(blob: bytes, frame_count: int, media_id: int) -> np.ndarray:
    """N bytes -> (N,) uint8."""
    _check_length(blob, frame_count, "variants", media_id)
    return np.frombuffer(blob, dtype=np.uint8).copy()


def _check_length(blob: bytes, expected: int, what: str, media_id: int) -> None:
    # A truncated blob would otherwise reshape into garbage hashes and match nothing, silently.
    if len(blob) != expected:
        raise StorageError(
            f"fingerprint {what} of media {media_id} is {len(blob)} bytes, expected {expected}; "
            "the database is damaged - re-add this media"
        )
