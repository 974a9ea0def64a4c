"""Hash sampled frames with PDQ, in the variants that reposts call for.

PDQ (Meta's 256-bit perceptual hash) survives re-encoding, scaling, colour changes and light
overlays. What it does not survive, a mirror, a rotation or a tight crop, is covered by hashing
the frame more than one way:

* indexed (anchor frames): the full content box, a centre zoom and a close-up (a vertical cut
  of wide footage), so that a cropped or vertical repost still lands near a stored hash;
* searched (every frame): the full content box and its mirror image, and for photos the other
  rotations and flips (phones and reposters turn pictures).

Each variant is hashed from the pixels, not derived from the DCT: derived flips are 24-42 bits
away from the real ones, which would eat most of the matching budget.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from .borders import content_boxes
from .decode import Decoded, Limits, decode
from .types import (
    VARIANT_CLOSE,
    VARIANT_DENSE,
    VARIANT_FULL,
    VARIANT_MIRROR,
    VARIANT_TURNED,
    VARIANT_ZOOM,
    Fingerprint,
    MediaError,
)

HASH_SIDE = 128  # PDQ works on 64x64 internally; 128 keeps its filter meaningful and fast
MIN_QUALITY = 40  # PDQ's own quality score: flat or near-black frames carry no identity
ZOOM = 0.8  # share of each side kept by the zoom variant
CLOSE = 0.7  # ... by the close-up variant of footage that is not wide
WIDE = 1.2  # width/height above which footage is wide: its close-up is a vertical 9:16 cut


def fingerprint_file(path: str | Path, limits: Limits | None = None) -> Fingerprint:
    """Fingerprint a photo or video file on disk."""
    path = Path(path)
    digest = sha256_file(path) if path.is_file() else ""
    decoded = decode(path, path.name, limits or Limits())
    return _fingerprint(decoded, path.name, digest, path.stat().st_size)


def fingerprint_bytes(data: bytes, name: str, limits: Limits | None = None) -> Fingerprint:
    """Fingerprint media held in memory (a download, a Telegram file)."""
    decoded = decode(data, name, limits or Limits())
    return _fingerprint(decoded, name, hashlib.sha256(data).hexdigest(), len(data))


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in blocks: the identity media are stored and deduplicated by."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(decoded: Decoded, name: str, sha256: str, size: int) -> Fingerprint:
    boxes = content_boxes(decoded.frames)
    hashes: list[np.ndarray] = []
    times: list[float] = []
    variants: list[int] = []
    photo = decoded.kind == "photo"
    for t, frame, box, anchor in zip(
        decoded.times, decoded.frames, boxes, decoded.anchors, strict=True
    ):
        region = box.apply(frame)
        for variant, picture in _variants(region, anchor, photo):
            bits, quality = pdqhash.compute(_square(picture))
            if quality < MIN_QUALITY:
                if variant in (VARIANT_FULL, VARIANT_DENSE):
                    break  # the whole frame is flat: none of its variants can identify it
                continue
            hashes.append(np.packbits(bits.astype(np.uint8)))
            times.append(t)
            variants.append(variant)
    if not hashes:
        raise MediaError(
            name, "every frame is flat or black: there is no picture detail to fingerprint"
        )
    return Fingerprint(
        kind=decoded.kind,
        sha256=sha256,
        size=size,
        duration=decoded.duration,
        width=decoded.width,
        height=decoded.height,
        hashes=np.stack(hashes),
        times=np.asarray(times, dtype=np.float32),
        variants=np.asarray(variants, dtype=np.uint8),
    )


def _centre(region: np.ndarray, height_share: float, width_share: float) -> np.ndarray:
    height, width = region.shape[:2]
    h, w = max(2, round(height * height_share)), max(2, round(width * width_share))
    top, left = (height - h) // 2, (width - w) // 2
    return region[top : top + h, left : left + w]


def _variants(region: np.ndarray, anchor: bool, photo: bool):
    """The pictures of one frame to hash, with their variant codes (see fingerprint.types)."""
    if not anchor:
        yield VARIANT_DENSE, region
        yield VARIANT_MIRROR, region[:, ::-1]
        return
    yield VARIANT_FULL, region
    yield VARIANT_ZOOM, _centre(region, ZOOM, ZOOM)
    height, width = region.shape[:2]
    if width > height * WIDE:
        yield VARIANT_CLOSE, _centre(region, 1.0, min(1.0, height * 9 / 16 / width))
    else:
        yield VARIANT_CLOSE, _centre(region, CLOSE, CLOSE)
    yield VARIANT_MIRROR, region[:, ::-1]
    if photo:
        for turned in (
            np.rot90(region, 1),
            np.rot90(region, 2),
            np.rot90(region, 3),
            region[::-1],
            region.T,
            np.rot90(region, 2).T,
        ):
            yield VARIANT_TURNED, turned


def _square(picture: np.ndarray) -> np.ndarray:
    """The grey picture at PDQ's working size, as the three equal channels pdqhash expects."""
    image = Image.fromarray(np.ascontiguousarray(picture))
    square = np.asarray(image.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BILINEAR))
    return np.repeat(square[:, :, None], 3, axis=2)
