"""Chromaprint's audio fingerprint, computed with numpy on 11025 Hz mono samples.

No package on PyPI ships Chromaprint compiled inside its wheel (``pyacoustid`` and
``pychromaprint`` bind the system ``libchromaprint``), and the README's two set-up commands
must work without apt-get, so the published algorithm is implemented here.  It follows
Chromaprint's source (Lukas Lalinsky, MIT licence: ``src/chroma.cpp``, ``chroma_filter.cpp``,
``chroma_normalizer.h``, ``filter_utils.h``, ``quantizer.h``, ``fingerprint_calculator.cpp``,
and the default classifier set ``kClassifiersTest2`` of ``fingerprinter_configuration.cpp``,
version 1.4) and Lalinsky's description "How does Chromaprint work?" (2011):

1. Hamming-windowed FFT frames of 4096 samples every 1365 (2/3 overlap), power spectrum;
2. the energy of 28..3520 Hz folded into 12 pitch classes (chroma), per frame;
3. a 5-tap smoothing over time (0.25, 0.75, 1, 0.75, 0.25), each vector L2-normalised
   (vectors with a norm under 0.01, i.e. silence, become zero);
4. 16 Haar-like filters over a 16-frame window of that chroma image, each quantised into
   2 bits (Gray code): one 32-bit code every 1365 samples, about 8 codes a second.

On the same 16-bit samples the codes are bit for bit those of Chromaprint 1.5.1's ``fpcalc
-raw`` (checked on the shared videos' sound; ``tests/test_audio_signal.py`` keeps a reference).
Codes of two recordings of the same sound differ by few bits where they are aligned, which is
what ``fingerprint.audio`` matches on (``agreeing`` finds such pairs among sorted codes).
Nothing here reads files: ``ChromaStream`` takes samples as they are decoded so a long file
never sits in memory as raw audio.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 11025
FRAME_SIZE = 4096
HOP = FRAME_SIZE // 3  # 1365 samples: Chromaprint's frame_size - overlap
SECONDS_PER_CODE = HOP / SAMPLE_RATE
MIN_FREQ, MAX_FREQ = 28, 3520
BANDS = 12
SMOOTHING = np.array([0.25, 0.75, 1.0, 0.75, 0.25])
NORM_FLOOR = 0.01  # a chroma vector weaker than this is silence: it becomes zero

# (filter type, first band, bands, frames) and the three quantiser thresholds, in code order
# (the first classifier gives the two highest bits): Chromaprint's default set (TEST2).
CLASSIFIERS: tuple[tuple[tuple[int, int, int, int], tuple[float, float, float]], ...] = (
    ((0, 4, 3, 15), (1.98215, 2.35817, 2.63523)),
    ((4, 4, 6, 15), (-1.03809, -0.651211, -0.282167)),
    ((1, 0, 4, 16), (-0.298702, 0.119262, 0.558497)),
    ((3, 8, 2, 12), (-0.105439, 0.0153946, 0.135898)),
    ((3, 4, 4, 8), (-0.142891, 0.0258736, 0.200632)),
    ((4, 0, 3, 5), (-0.826319, -0.590612, -0.368214)),
    ((1, 2, 2, 9), (-0.557409, -0.233035, 0.0534525)),
    ((2, 7, 3, 4), (-0.0646826, 0.00620476, 0.0784847)),
    ((2, 6, 2, 16), (-0.192387, -0.029699, 0.215855)),
    ((2, 1, 3, 2), (-0.0397818, -0.00568076, 0.0292026)),
    ((5, 10, 1, 15), (-0.53823, -0.369934, -0.190235)),
    ((3, 6, 2, 10), (-0.124877, 0.0296483, 0.139239)),
    ((2, 1, 1, 14), (-0.101475, 0.0225617, 0.231971)),
    ((3, 5, 6, 4), (-0.0799915, -0.00729616, 0.063262)),
    ((1, 9, 2, 12), (-0.272556, 0.019424, 0.302559)),
    ((3, 4, 2, 14), (-0.164292, -0.0321188, 0.0846339)),
)
WINDOW_FRAMES = max(width for (_, _, _, width), _ in CLASSIFIERS)  # 16
GRAY = np.array([0, 1, 3, 2], dtype=np.uint32)  # quantiser level -> 2-bit Gray code
BATCH_FRAMES = 256  # FFT frames computed at once (~32 s of audio, ~8 MB of spectrum)
MAX_POSTINGS = 256  # a code found more often than this among sorted codes pairs with nothing
_PROBES = np.array([0] + [1 << bit for bit in range(32)], dtype=np.uint32)  # exact, 1 bit off


def _band_bins() -> tuple[np.ndarray, np.ndarray]:
    """The FFT bins of 28..3520 Hz grouped by pitch class (A = 440 Hz / 16), in increasing
    order within a class, and where each class's bins start: a chroma vector is the sum of
    each group's power.

    A sum per group, not a product with a one-hot matrix: OpenBLAS ran that product on two
    threads, whose spinning while they waited for more work cost more CPU than all of the
    sound's FFTs (the shared videos' sound took 0.65 CPU s, 0.32 now, for the same codes).
    """
    lo = max(1, round(FRAME_SIZE * MIN_FREQ / SAMPLE_RATE))
    hi = min(FRAME_SIZE // 2, round(FRAME_SIZE * MAX_FREQ / SAMPLE_RATE))
    bins = np.arange(lo, hi)
    octave = np.log2(bins * SAMPLE_RATE / FRAME_SIZE / (440.0 / 16.0))
    note = np.floor(BANDS * (octave - np.floor(octave))).astype(np.int64)
    order = np.argsort(note, kind="stable")
    return bins[order], np.searchsorted(note[order], np.arange(BANDS))


_BINS, _BAND_STARTS = _band_bins()
# Chromaprint scales int16 samples into -1..1 inside its window.
_WINDOW = np.hamming(FRAME_SIZE) / 32767.0


class ChromaStream:
    """Turns int16 mono samples at 11025 Hz, fed in pieces of any size, into chroma vectors."""

    def __init__(self) -> None:
        self._pending: list[np.ndarray] = []  # samples not yet in a whole frame, in pieces
        self._held = 0
        self._chroma: list[np.ndarray] = []
        self.samples = 0  # fed so far

    def feed(self, samples: np.ndarray) -> None:
        self._pending.append(samples.astype(np.int16, copy=False))
        self._held += len(samples)
        self.samples += len(samples)
        if self._held >= FRAME_SIZE + BATCH_FRAMES * HOP:
            self._flush()

    def chroma(self) -> np.ndarray:
        """(frames, 12) chroma of every whole FFT frame fed so far."""
        self._flush()
        if not self._chroma:
            return np.zeros((0, BANDS))
        return np.concatenate(self._chroma)

    def _flush(self) -> None:
        frames = (self._held - FRAME_SIZE) // HOP + 1
        if frames <= 0:
            return
        pending = np.concatenate(self._pending)
        view = np.lib.stride_tricks.sliding_window_view(pending, FRAME_SIZE)[::HOP][:frames]
        spectrum = np.fft.rfft(view * _WINDOW, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        self._chroma.append(np.add.reduceat(power[:, _BINS], _BAND_STARTS, axis=1))
        self._pending = [pending[frames * HOP :]]
        self._held = len(self._pending[0])


def codes(chroma: np.ndarray) -> np.ndarray:
    """The 32-bit codes of a chroma image: one per frame once 16 smoothed frames are in."""
    n = len(chroma) - len(SMOOTHING) + 1
    if n < WINDOW_FRAMES:
        return np.zeros(0, dtype=np.uint32)
    smooth = sum(c * chroma[k : k + n] for k, c in enumerate(SMOOTHING))
    norm = np.sqrt((smooth**2).sum(axis=1, keepdims=True))
    smooth = np.where(norm < NORM_FLOOR, 0.0, smooth / np.maximum(norm, NORM_FLOOR))
    integral = np.zeros((n + 1, BANDS + 1))
    integral[1:, 1:] = smooth.cumsum(axis=0).cumsum(axis=1)
    x = np.arange(n - WINDOW_FRAMES + 1)
    result = np.zeros(len(x), dtype=np.uint32)
    for shape, thresholds in CLASSIFIERS:
        level = np.searchsorted(np.asarray(thresholds), _apply(integral, x, *shape), side="right")
        result = (result << np.uint32(2)) | GRAY[level]
    return result


def _apply(integral: np.ndarray, x: np.ndarray, kind: int, y: int, h: int, w: int) -> np.ndarray:
    """One Haar-like filter at every window start ``x``: log of the ratio of its two areas.

    Rows of the image are frames (time, ``x`` and ``w``), columns pitch classes (``y``, ``h``).
    """

    def area(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
        return (
            integral[x + x2, y2]
            - integral[x + x1, y2]
            - integral[x + x2, y1]
            + integral[x + x1, y1]
        )

    if kind == 0:  # the whole rectangle
        a, b = area(0, y, w, y + h), 0.0
    elif kind == 1:  # upper against lower bands
        a, b = area(0, y + h // 2, w, y + h), area(0, y, w, y + h // 2)
    elif kind == 2:  # later against earlier frames
        a, b = area(w // 2, y, w, y + h), area(0, y, w // 2, y + h)
    elif kind == 3:  # the diagonals of a 2x2 checkerboard
        a = area(0, y + h // 2, w // 2, y + h) + area(w // 2, y, w, y + h // 2)
        b = area(0, y, w // 2, y + h // 2) + area(w // 2, y + h // 2, w, y + h)
    elif kind == 4:  # the middle third of the bands against the outer two
        t = h // 3
        a = area(0, y + t, w, y + 2 * t)
        b = area(0, y, w, y + t) + area(0, y + 2 * t, w, y + h)
    else:  # the middle third of the frames against the outer two
        t = w // 3
        a = area(t, y, 2 * t, y + h)
        b = area(0, y, t, y + h) + area(2 * t, y, w, y + h)
    return np.log((1.0 + a) / (1.0 + b))


def agreeing(query: np.ndarray, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query position, position in ``ordered``) of every pair of codes at most one bit apart.

    ``ordered`` is sorted; a code that occurs more than ``MAX_POSTINGS`` times there (a sound
    every item has) gives no pairs.
    """
    keys = (query[:, None] ^ _PROBES[None, :]).reshape(-1)
    lo = np.searchsorted(ordered, keys, side="left")
    hi = np.searchsorted(ordered, keys, side="right")
    counts = hi - lo
    counts[counts > MAX_POSTINGS] = 0
    total = int(counts.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(keys)), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner // len(_PROBES), lo[owner] + within
