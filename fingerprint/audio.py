"""Sound as a signal: Chromaprint codes of a media item's audio, matched with offset alignment.

Reposts of conflict footage often keep the original sound while the picture is covered, cropped
or filmed off a screen, so the sound is evidence the picture signals cannot give.  It is weaker
evidence of *what* is shown (music or a voice-over is laid over any footage), which is why this
signal says ``picture = False`` and the matcher decides what "sound only" means.

The file's first audio stream is decoded by PyAV, mixed to mono at 11025 Hz and turned into
Chromaprint codes (``fingerprint.chromaprint``, about 8 a second).  Two copies of one sound,
aligned, differ by a few bits a code (measured on the shared videos: 1-3% of bits after a
re-encode, resampling or a volume change, 7-9% after 32 kbit/s AAC, noise at 5 dB SNR or a
recording off a screen's speaker), while unrelated sounds differ by ~40%.  Offsets are found
by votes of codes within one bit of each other, then the best offset is refined on the bit
error rate (BER) over the overlap.

Stationary sound (silence, mains hum, a steady tone, wind-like noise) gives codes that barely
change and look alike in any two recordings, so a code only counts where it differs from the
codes 1-2 s around it by ``MIN_VARIATION_BITS`` on average; and a match must beat by far the
BER that the codes' own variation predicts for unrelated sound (``MAX_CONTRAST``).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from .chromaprint import (
    FRAME_SIZE,
    HOP,
    SAMPLE_RATE,
    SECONDS_PER_CODE,
    ChromaStream,
    agreeing,
    codes,
)
from .decode import _open_container
from .errors import MediaError
from .signal import Evidence

if TYPE_CHECKING:
    from .audio_index import SoundIndex
    from .decode import Header, Sample
    from .settings import Limits, MatchSettings

# Seconds of informative codes two items must share to be compared (each code also sums up
# the 2.7 s of sound around it, so 2 s of codes is ~4.7 s of sound); an item with less sound
# than this has nothing to say.
MIN_SOUND_S = 2.0
FULL_EVIDENCE_S = 3.0  # seconds of codes agreeing that make the overlap's length no doubt
MAX_BER = 0.2  # bit error rate over the overlap above which two sounds differ
# The BER of a match divided by the BER expected between unrelated codes as varied as these
# (their own change over 1-2 s): stationary noise matches any other stationary noise at ~0.9.
MAX_CONTRAST = 0.5
# A code is informative when it differs from the codes 1-2 s away by this many bits of 32 on
# average: measured ~13 on speech and music, 0 on silence, hum or a tone, 4-6 on white noise.
MIN_VARIATION_BITS = 8.0
VARIATION_LAGS = range(8, 17, 2)  # codes apart (1-2 s) that the variation is measured over
AGREE_BITS = 6  # a code pair within this many bits counts as agreeing (``Evidence.units``)
OFFSETS_TRIED = 4  # best-voted offsets whose BER is measured (each refined by +-REFINE codes)
REFINE = 2
# The stretch of sound one code sums up: its 16-frame window of smoothed FFT frames.
CODE_SPAN_S = (19 * HOP + FRAME_SIZE) / SAMPLE_RATE

RESAMPLED_FRAME = 16 * HOP  # samples per resampled frame handed to ChromaStream

_MAGIC = b"OCAU"
_FORMAT = 1
_HEADER = struct.Struct("<4sBIff")  # magic, format, codes, start s, seconds per code


@dataclass(frozen=True)
class SoundPrint:
    """The Chromaprint codes of one item's sound, ``step`` seconds apart from ``start``.

    ``start`` is where the first code's sound begins, in seconds from the first picture frame
    (what the picture signals count time from), so picture and sound offsets can be compared.
    """

    codes: np.ndarray  # uint32
    start: float = 0.0
    step: float = SECONDS_PER_CODE

    @cached_property
    def variation(self) -> np.ndarray:
        """Mean bits each code differs by from the codes 1-2 s before and after it."""
        n = len(self.codes)
        total, count = np.zeros(n), np.zeros(n)
        for lag in VARIATION_LAGS:
            if lag >= n:
                break
            bits = np.bitwise_count(self.codes[lag:] ^ self.codes[:-lag])
            total[lag:] += bits
            total[:-lag] += bits
            count[lag:] += 1
            count[:-lag] += 1
        return total / np.maximum(count, 1)

    @cached_property
    def informative(self) -> np.ndarray:
        """Which codes are not in a stationary stretch (see the module's docstring)."""
        return self.variation >= MIN_VARIATION_BITS

    @property
    def seconds(self) -> float:
        """Seconds of informative codes."""
        return float(self.informative.sum()) * self.step


class Audio:
    """The "audio" signal (``fingerprint.signal.Signal``)."""

    name = "audio"
    version = 1
    picture = False

    def extractor(
        self, source: Path | bytes, name: str, header: Header, limits: Limits
    ) -> SoundExtractor:
        return SoundExtractor(source, name, limits)

    def dumps(self, data: object) -> bytes:
        data = checked(data)
        head = _HEADER.pack(_MAGIC, _FORMAT, len(data.codes), data.start, data.step)
        return head + data.codes.astype("<u4").tobytes()

    def loads(self, blob: bytes) -> SoundPrint:
        if len(blob) < _HEADER.size:
            raise ValueError("not sound codes: too short")
        magic, version, count, start, step = _HEADER.unpack_from(blob)
        if magic != _MAGIC or version != _FORMAT:
            raise ValueError("not sound codes of this format")
        if len(blob) != _HEADER.size + 4 * count:
            raise ValueError(f"sound codes truncated or padded ({len(blob)} bytes, {count} codes)")
        if not (np.isfinite(start) and 0 < step < 10):
            raise ValueError("sound codes with a broken time base")
        codes_ = np.frombuffer(blob, "<u4", count, _HEADER.size).astype(np.uint32)
        return SoundPrint(codes_, float(start), float(step))

    def new_index(self) -> SoundIndex:
        from .audio_index import SoundIndex  # the index machinery loads where one is built

        return SoundIndex()

    def compare(self, query: object, reference: object, settings: MatchSettings) -> Evidence | None:
        return compare(checked(query), checked(reference))


def checked(data: object) -> SoundPrint:
    """``data`` itself, checked: another signal's data handed over by mistake fails loudly."""
    if not isinstance(data, SoundPrint):
        raise TypeError(f"not sound codes: {type(data).__name__}")
    return data


class SoundExtractor:
    """Reads the sound from the file itself when the picture has been decoded."""

    def __init__(self, source: Path | bytes, name: str, limits: Limits):
        self.source, self.name, self.limits = source, name, limits

    def add(self, sample: Sample) -> None:
        """Picture samples say nothing about the sound."""

    def finish(self) -> SoundPrint | None:
        return extract(self.source, self.name, self.limits)


def extract(source: Path | bytes, name: str, limits: Limits) -> SoundPrint | None:
    """The codes of the first audio stream, or None when there is nothing to match on.

    None for no audio stream, sound that is silent, stationary or shorter than ``MIN_SOUND_S``
    of codes, and audio that cannot be decoded: a broken sound track must never cost the
    picture its fingerprint.  A track damaged part-way gives the codes of what decoded before
    the damage; decoding stops at ``limits.max_duration`` seconds of sound or after
    ``limits.max_seconds`` of wall-clock time, keeping what it has.
    """
    try:
        container = _open_container(source, name)
    except (MediaError, OSError):  # not media, or not a readable file
        return None
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        video = container.streams.video[0] if container.streams.video else None
        chroma, first = _decode(container, stream, limits)
    if first is None:
        return None
    origin = first
    if video is not None and video.start_time is not None and video.time_base is not None:
        origin = float(video.start_time * video.time_base)
    data = SoundPrint(codes(chroma), start=round(first - origin, 4))
    return data if data.seconds >= MIN_SOUND_S else None


def _decode(
    container: av.container.InputContainer, stream: av.AudioStream, limits: Limits
) -> tuple[np.ndarray, float | None]:
    """Chroma of the stream's sound and the time of its first sample (None: nothing decoded)."""
    # Resampled sound comes out in frames of ~2 s, not one per decoded AAC frame (~23 ms):
    # the same samples, with a tenth of the per-frame Python (~10% of the signal's CPU).
    resampler = av.AudioResampler(
        format="s16", layout="mono", rate=SAMPLE_RATE, frame_size=RESAMPLED_FRAME
    )
    chroma = ChromaStream()
    most = limits.max_duration * SAMPLE_RATE
    deadline = time.monotonic() + limits.max_seconds
    first = None
    try:
        for frame in container.decode(stream):
            if first is None and frame.time is not None:
                first = float(frame.time)
            for out in resampler.resample(frame):
                chroma.feed(_samples(out))
            if chroma.samples >= most or time.monotonic() > deadline:
                break
    except (av.FFmpegError, ValueError, OSError):
        pass  # damaged: what decoded before the damage still counts ...
    try:
        for out in resampler.resample(None):  # ... with what the resampler still holds
            chroma.feed(_samples(out))
    except (av.FFmpegError, ValueError):
        pass
    return chroma.chroma(), (first if chroma.samples else None)


def _samples(frame: av.AudioFrame) -> np.ndarray:
    """A mono s16 frame's samples (its one plane, without the padding FFmpeg leaves)."""
    return np.frombuffer(frame.planes[0], dtype=np.int16, count=frame.samples)


def compare(query: SoundPrint, reference: SoundPrint) -> Evidence | None:
    """Where ``query``'s sound plays in ``reference``'s, if it does, as Evidence."""
    q_idx = np.flatnonzero(query.informative)
    r_idx = np.flatnonzero(reference.informative)
    min_codes = MIN_SOUND_S / query.step
    if min(len(q_idx), len(r_idx)) < min_codes:
        return None
    order = np.argsort(reference.codes[r_idx], kind="stable")
    qi, rj = agreeing(query.codes[q_idx], reference.codes[r_idx][order])
    if not len(qi):
        return None
    shifts = r_idx[order[rj]] - q_idx[qi]
    best = None
    for shift in _top_shifts(shifts):
        for candidate in range(shift - REFINE, shift + REFINE + 1):
            found = _aligned(query, reference, candidate)
            # A few codes overlapping at the ends may agree by chance: never the best.
            if found is None or len(found[3]) < min_codes:
                continue
            if best is None or found[0] < best[0]:
                best = found
    if best is None:
        return None
    ber, chance, shift, q_on, distances = best
    if ber > MAX_BER or ber > MAX_CONTRAST * chance:
        return None
    agree = distances <= AGREE_BITS
    score = (1.0 - ber / chance) * min(1.0, agree.sum() * query.step / FULL_EVIDENCE_S)
    q_times = query.start + q_on * query.step
    r_times = reference.start + (q_on + shift) * reference.step
    k = int(np.argmin(distances))
    centre = CODE_SPAN_S / 2
    return Evidence(
        signal="audio",
        score=round(float(score), 4),
        query_start=float(q_times[0]),
        query_end=float(q_times[-1] + CODE_SPAN_S),
        ref_start=float(r_times[0]),
        ref_end=float(r_times[-1] + CODE_SPAN_S),
        offset=round(float(r_times[0] - q_times[0]), 4),
        units=int(agree.sum()),
        best_pair=(float(q_times[k] + centre), float(r_times[k] + centre)),
    )


def _top_shifts(shifts: np.ndarray) -> list[int]:
    """The most-voted shifts (a vote also counts for its two neighbours), best first."""
    values, votes = np.unique(shifts, return_counts=True)
    lookup = dict(zip(values.tolist(), votes.tolist(), strict=True))
    smoothed = {v: lookup[v] + lookup.get(v - 1, 0) + lookup.get(v + 1, 0) for v in lookup}
    chosen: list[int] = []
    for value in sorted(smoothed, key=lambda v: (-smoothed[v], v)):
        if all(abs(value - c) > 2 * REFINE for c in chosen):
            chosen.append(value)
        if len(chosen) == OFFSETS_TRIED:
            break
    return chosen


def _aligned(
    query: SoundPrint, reference: SoundPrint, shift: int
) -> tuple[float, float, int, np.ndarray, np.ndarray] | None:
    """BER, the chance BER, ``shift``, the query positions compared and their bit distances,
    with query code i against reference code i + shift (informative pairs only)."""
    lo, hi = max(0, -shift), min(len(query.codes), len(reference.codes) - shift)
    if hi <= lo:
        return None
    q_on = np.arange(lo, hi)
    both = query.informative[q_on] & reference.informative[q_on + shift]
    q_on = q_on[both]
    if not len(q_on):
        return None
    distances = np.bitwise_count(query.codes[q_on] ^ reference.codes[q_on + shift])
    ber = float(distances.mean()) / 32
    variation = (query.variation[q_on] + reference.variation[q_on + shift]) / 2
    return ber, float(variation.mean()) / 32, shift, q_on, distances


AUDIO = Audio()
