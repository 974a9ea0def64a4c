"""Grey pictures of decoded video frames, as a viewer would see them.

Reposts carry the quirks of the devices and sites they passed through, and each would make the
same footage look different to the signals if the stored pixels were taken as they are:

* bit depth: phones record 10-bit HEVC (HDR), and AV1/VP9 re-encodes may be 10-bit; their
  luma samples are 16-bit words, which read as bytes are a scrambled picture;
* sample aspect ratio: TV captures (DVB 720x576 at 64:45, HDV 1440x1080 at 4:3) store a
  16:9 picture squeezed into fewer columns, which players stretch back; PDQ hashes a square
  anyway, but local features are not invariant to a squeeze (ORB matched none of a squeezed
  16:9 clip's anchors, 3 of the same clip at square pixels);
* range: video luma runs 16..235 unless the stream says full range (phones' yuvj).

Rotation metadata is applied by the caller, to the small pictures made here.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

CUT_SIDE = 16  # size of the thumbnails compared to find scene cuts
# A sample aspect ratio outside these bounds is not a real anamorphic format (those span 8:9
# to 2:1); a file declaring one is treated as square pixels, not stretched to a sliver.
MIN_SAR, MAX_SAR = Fraction(1, 4), Fraction(4)


def work_size(width: int, height: int, side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to fit ``side`` on the long side."""
    scale = side / max(width, height)
    if scale >= 1:
        return width, height
    return max(2, round(width * scale)), max(2, round(height * scale))


def display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    """The picture's size at square pixels: the stored size stretched by the sample aspect
    ratio (``sar`` pixel width over height), along the axis it widens."""
    if not sar or sar == 1 or not MIN_SAR <= sar <= MAX_SAR:
        return width, height
    if sar > 1:
        return max(1, round(width * sar)), height
    return width, max(1, round(height / sar))


def sample_aspect(stream: av.VideoStream) -> Fraction | None:
    """The pixels' aspect ratio: the container's, else the bitstream's (as FFmpeg's
    ``av_guess_sample_aspect_ratio``).  The decoder sets the latter once it has read a frame,
    so this is asked per frame."""
    return stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or None


def luma(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's luma plane as a (height, width) view of the frame's memory, for planar YUV
    and grey: uint8 for 8-bit planes, the 16-bit words of deeper ones (little-endian, 9..16
    bits); None for other pixel formats.

    Asking FFmpeg to convert and scale a frame costs more than decoding it; the Y plane is
    already the grey picture PDQ hashes.  Deeper planes are left as words: every decoded frame
    gives a cut thumbnail (``luma_thumb``), but only sampled ones need 8 bits (``luma8``);
    converting each whole 10-bit plane cost 50 us for 480x720 (3 us now for the thumbnail's
    pixels), for the 3 decoded frames in 4 that no sample takes.
    """
    fmt = frame.format
    if not fmt.name.startswith(("yuv", "yuvj", "nv12", "nv21", "gray")):
        return None
    plane = frame.planes[0]
    bits = fmt.components[0].bits
    if bits == 8:
        return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[
            : frame.height, : frame.width
        ]
    if not 8 < bits <= 16 or fmt.name.endswith("be"):
        return None
    words = np.frombuffer(plane, "<u2").reshape(-1, plane.line_size // 2)
    return words[: frame.height, : frame.width]


def luma8(frame: av.VideoFrame, plane: np.ndarray) -> np.ndarray:
    """``plane`` (``luma(frame)``) in 8 bits: itself, or a deeper plane's 8 high bits."""
    if plane.dtype == np.uint8:
        return plane
    return (plane >> (frame.format.components[0].bits - 8)).astype(np.uint8)


def luma_thumb(frame: av.VideoFrame, plane: np.ndarray | None) -> np.ndarray:
    """A coarse grey thumbnail for cut detection (``plane``: ``luma(frame)``)."""
    if plane is None:
        return frame.to_ndarray(format="gray", width=CUT_SIDE, height=CUT_SIDE).astype(np.int16)
    step_y = max(1, plane.shape[0] // CUT_SIDE)
    step_x = max(1, plane.shape[1] // CUT_SIDE)
    thumb = plane[::step_y, ::step_x][:CUT_SIDE, :CUT_SIDE]
    return luma8(frame, thumb).astype(np.int16)


def luma_image(frame: av.VideoFrame, plane: np.ndarray) -> Image.Image:
    """The luma plane as a Pillow image; for 8-bit frames over the frame's own memory
    (``Image.fromarray`` of the strided plane copied it, twice for an anchor)."""
    if frame.format.components[0].bits != 8:  # a deeper plane, already copied to 8 bits
        return Image.fromarray(plane)
    raw = frame.planes[0]
    size = (frame.width, frame.height)
    return Image.frombuffer("L", size, raw, "raw", "L", raw.line_size, 1)


def small_grey(
    frame: av.VideoFrame, image: Image.Image | None, side: int, sar: Fraction | None = None
) -> np.ndarray:
    """The detail picture (local features): the frame in grey at square pixels, ``side`` on
    the long side at most, area-averaged so that small details do not alias.

    Not swscale as ``work_grey``, though 5x cheaper (109 against 608 us for 480x720 to
    480 px): ORB's corners moved, and a 9:16 cut of the doorknob clip, near the line, lost
    its match (tests/test_local_features.py, weaker corners).

    ``image`` is its luma plane (``luma_image``), None for other pixel formats.  Pillow's
    whole-factor ``reduce`` then a box resize: OpenCV's INTER_AREA took 3.5x its CPU
    for 1080p to 256 px (a factor of 7.5 takes its slow general path), and changed PDQ by a
    median 4 bits (max 36) on the shared videos.
    """
    w, h = work_size(*display_size(frame.width, frame.height, sar), side)
    if image is None:
        return frame.reformat(width=w, height=h, format="gray", interpolation="AREA").to_ndarray()
    factor = min(image.width // w, image.height // h)
    if factor >= 2:
        image = image.reduce(factor)  # fast box filter by a whole factor, then the remainder
    small = np.asarray(image.resize((w, h), Image.Resampling.BOX))
    full_range = frame.format.name.startswith("yuvj") or getattr(frame, "color_range", 0) == 2
    if not full_range:  # video black is 16, white 235: make 0..255
        return _expand_limited_range(small)
    return small


def _expand_limited_range(grey: np.ndarray) -> np.ndarray:
    """Video-range grey (16..235) stretched to 0..255 by table look-up.

    OpenCV's LUT: a third of ``np.take``'s CPU on the work and detail pictures, the same
    bytes (Image.point re-rounds its table).  Imported here, not with the module: commands
    that never decode import this module too, and the "orb" signal loads OpenCV anyway.
    """
    import cv2

    return cv2.LUT(grey, _EXPAND_LIMITED_RANGE)


_EXPAND_LIMITED_RANGE = np.array(
    [min(255, max(0, round((v - 16) * 255 / 219))) for v in range(256)], np.uint8
)


def work_grey(
    frame: av.VideoFrame,
    side: int,
    sar: Fraction | None = None,
    scaler: VideoReformatter | None = None,
) -> np.ndarray:
    """The work picture (PDQ, borders, cuts): the frame in grey at square pixels, full range,
    ``side`` on the long side at most, area-averaged so that small details do not alias.

    One call of FFmpeg's swscale (``AREA``, one thread) takes the luma plane to the small
    size and stretches video range (16..235) to 0..255, where ``small_grey`` (Pillow's
    whole-factor ``reduce``, a box resize, a look-up table) took 289 us for a 480x720 frame
    to 256 px, 68 now: 0.2-0.3 of the 14 shared videos' ~7.3 CPU s.  Pixels differ by a
    mean 0.3-1.1 levels (at the edges of bars up to 52), PDQ hashes by a median 4 bits (95%
    within 10, 0.16% over 32), and no verdict of bench/accuracy.py changed (padded library
    included).  ``scaler`` keeps swscale's context from one frame to the next
    (``frame.reformat`` makes one per call): one per video.  Pixel formats without a luma
    plane (RGB, palettes) are converted as before, with FFmpeg's defaults.
    """
    w, h = work_size(*display_size(frame.width, frame.height, sar), side)
    if luma(frame) is None:
        return frame.reformat(width=w, height=h, format="gray", interpolation="AREA").to_ndarray()
    full_range = frame.format.name.startswith("yuvj") or getattr(frame, "color_range", 0) == 2
    small = (scaler or VideoReformatter()).reformat(
        frame,
        width=w,
        height=h,
        format="gray",
        interpolation="AREA",
        src_color_range="JPEG" if full_range else "MPEG",
        dst_color_range="JPEG",
        threads=1,
    )
    return small.to_ndarray()
