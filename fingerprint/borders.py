"""Find the picture inside letterbox bars, pillarbox bars and screen-recording frames.

Reposts pad footage to 16:9 or 9:16, or film it inside a player window. A hash of the padded
frame is a hash of the padding, so the content box is found first and only it is hashed.
Two cues, because neither is enough alone:

* spatial: rows and columns at the edge that are flat (one colour, little texture);
* temporal (videos): a player's chrome and the bars stay still while the footage moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLAT_STD = 10.0  # a row whose grey levels vary less than this is padding
MIN_KEEP = 0.3  # never shrink a side below this fraction: a dark scene is not a border
STILL_RATIO = 0.12  # a line moving less than this share of the picture's median motion is chrome
MIN_MOTION = 3.0  # below this median temporal deviation the video is too still to judge motion


@dataclass(frozen=True)
class Box:
    """A crop in pixels of the work-size frames: rows top:bottom, columns left:right."""

    top: int
    bottom: int
    left: int
    right: int

    def apply(self, frame: np.ndarray) -> np.ndarray:
        return frame[self.top : self.bottom, self.left : self.right]


def content_box(frames: list[np.ndarray]) -> Box:
    """The box holding the footage, common to every frame of one media item."""
    grey = np.stack([_grey(f) for f in frames])  # (T, H, W)
    height, width = grey.shape[1:]
    top, bottom = _flat_edges(grey, axis=2)
    left, right = _flat_edges(grey, axis=1)
    if len(frames) >= 3:
        inner = grey[:, top:bottom, left:right]
        t2, b2 = _still_edges(inner, axis=2)
        l2, r2 = _still_edges(inner, axis=1)
        top, bottom = top + t2, top + b2
        left, right = left + l2, left + r2
    if bottom - top < MIN_KEEP * height:
        top, bottom = 0, height
    if right - left < MIN_KEEP * width:
        left, right = 0, width
    return Box(top, bottom, left, right)


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _trim(is_border: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index that is not border, scanning in from both ends."""
    keep = np.flatnonzero(~is_border)
    if len(keep) == 0:
        return 0, len(is_border)
    return int(keep[0]), int(keep[-1]) + 1


def _flat_edges(grey: np.ndarray, axis: int) -> tuple[int, int]:
    """Lines (rows for axis=2, columns for axis=1) that are flat in most frames."""
    spread = grey.std(axis=axis)  # (T, lines)
    flat_share = (spread < FLAT_STD).mean(axis=0)
    return _trim(flat_share >= 0.8)


def _still_edges(grey: np.ndarray, axis: int) -> tuple[int, int]:
    """Lines that barely change over time, when the rest of the picture does."""
    motion = grey.std(axis=0)  # (H, W): how much each pixel changes over the video
    median = float(np.median(motion))
    if median < MIN_MOTION:
        return 0, motion.shape[0 if axis == 2 else 1]
    per_line = motion.mean(axis=1 if axis == 2 else 0)
    return _trim(per_line < STILL_RATIO * median)
