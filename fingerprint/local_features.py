"""ORB keypoints of a media item's anchor pictures: what the "orb" signal stores and reads back.

A global hash (PDQ) describes the whole picture, so it cannot survive losing a third of it to a
crop, or seeing it shrunk inside a phone screenshot.  Local features can: each keypoint is a
small patch with a 256-bit binary descriptor (the width of a PDQ hash), and a repost shares
many patches with its source wherever the two pictures overlap.

What is kept is bounded so that a stored item stays small (it is held in memory by the index
for every library item): about one anchor picture a second plus the first picture after a scene
change (none while the picture stands still), and at most ``MAX_POINTS`` keypoints per
picture (``PORTRAIT_SHARE`` times that for a vertical one), chosen across a grid so that one
textured corner cannot take them all (a crop keeping the other corners would share none).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .decode import Sample

DESCRIPTOR_BYTES = 32  # ORB: 256 bits
MAX_POINTS = 160  # keypoints kept per video picture
# A photo is one picture, so it can afford more keypoints, read from the decoder's larger
# picture of it (``Sample.large``, up to 720 x 1280 px) rather than its 480 px detail.
PHOTO_POINTS = 4 * MAX_POINTS
# Keypoints ORB detects per kept one, before the grid picks.  ORB keeps a fixed quota per
# pyramid level, strongest first: a caption, a logo or app chrome has corners so much stronger
# than footage's that a quota of a few times the budget went to them almost whole, leaving the
# footage beside them next to nothing (a captioned frame: 75 keypoints outside the caption out
# of 1,226, against 799 without it).  A quota far above the budget keeps nearly every corner;
# only the chosen ones are described.  24 times it keeps 0.997 of the descriptors 32 times did,
# at 0.92 of ORB's CPU (ORB spends it mostly sorting and culling candidates); 16 times (0.993)
# lost a combined-edit vertical repost of bench/accuracy.py that 24 and 32 find.
DETECTED = 24
# A vertical (portrait) video picture keeps up to this many times MAX_POINTS, in proportion to
# its height: a landscape clip reposted as a 9:16 vertical fills a third of it.
PORTRAIT_SHARE = 2.0
# The picture is cut into GRID x GRID cells, each allowed its share of keypoints.  Fine cells
# confine a caption, a logo or a screenshot's lines of text to the few cells they cross; the
# other cells keep the footage's share (a caption across a 4 x 4 grid took two rows of it).
GRID = 8
KEEP_GAP = 0.95  # seconds between two kept anchor pictures of one scene
CUT_CHANGE = 28.0  # mean grey change (of 0..255, on a 16x16 thumbnail) that starts a new scene
# ... and below which nothing moved: a still shown as a video keeps one picture, so it is judged
# as the photo it is (one strong picture pair), not as footage that must agree over time.
STILL_CHANGE = 1.0
THUMB_SIDE = 16
MIN_SIDE = 64  # px: narrower pictures have no room for ORB's 31 px patches at two scales
MIN_POINTS = 12  # a picture with fewer keypoints (flat, dark, blurred) is not kept
FAST_THRESHOLD = 12  # grey levels: ORB's corner detector, for every picture
# A kept picture with fewer corners than its budget is low-texture footage (a knob on a blank
# door, a vehicle on sand, tracers in a night sky): its weaker corners, down to this threshold,
# fill the rest of the budget after every strong one.  bench/low_texture.py (40 generated
# skies, nights, smoke, deserts and walls; each query compared with every reference): found
# 74 -> 83 of 180 (75 at 8), 0 wrong; bench/accuracy.py: the doorknob's 9:16 cut found, no
# other verdict changed, none wrong with 5M distractor descriptors.  ORB costs 6-8% more CPU
# (only pictures under their budget are detected twice).  A picture with fewer than
# MIN_POINTS strong corners stays out: blank pictures are not kept on their noise.
LOW_TEXTURE_FAST = 6
MAX_FRAMES = 4 * 3600  # pictures kept per item at most: an hour at one a second

_MAGIC = b"ORB1"
_HEADER = struct.Struct("<4sBII")  # magic, kind (0 video, 1 photo), frames, keypoints
_KINDS = ("video", "photo")


@dataclass(frozen=True)
class LocalFeatures:
    """The keypoints of one media item's kept pictures, in time order.

    Keypoints of all pictures are stacked: ``frame`` says which picture each one belongs to.
    ``points`` are pixel positions in that picture (its ``sizes`` entry: width, height), which
    is the decoder's detail picture (long side <= 480 px).
    """

    kind: str  # "video" or "photo"
    times: np.ndarray  # (F,) float32 seconds
    sizes: np.ndarray  # (F, 2) uint16 width, height
    frame: np.ndarray  # (N,) uint16 picture index of each keypoint, non-decreasing
    points: np.ndarray  # (N, 2) float32 x, y
    descriptors: np.ndarray  # (N, 32) uint8
    # The same pictures mirrored left-right, extracted afresh (ORB descriptors of a mirrored
    # patch are not the mirrored descriptors).  Held only by a fresh extraction, which may be a
    # query: ``dumps`` leaves them out, so stored items and the index stay upright-only.
    mirrored: LocalFeatures | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.times)

    def picture(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The points and descriptors of one kept picture."""
        lo, hi = np.searchsorted(self.frame, [index, index + 1])
        return self.points[lo:hi], self.descriptors[lo:hi]

    def without_times(self, times: np.ndarray) -> LocalFeatures | None:
        """These features without the pictures taken at ``times`` (None if none is left).

        How matching leaves out what benign media (a channel's intro) showed: it drops the
        PDQ frames at those times, and every signal whose data has this method drops its own.
        """
        keep = ~np.isin(self.times, np.asarray(times, dtype=np.float32))
        if keep.all():
            return self
        if not keep.any():
            return None
        points = keep[self.frame]  # the kept pictures' keypoints
        mirrored = self.mirrored.without_times(times) if self.mirrored is not None else None
        return replace(
            self,
            times=self.times[keep],
            sizes=self.sizes[keep],
            frame=(np.cumsum(keep) - 1).astype(np.uint16)[self.frame[points]],
            points=self.points[points],
            descriptors=self.descriptors[points],
            mirrored=mirrored,
        )


class LocalExtractor:
    """Keeps anchor pictures about once a second and at scene changes, and their keypoints."""

    def __init__(self, photo: bool) -> None:
        self.photo = photo
        self.budget = PHOTO_POINTS if photo else MAX_POINTS
        self._orb = cv2.ORB_create(nfeatures=DETECTED * self.budget, fastThreshold=FAST_THRESHOLD)
        self._last_time = -1e9
        self._last_thumb: np.ndarray | None = None
        self._times: list[float] = []
        self._sizes: list[tuple[int, int]] = []
        self._points: list[np.ndarray] = []
        self._descriptors: list[np.ndarray] = []
        self._mirrored: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, sample: Sample) -> None:
        if sample.detail is None or len(self._times) >= MAX_FRAMES:
            return
        thumb = cv2.resize(sample.detail, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA)
        thumb = thumb.astype(np.int16)
        change = 255.0 if self._last_thumb is None else np.abs(thumb - self._last_thumb).mean()
        if change <= STILL_CHANGE or (
            change <= CUT_CHANGE and sample.time - self._last_time < KEEP_GAP
        ):
            return
        picture = sample.large if sample.large is not None else sample.detail
        height, width = picture.shape[:2]
        budget = self.budget
        if not self.photo and height > width:  # a vertical repost: the footage is a strip
            budget = round(budget * min(height / width, PORTRAIT_SHARE))
        (points, descriptors), mirrored = keypoints(self._orb, picture, budget)
        if len(points) < MIN_POINTS:
            return
        self._last_time, self._last_thumb = sample.time, thumb
        self._times.append(sample.time)
        self._sizes.append((width, height))
        self._points.append(points)
        self._descriptors.append(descriptors)
        self._mirrored.append(mirrored)

    def finish(self) -> LocalFeatures | None:
        if not self._times:
            return None  # flat, black or featureless throughout: nothing local to compare
        mirrored = _stack(self.photo, self._times, self._sizes, *zip(*self._mirrored, strict=True))
        return replace(
            _stack(self.photo, self._times, self._sizes, self._points, self._descriptors),
            mirrored=mirrored,
        )


def _stack(
    photo: bool,
    times: list[float],
    sizes: list[tuple[int, int]],
    points: Sequence[np.ndarray],
    descriptors: Sequence[np.ndarray],
) -> LocalFeatures:
    """One ``LocalFeatures`` of the kept pictures' keypoints (a picture may have none)."""
    counts = [len(p) for p in points]
    return LocalFeatures(
        kind="photo" if photo else "video",
        times=np.asarray(times, dtype=np.float32),
        sizes=np.asarray(sizes, dtype=np.uint16).reshape(-1, 2),
        frame=np.repeat(np.arange(len(counts), dtype=np.uint16), counts),
        points=np.concatenate(points).astype(np.float32).reshape(-1, 2),
        descriptors=np.concatenate(descriptors).reshape(-1, DESCRIPTOR_BYTES),
    )


Described = tuple[np.ndarray, np.ndarray]  # keypoints' (N, 2) positions, (N, 32) descriptors


def keypoints(
    orb: cv2.ORB, picture: np.ndarray, budget: int = MAX_POINTS
) -> tuple[Described, Described]:
    """At most ``budget`` ORB keypoints of ``picture`` (``_chosen``), described upright and
    in the picture mirrored left-right.

    Corners and their strength do not change in a mirror, so the mirrored picture is
    described at the chosen keypoints mirrored (``_mirrored``), not detected again: the same
    descriptors as detecting them afresh, at half the detection cost.

    Detection and description stay two calls, so ORB builds the picture's pyramid twice:
    ``detectAndCompute`` builds it once but describes every detected keypoint (24 times the
    budget): 3.47 CPU s against 1.92 + 0.75 for detect + compute of the chosen ones, over the
    573 anchor pictures of the 14 shared videos, 20 photos and 12 accuracy edits (the same
    descriptors, measured).
    """
    nothing = np.empty((0, 2), np.float32), np.empty((0, DESCRIPTOR_BYTES), np.uint8)
    if min(picture.shape[:2]) < MIN_SIDE:
        return nothing, nothing  # ORB's pyramid fails on slivers (a 1 px wide "photo" is legal)
    picture = np.ascontiguousarray(picture)
    chosen = _chosen(orb, picture, budget)
    width, scale_factor = picture.shape[1], orb.getScaleFactor()
    described = []
    for pixels, points in (
        (picture, chosen),
        (cv2.flip(picture, 1), _mirrored(chosen, width, scale_factor)),  # 1: left-right
    ):
        found, descriptors = orb.compute(pixels, points)
        if descriptors is None or not found:
            described.append(nothing)
        else:
            described.append((cv2.KeyPoint_convert(found).reshape(-1, 2), descriptors))
    return described[0], described[1]


def _chosen(orb: cv2.ORB, picture: np.ndarray, budget: int) -> list[cv2.KeyPoint]:
    """At most ``budget`` keypoints: each scale its share, spread over cells.

    Each level of ORB's pyramid gets the share ORB itself gives it (``_level_shares``): a
    repost shown smaller (a screenshot, a vertical) matches the source's coarse keypoints
    with its fine ones, and the strongest corners alone would be nearly all fine ones (the
    bridge photo in a phone screenshot: 31 matches instead of 68).  Within a level the cells
    take turns (``_round_robin``).  How many each level gets is worked out first (a level
    hands its unused share to the next finer one), then every level is ordered at once: one
    sort for all levels, where a loop of sorts per level cost more than ORB's detection.
    """
    found = orb.detect(picture, None)
    if MIN_POINTS <= len(found) < budget:
        return _with_weak_corners(orb, picture, found, budget)
    if len(found) <= budget:
        return list(found)
    count = len(found)
    points = cv2.KeyPoint_convert(found).reshape(-1, 2)  # float32, without a Python loop
    # ``map`` of an attribute getter: a third less CPU than a generator over thousands of
    # keypoints a picture (nothing in OpenCV returns these fields as arrays).
    strength = np.fromiter(map(_RESPONSE, found), np.float32, count)
    level = np.fromiter(map(_OCTAVE, found), np.int64, count)
    shares = _level_shares(orb, budget)
    present = np.bincount(level, minlength=len(shares))
    wanted = np.zeros(len(present), np.int64)  # levels past ORB's own (none) get nothing
    spare = 0.0  # a level's unused share, handed to the next finer one
    for octave in reversed(range(len(shares))):  # coarse levels have the fewest corners
        wanted[octave] = min(max(int(np.floor(shares[octave] + spare + 0.5)), 0), present[octave])
        spare += shares[octave] - wanted[octave]
    order = _round_robin(points, strength, level, picture.shape)
    # Coarse levels first, each in its round-robin order, cut to the level's number.
    levels = level[order]
    first = np.searchsorted(-levels, -levels)  # where each level's run starts in ``order``
    kept = order[np.arange(count) - first < wanted[levels]]
    return [found[i] for i in kept[:budget].tolist()]


_RESPONSE, _OCTAVE = attrgetter("response"), attrgetter("octave")
_ANGLE, _SIZE = attrgetter("angle"), attrgetter("size")


def _with_weak_corners(
    orb: cv2.ORB, picture: np.ndarray, strong: Sequence[cv2.KeyPoint], budget: int
) -> list[cv2.KeyPoint]:
    """Every strong corner, then the strongest of the weak ones (``LOW_TEXTURE_FAST``) up to
    ``budget``: the strong ones come first, so a low-texture picture keeps all it had."""
    orb.setFastThreshold(LOW_TEXTURE_FAST)
    try:
        weak = orb.detect(picture, None)
    finally:
        orb.setFastThreshold(FAST_THRESHOLD)
    taken = {(round(k.pt[0]), round(k.pt[1]), k.octave) for k in strong}
    added = [k for k in weak if (round(k.pt[0]), round(k.pt[1]), k.octave) not in taken]
    added.sort(key=lambda k: -k.response)
    return [*strong, *added[: budget - len(strong)]]


def _mirrored(
    points: Sequence[cv2.KeyPoint], width: int, scale_factor: float
) -> list[cv2.KeyPoint]:
    """The keypoints where they land in the picture mirrored left-right, turned as they would
    be.

    ORB finds a keypoint on its pyramid level (``width`` / scale, rounded, pixels wide) and
    reports it scaled back: it is mirrored there, or coarse levels would be a pixel or two off.
    The arithmetic is Python's, in float64 arrays (the same rounding: half to even, and a
    remainder with the divisor's sign), and ``cv2.KeyPoint`` is mapped over the columns:
    0.093 -> 0.069 CPU s for the 100k chosen keypoints of the 573 pictures ``keypoints``
    quotes (building the keypoints is most of what is left).
    """
    if not points:
        return []
    count = len(points)
    octave = np.fromiter(map(_OCTAVE, points), np.int64, count)
    scales = np.array([scale_factor**level for level in range(int(octave.max()) + 1)])[octave]
    xy = cv2.KeyPoint_convert(points).reshape(-1, 2).astype(np.float64)
    x = (np.round(width / scales) - 1) * scales - xy[:, 0]
    angle = np.remainder(180.0 - np.fromiter(map(_ANGLE, points), np.float64, count), 360.0)
    return list(
        map(
            cv2.KeyPoint,
            x.tolist(),
            xy[:, 1].tolist(),
            map(_SIZE, points),
            angle.tolist(),
            map(_RESPONSE, points),
            octave.tolist(),
        )
    )


def _level_shares(orb: cv2.ORB, budget: int) -> np.ndarray:
    """Keypoints per pyramid level, as ORB divides its own quota: fewer by the scale factor
    at each coarser level, ``budget`` in all."""
    shares = (1.0 / orb.getScaleFactor()) ** np.arange(orb.getNLevels())
    return budget * shares / shares.sum()


def _round_robin(
    points: np.ndarray, strength: np.ndarray, level: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Indexes of all keypoints, coarsest level first, and within a level the cells of a
    ``GRID`` taking turns.

    Every cell's strongest, then every cell's second strongest, and so on.  Cells with
    little texture (sky, a blurred fill) run out early and leave the budget to the others in
    equal parts, not to the strongest corners anywhere, which would be a caption's or an
    app's text: the footage keeps its share beside them.  Ties keep the detection order.
    """
    height, width = shape[:2]
    cell = (np.minimum(points[:, 1] * GRID // height, GRID - 1) * GRID) + np.minimum(
        points[:, 0] * GRID // width, GRID - 1
    )
    group = level * (GRID * GRID) + cell.astype(np.int64)  # a cell of one level
    count = len(group)
    # Both orders are ``np.lexsort`` orders (stable, last key first), done as a chain of
    # stable sorts sharing the first one, by strength; the small integer keys are sorted as
    # 16 or 8-bit ones, which numpy sorts by radix: 0.33 -> 0.16 CPU s for the 553
    # pictures with more corners than their budget among those ``keypoints`` quotes.
    by_strength = np.argsort(-strength, kind="stable")
    order = by_strength[_stable_order(group[by_strength])]  # by level and cell, strongest first
    sizes = np.bincount(group)
    rank = np.empty(count, np.int64)  # rank of each keypoint within its cell
    rank[order] = np.arange(count) - (np.cumsum(sizes) - sizes)[group[order]]
    order = by_strength[_stable_order(rank[by_strength])]  # round by round ...
    return order[_stable_order(-level[order])]  # ... level by level


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of small integers, as the narrowest type holding
    them (numpy's stable sort of 16-bit and narrower integers is a radix sort)."""
    if len(keys) and keys.min() >= -(2**15) and keys.max() < 2**15:
        keys = keys.astype(np.int16)
    return np.argsort(keys, kind="stable")


def dumps(data: LocalFeatures) -> bytes:
    """Little-endian arrays behind a short header (no pickle: blobs come from disk and bundles)."""
    header = _HEADER.pack(_MAGIC, _KINDS.index(data.kind), len(data.times), len(data.points))
    return b"".join(
        [
            header,
            data.times.astype("<f4").tobytes(),
            data.sizes.astype("<u2").tobytes(),
            np.bincount(data.frame, minlength=len(data.times)).astype("<u2").tobytes(),
            data.points.astype("<f2").tobytes(),  # 1/4 px at 480 px: ample for RANSAC
            data.descriptors.astype(np.uint8).tobytes(),
        ]
    )


def loads(blob: bytes) -> LocalFeatures:
    """Read ``dumps`` output back; ValueError for anything else (damaged, truncated, foreign)."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < _HEADER.size:
        raise ValueError("not ORB local features: too short")
    magic, kind, frames, count = _HEADER.unpack_from(blob)
    if magic != _MAGIC or kind >= len(_KINDS):
        raise ValueError("not ORB local features: wrong header")
    widths = (4, 4, 2, 4, DESCRIPTOR_BYTES)  # bytes per frame x3, per keypoint x2
    expected = _HEADER.size + frames * sum(widths[:3]) + count * sum(widths[3:])
    if len(blob) != expected or not 0 < frames <= MAX_FRAMES:
        raise ValueError(f"not ORB local features: {len(blob)} bytes, expected {expected}")
    at = _HEADER.size

    def take(dtype: str, n: int, shape: tuple[int, ...]) -> np.ndarray:
        nonlocal at
        array = np.frombuffer(blob, dtype=dtype, count=n, offset=at)
        at += array.nbytes
        return array.reshape(shape)

    times = take("<f4", frames, (frames,)).astype(np.float32)
    sizes = take("<u2", frames * 2, (frames, 2)).astype(np.uint16)
    counts = take("<u2", frames, (frames,)).astype(np.int64)
    points = take("<f2", count * 2, (count, 2)).astype(np.float32)
    descriptors = take("u1", count * DESCRIPTOR_BYTES, (count, DESCRIPTOR_BYTES)).copy()
    if int(counts.sum()) != count or not np.isfinite(times).all() or not np.isfinite(points).all():
        raise ValueError("not ORB local features: inconsistent counts or values")
    if frames and (sizes.min() == 0 or (np.diff(times) < 0).any()):
        raise ValueError("not ORB local features: empty picture or times out of order")
    return LocalFeatures(
        kind=_KINDS[kind],
        times=times,
        sizes=sizes,
        frame=np.repeat(np.arange(frames, dtype=np.uint16), counts),
        points=points,
        descriptors=descriptors,
    )
