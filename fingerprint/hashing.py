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
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from . import signal
from .borders import Box, content_box, is_cut
from .decode import Header, Limits, Sample, decode
from .pdq_call import PdqHasher
from .types import (
    HASH_BYTES,
    PDQ,
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
# The refusal when no signal has anything (no picture detail, no corners, no sound).
FLAT = (
    "every frame is flat or black and it has no sound: nothing in it can be recognised; "
    "send a copy that shows the footage"
)


def fingerprint_file(
    path: str | Path, limits: Limits | None = None, *, fast_motion: bool = False
) -> Fingerprint:
    """Fingerprint a photo or video file on disk; ``fast_motion`` for media being stored in
    the library, never for a query (``decode``)."""
    path = Path(path)
    digest = sha256_file(path) if path.is_file() else ""
    limits = limits or Limits()
    header, samples = decode(path, path.name, limits, fast_motion=fast_motion)
    return _fingerprint(path, header, samples, path.name, digest, path.stat().st_size, limits)


def fingerprint_bytes(data: bytes, name: str, limits: Limits | None = None) -> Fingerprint:
    """Fingerprint media held in memory (a download, a Telegram file)."""
    limits = limits or Limits()
    header, samples = decode(data, name, limits)
    digest = hashlib.sha256(data).hexdigest()
    return _fingerprint(data, header, samples, name, digest, len(data), limits)


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in blocks: the identity media are stored and deduplicated by."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_signals(
    source: Path | bytes,
    name: str,
    limits: Limits,
    names: Iterable[str],
    header: Header | None = None,
    samples: Iterator[Sample] | None = None,
) -> dict[str, object]:
    """The data of the signals ``names`` (never "pdq"), from one decode of ``source``.

    A signal that fails (any exception but a MediaError of the decode itself) is left out with
    a warning: a new signal's bug or a broken sound track must never cost the fingerprint that
    PDQ alone would have given.  Used alone (``header`` None), it decodes ``source`` itself:
    that is how media stored before a signal existed gain its data (``refingerprint``).
    """
    if header is None or samples is None:
        header, samples = decode(source, name, limits)
    extractors = {}
    for signal_name in names:
        try:
            extractors[signal_name] = signal.get(signal_name).extractor(
                source, name, header, limits
            )
        except Exception as exc:  # noqa: BLE001 - see the docstring
            _skipped(signal_name, name, exc)
    for sample in samples:
        for signal_name, extractor in list(extractors.items()):
            try:
                extractor.add(sample)
            except Exception as exc:  # noqa: BLE001
                _skipped(signal_name, name, exc)
                del extractors[signal_name]
    found: dict[str, object] = {}
    for signal_name, extractor in extractors.items():
        try:
            data = extractor.finish()
        except Exception as exc:  # noqa: BLE001
            _skipped(signal_name, name, exc)
            continue
        if data is not None:
            found[signal_name] = data
    return found


def _skipped(signal_name: str, name: str, exc: Exception) -> None:
    warnings.warn(
        f"{name}: signal {signal_name!r} skipped: {type(exc).__name__}: {exc}",
        RuntimeWarning,
        stacklevel=3,
    )


def _fingerprint(
    source: Path | bytes,
    header: Header,
    samples: Iterator[Sample],
    name: str,
    sha256: str,
    size: int,
    limits: Limits,
) -> Fingerprint:
    """PDQ and every other registered signal, fed sample by sample from the one decode."""
    pdq = PdqExtractor(header, name)
    others = [n for n in signal.PLUGINS if n != PDQ]
    signals = extract_signals(source, name, limits, others, header, _tee(samples, pdq))
    hashed = pdq.finish()
    if not len(hashed) and not signals:
        # Refused only when no signal has anything: a flat picture (every frame below PDQ's
        # quality) may still have corners for the local features, or a sound track.
        raise MediaError(name, FLAT)
    return replace(hashed, sha256=sha256, size=size, signals=signals)


def _tee(samples: Iterator[Sample], pdq: PdqExtractor) -> Iterator[Sample]:
    """The samples, each hashed by PDQ before the other signals see it: PDQ's errors (a
    MediaError while decoding) end the fingerprint, the others' only their signal."""
    for sample in samples:
        pdq.add(sample)
        yield sample


class _Hashes:
    """The growing (hash, time, variant) columns of one fingerprint."""

    def __init__(self) -> None:
        self.pdq = PdqHasher()
        self.hashes: list[np.ndarray] = []
        self.times: list[float] = []
        self.variants: list[int] = []

    def add_frame(self, sample: Sample, box: Box, photo: bool) -> None:
        upright = None
        region = box.apply(sample.grey)
        pictures = ((VARIANT_DENSE, region),) if sample.between else None
        for variant, picture in pictures or _variants(region, sample.anchor, photo):
            if variant == VARIANT_MIRROR and upright is not None:
                # Pillow's resampling is symmetric: the mirror of the shrunk picture is, to
                # the bit, the shrunk mirror (checked on every shared video's samples).
                square = upright[:, ::-1]  # PdqHasher copies it to floats as it is
            else:
                square = _square(picture)
            if variant in (VARIANT_FULL, VARIANT_DENSE):
                upright = square
            packed, quality = self.pdq(square)
            if quality < MIN_QUALITY:
                if variant in (VARIANT_FULL, VARIANT_DENSE):
                    return  # the whole frame is flat: none of its variants can identify it
                continue
            self.hashes.append(packed)
            self.times.append(sample.time)
            self.variants.append(variant)

    def truncate(self, length: int) -> None:
        del self.hashes[length:], self.times[length:], self.variants[length:]


class PdqExtractor:
    """The "pdq" signal's extractor: hashes the samples shot by shot while later ones are
    still being decoded.

    A shot's content box needs all of its frames, but waiting for them would leave nothing to
    do while the video decodes.  So frames are hashed as they come with the box of the shot's
    first ``PROBE`` frames; when the shot ends, its box is worked out from all of them and the
    shot is hashed again in the rare case it differs.  The result is the same either way.
    """

    def __init__(self, header: Header, name: str):
        self.name = name
        self.photo = header.kind == "photo"
        self.width, self.height = header.width, header.height
        self.duration = header.duration
        self.out = _Hashes()
        self.shot: list[Sample] = []
        self.shot_start = 0  # where the shot's hashes begin in ``out``
        self.provisional: Box | None = None
        self.last_time, self.count = 0.0, 0

    def add(self, sample: Sample) -> None:
        if self.count == 0 and (sample.grey.shape[0] > sample.grey.shape[1]) != (
            self.height > self.width
        ):
            self.width, self.height = self.height, self.width  # turned by rotation metadata
        self.count += 1
        self.last_time = max(self.last_time, sample.time)
        shot = self.shot
        if shot and (is_cut(shot[-1].grey, sample.grey) or len(shot) >= MAX_SHOT):
            self._finish_shot()
            shot = self.shot = []
            self.shot_start, self.provisional = len(self.out.hashes), None
        shot.append(sample)
        if self.provisional is None and len(shot) >= PROBE:
            self.provisional = content_box(np.stack([s.grey for s in shot]).astype(np.float32))
            for earlier in shot:
                self.out.add_frame(earlier, self.provisional, self.photo)
        elif self.provisional is not None:
            self.out.add_frame(sample, self.provisional, self.photo)

    def _finish_shot(self) -> None:
        final = content_box(np.stack([s.grey for s in self.shot]).astype(np.float32))
        if final != self.provisional:
            self.out.truncate(self.shot_start)
            for sample in self.shot:
                self.out.add_frame(sample, final, self.photo)

    def finish(self) -> Fingerprint:
        """The PDQ columns, as a fingerprint of no file yet (no sha256, size 0); no hashes at
        all when every frame is flat (the other signals decide whether the file is refused)."""
        if self.shot:
            self._finish_shot()
            self.shot = []
        return Fingerprint(
            kind="video" if self.count > 1 or self.duration > 0 else "photo",
            sha256="",
            size=0,
            duration=max(self.duration, self.last_time),
            width=self.width,
            height=self.height,
            hashes=np.stack(self.out.hashes) if self.out.hashes else np.empty((0, HASH_BYTES)),
            times=np.asarray(self.out.times, dtype=np.float32),
            variants=np.asarray(self.out.variants, dtype=np.uint8),
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
    """The grey picture at PDQ's working size (``PdqHasher`` takes it without the three equal
    channels ``pdqhash.compute`` wanted)."""
    image = Image.fromarray(np.ascontiguousarray(picture))
    return np.asarray(image.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BILINEAR))
