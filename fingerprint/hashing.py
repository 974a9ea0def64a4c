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
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from .borders import Box, content_box, is_cut
from .decode import Header, Limits, Sample, decode
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

PROBE = 12  # frames (2 s) that set a shot's provisional content box
MAX_SHOT = 360  # frames (1 min) judged together at most: bounds memory on long still shots
HASH_SIDE = 64  # PDQ works on 64x64 internally: handing it that size skips its own filtering
MIN_QUALITY = 40  # PDQ's own quality score: flat or near-black frames carry no identity
ZOOM = 0.8  # share of each side kept by the zoom variant
CLOSE = 0.7  # ... by the close-up variant of footage that is not wide
WIDE = 1.2  # width/height above which footage is wide: its close-up is a vertical 9:16 cut


def fingerprint_file(path: str | Path, limits: Limits | None = None) -> Fingerprint:
    """Fingerprint a photo or video file on disk."""
    path = Path(path)
    digest = sha256_file(path) if path.is_file() else ""
    header, samples = decode(path, path.name, limits or Limits())
    return _fingerprint(header, samples, path.name, digest, path.stat().st_size)


def fingerprint_bytes(data: bytes, name: str, limits: Limits | None = None) -> Fingerprint:
    """Fingerprint media held in memory (a download, a Telegram file)."""
    header, samples = decode(data, name, limits or Limits())
    return _fingerprint(header, samples, name, hashlib.sha256(data).hexdigest(), len(data))


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in blocks: the identity media are stored and deduplicated by."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Hashes:
    """The growing (hash, time, variant) columns of one fingerprint."""

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []
        self.times: list[float] = []
        self.variants: list[int] = []

    def add_frame(self, sample: Sample, box: Box, photo: bool) -> None:
        for variant, picture in _variants(box.apply(sample.grey), sample.anchor, photo):
            bits, quality = pdqhash.compute(_square(picture))
            if quality < MIN_QUALITY:
                if variant in (VARIANT_FULL, VARIANT_DENSE):
                    return  # the whole frame is flat: none of its variants can identify it
                continue
            self.hashes.append(np.packbits(bits.astype(np.uint8)))
            self.times.append(sample.time)
            self.variants.append(variant)

    def truncate(self, length: int) -> None:
        del self.hashes[length:], self.times[length:], self.variants[length:]


def _fingerprint(
    header: Header, samples: Iterator[Sample], name: str, sha256: str, size: int
) -> Fingerprint:
    """Hash the samples shot by shot while later ones are still being decoded.

    A shot's content box needs all of its frames, but waiting for them would leave nothing to
    do while the video decodes.  So frames are hashed as they come with the box of the shot's
    first ``PROBE`` frames; when the shot ends, its box is worked out from all of them and the
    shot is hashed again in the rare case it differs.  The result is the same either way.
    """
    out = _Hashes()
    photo = header.kind == "photo"
    width, height = header.width, header.height
    shot: list[Sample] = []
    shot_start = 0  # where the shot's hashes begin in ``out``
    provisional: Box | None = None
    last_time, count = 0.0, 0

    def finish_shot() -> None:
        final = content_box(np.stack([s.grey for s in shot]).astype(np.float32))
        if final != provisional:
            out.truncate(shot_start)
            for sample in shot:
                out.add_frame(sample, final, photo)

    for sample in samples:
        if count == 0 and (sample.grey.shape[0] > sample.grey.shape[1]) != (height > width):
            width, height = height, width  # turned by rotation metadata
        count += 1
        last_time = max(last_time, sample.time)
        if shot and (is_cut(shot[-1].grey, sample.grey) or len(shot) >= MAX_SHOT):
            finish_shot()
            shot, shot_start, provisional = [], len(out.hashes), None
        shot.append(sample)
        if provisional is None and len(shot) >= PROBE:
            provisional = content_box(np.stack([s.grey for s in shot]).astype(np.float32))
            for earlier in shot:
                out.add_frame(earlier, provisional, photo)
        elif provisional is not None:
            out.add_frame(sample, provisional, photo)
    if shot:
        finish_shot()
    if not out.hashes:
        raise MediaError(
            name, "every frame is flat or black: there is no picture detail to fingerprint"
        )
    return Fingerprint(
        kind="video" if count > 1 or header.duration > 0 else "photo",
        sha256=sha256,
        size=size,
        duration=max(header.duration, last_time),
        width=width,
        height=height,
        hashes=np.stack(out.hashes),
        times=np.asarray(out.times, dtype=np.float32),
        variants=np.asarray(out.variants, dtype=np.uint8),
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
