"""The knobs of decoding and matching, apart from the machinery.

A config file names them, and the command line reads the config before it knows whether it
will decode or match anything: this module costs nothing to import (no FFmpeg, numpy, faiss).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from costing unbounded time or memory."""

    max_pixels: int = 8192 * 8192  # per frame or photo
    max_duration: float = 3 * 3600.0  # seconds of video
    max_seconds: float = 300.0  # wall-clock budget for decoding one file
    sample_fps: float = 6.0  # frames hashed per second of video (all searched with)
    anchor_fps: float = 2.0  # of which indexed per second (what stored media cost in memory)
    cut_threshold: float = 28.0  # mean grey-level change that counts as a scene cut
    min_cut_gap: float = 0.2  # seconds between two frames taken at cuts


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds, in PDQ bits (of 256) and seconds.  ``bench/accuracy.py`` tunes them."""

    index_radius: int = 64  # a stored frame this close makes its media a candidate
    frame_radius: int = 76  # a frame pair this close counts as agreeing, during verification
    photo_radius: int = 40  # a lone frame (photo) must be this close
    min_score: float = 0.25
    # Picture evidence this strong but under ``min_score`` counts when the sound places the
    # query at the same offset (a covered or filmed-off-a-screen repost keeping its sound);
    # alone it is nothing.  Half of ``min_score``: not tuned yet (bench/accuracy.py).
    support_score: float = 0.125
    time_tolerance: float = 1.0  # seconds off the fitted line still counted
    max_candidates: int = 25
    # A frame this close to a benign frame is ignored, and the benign media it is close to are
    # verified against the whole video (``without_ignored``).  Measured on the shared videos
    # and their bench edits: no frame of another scene came within 72 of ~30k benign hashes;
    # a shared intro that makes a library clip match an unrelated video was missed in 72 of
    # 11,424 spliced cases at 56, 60 at 64 (the rest: a 15% crop, shared filler, a caption).
    benign_radius: int = 64
