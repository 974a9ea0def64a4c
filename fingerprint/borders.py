"""Find the picture inside letterbox bars, pillarbox bars and screen-recording frames.

Reposts pad footage to 16:9 or 9:16, stamp a logo on the bar, or film it inside a player
window. A hash of the padded frame is a hash of the padding, so the content box is found
first and only it is hashed. Two cues, because neither is enough alone:

* spatial: rows and columns at the edge that are dark, allowing a logo or a caption on part of
  their length;
* temporal (videos): a player's chrome and the bars stay still while the footage moves.

Compilations splice footage with different padding, so each shot (frames between scene cuts)
gets its own box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DARK = 40.0  # pixels darker than this are bar-coloured ...
DARK_SHARE = 0.75  # ... and a line this dark is a bar (a logo or caption may cover the rest)
MIN_KEEP = 0.15  # never shrink a side below this fraction: a dark scene is not a border
STILL = 3.0  # a line moving less than this (grey levels, codec noise included) is still ...
STILL_RATIO = 0.15  # ... if the footage beside it moves at least this much more
MIN_MOTION = 4.0  # below this the shot is too still to tell chrome from footage
CUT = 30.0  # mean grey change between sampled frames that starts a new shot


@dataclass(frozen=True)
class Box:
    """A crop in pixels of the work-size frames: rows top:bottom, columns left:right."""

    top: int
    bottom: int
    left: int
    right: int

    def apply(self, frame: np.ndarray) -> np.ndarray:
        return frame[self.top : self.bottom, self.left : self.right]


def content_box(grey: np.ndarray) -> Box:
    """The box common to a stack of grey frames (T, H, W, float32) of one shot."""
    height, width = grey.shape[1:]
    top, bottom = _flat_edges(grey, axis=2)
    left, right = _flat_edges(grey, axis=1)
    if len(grey) >= 3:
        inner = grey[:, top:bottom, left:right]
        (t2, b2), (l2, r2) = _still_edges(inner)
        top, bottom = top + t2, top + b2
        left, right = left + l2, left + r2
    if bottom - top < MIN_KEEP * height:
        top, bottom = 0, height
    if right - left < MIN_KEEP * width:
        left, right = 0, width
    return Box(top, bottom, left, right)


def is_cut(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two consecutive sampled frames belong to different shots."""
    if before.shape != after.shape:
        return True
    a, b = before[::8, ::8].astype(np.float32), after[::8, ::8].astype(np.float32)
    return float(np.abs(a - b).mean()) > CUT


def _trim(is_border: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index that is not border, scanning in from both ends."""
    keep = np.flatnonzero(~is_border)
    if len(keep) == 0:
        return 0, len(is_border)
    return int(keep[0]), int(keep[-1]) + 1


def _flat_edges(grey: np.ndarray, axis: int) -> tuple[int, int]:
    """Lines (rows for axis=2, columns for axis=1) that are dark bars in most frames.

    Only dark lines count: a plain wall or sky in the footage is as plain as a grey bar, and
    trimming it would make the box, and so the hashes, depend on how plain the wall looks.
    """
    dark = (grey < DARK).mean(axis=axis) >= DARK_SHARE  # (T, lines)
    return _trim(dark.mean(axis=0) >= 0.8)


def _still_edges(grey: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """Rows and columns at the edge that barely change while the footage does."""
    motion = grey.std(axis=0)  # (H, W): how much each pixel changes over the shot
    # A line is still when nearly all its pixels are: footage filmed by a hand or a moving
    # camera has some motion on every line, even across a plain wall.
    by_row = np.percentile(motion, 95, axis=1)
    by_col = np.percentile(motion, 95, axis=0)
    # The footage may fill a small part of a player window: judge it by its busiest lines.
    reference = max(float(np.percentile(by_row, 95)), float(np.percentile(by_col, 95)))
    if reference < MIN_MOTION:
        return (0, len(by_row)), (0, len(by_col))
    limit = min(STILL, STILL_RATIO * reference)
    return _trim(by_row < limit), _trim(by_col < limit)
