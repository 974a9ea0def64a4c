"""Turn a media file into a short list of small RGB frames with their times.

Decoding is the only place untrusted bytes meet FFmpeg and Pillow, so every limit lives here:
pixel count, duration, wall-clock time, and the frame budget. Frames come out already shrunk
(at most ``WORK_SIDE`` pixels on the long side) and grey: PDQ hashes luminance only, so colour
would only cost conversion time and memory.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.stream import Disposition
from PIL import Image

from .background import in_background
from .deinterlace import deinterlaced
from .motion import Motion
from .photo import (
    animation_frames,
    is_still,
    read_photo,
    still_picture,
    upright,
)
from .pixels import (
    VideoReformatter,
    luma,
    luma8,
    luma_image,
    luma_thumb,
    sample_aspect,
    small_grey,
    work_grey,
)
from .settings import Limits
from .types import MediaError

WORK_SIDE = 256  # long side of the frames handed to border detection and hashing
# Long side of the larger grey picture anchors also carry, for signals that look at details
# (local features need a few hundred pixels to find corners that survive a crop).
DETAIL_SIDE = 480

# Demuxers allowed for video: self-contained files only (no playlists, no concat lists).
CONTAINER_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,gif,avi,flv,mpegts,mpeg,asf"
# FFmpeg "decodes" text files (.txt, .nfo, .bin, ...) by rendering them as ANSI/text-mode art:
# such a picture is not media, and fingerprinting it would put text files in the library.
TEXT_CODECS = {"ansi", "bintext", "xbin", "idf"}
# A decoder name that matches none: probing a file reads its headers and decodes nothing.
NO_DECODER = "none-while-probing"
# FFmpeg decoder options for every video stream (AVCodecContext names and values).
# Skipping H.264's deblocking filter (it smooths block edges; PDQ looks at a 64x64 picture,
# each pixel an average of many blocks) fingerprints the shared videos 1.19-1.28x faster per
# CPU second, for a median change of 2 PDQ bits per sampled frame (95% within 12 bits, 2.7%
# over 32, max 124), and changed no verdict of the 475 queries of bench/accuracy.py, nor with
# 1M distractor hashes.  skip_frame is not set for the whole stream: noref (1.31-1.34x alone)
# moves 37% of the samples to other frames (13% of hashes change by over 32 bits), nokey
# keeps 1 frame in 8.  Instead ``_frames`` skips, packet by packet, only the non-reference
# frames no sample needs (``SKIP_UNSAMPLED``): 4476 of the 5872 frames are decoded, the
# samples are the same frames at the same times (a scene cut on a skipped frame is seen on
# the next decoded one, or not at all: 1 sample of 43 in 3 of the 14 videos), 1.14x alone and
# no verdict changed.  Decoding is single-threaded: FFmpeg's threads cost CPU seconds for
# the same frames (every frame of the shared videos: one thread 4.80 s, SLICE 5.00, AUTO
# 5.44), and decoding already runs beside the hashing (``background.in_background``); with
# one thread, ``skip_frame`` also applies to exactly the packets it is set for.  Figures:
# bench/speed.py, decoder section, bench/stages.py, and bench/accuracy.py --compare.
# ``skip_idct=all``, ``flags2=+fast`` and ``flags=+gray`` are no use: H.264 decodes every frame
# of a shared video to the same pixels with each, so they save none of its work.
DECODER_OPTIONS: dict[str, str] = {"skip_loop_filter": "all"}


@dataclass(frozen=True)
class Sample:
    time: float
    grey: np.ndarray  # (H, W) uint8, long side <= WORK_SIDE
    anchor: bool  # indexed (see fingerprint.types)
    detail: np.ndarray | None = None  # anchors only: (H, W) uint8, long side <= DETAIL_SIDE
    # Photos only: (H, W) uint8 within photo.PHOTO_SHORT_SIDE x PHOTO_LONG_SIDE, the same read.
    large: np.ndarray | None = None
    # Sampled between grid samples because the picture moves fast (``motion.Motion``): hashed whole
    # only, not mirrored (a mirrored query is searched with its own mirror image).
    between: bool = False


@dataclass(frozen=True)
class Header:
    kind: str  # "video" or "photo"
    width: int  # as stored; rotation metadata may turn the frames (see the samples' shape)
    height: int
    duration: float  # as declared by the container; 0 for photos


def decode(
    source: str | Path | bytes,
    name: str,
    limits: Limits = Limits(),
    *,
    fast_motion: bool = False,
) -> tuple[Header, Iterator[Sample]]:
    """Open a photo, video or animated GIF; its sampled frames come as they are decoded.

    ``fast_motion`` samples frames between grid samples where the picture moves fast
    (``motion.Motion``): for media stored in the library only.  A query keeps the plain grid: extra
    query frames move the temporal vote (a blurred-fill vertical scored 0.52 -> 0.30 against
    its footage, an interlaced capture 0.94 -> 0.80), while extras on the stored side only
    left the first at 0.51.

    Video frames are decoded in a background thread (FFmpeg releases the GIL), so whoever
    consumes the samples works while the next ones are decoded.  Errors found while decoding
    are raised from the iterator as MediaError.
    """
    data = source if isinstance(source, bytes) else None
    if data is None:
        path = Path(source)
        if not path.is_file():
            raise MediaError(name, "no such file")
        if path.stat().st_size == 0:
            raise MediaError(name, "the file is empty (0 bytes)")
    elif not data:
        raise MediaError(name, "the file is empty (0 bytes)")

    photo = read_photo(source, name, limits.max_pixels)
    if photo is not None:
        width, height, large = photo
        if large is None:  # an animation
            header = Header("video", width, height, 0.0)
            return header, in_background(_animation_samples(source, name, limits))
        return _photo(width, height, large)
    return _decode_video(source, name, limits, fast_motion)


def _photo(width: int, height: int, large: np.ndarray) -> tuple[Header, Iterator[Sample]]:
    """A photo's one sample, its smaller pictures shrunk from ``large`` (``read_photo``)."""
    detail = _shrunk(large, DETAIL_SIDE)
    sample = Sample(0.0, _shrunk(detail, WORK_SIDE), True, detail, large)
    return Header("photo", width, height, 0.0), iter([sample])


def _animation_samples(source: str | Path | bytes, name: str, limits: Limits) -> Iterator[Sample]:
    """The sampled frames of an animated WebP or PNG (``photo.animation_frames``)."""
    return _sample_frames(animation_frames(source, name), name, limits, None)


def open_video(
    source: str | Path | bytes, name: str, limits: Limits
) -> tuple[av.container.InputContainer, av.VideoStream]:
    """Open a video and check what its headers declare, before a single frame is decoded.

    FFmpeg normally decodes a frame while probing a file (``avformat_find_stream_info``), so a
    1 kB file declaring 16000x16000 pixels used to cost ~800 MB before any check ran.  Probing
    here is done with no decoder allowed (``codec_whitelist``): only the headers are read.  The
    declared size is checked against ``limits.max_pixels``, and the decoder is then opened with
    FFmpeg's own ``max_pixels``, so a frame larger than declared fails before its memory is
    allocated.  The caller owns (and closes) the container.
    """
    container = _open_container(source, name)
    try:
        if not container.streams.video:
            raise MediaError(name, "the file has no video or picture in it")
        stream = main_video_stream(container.streams.video)
        if _tiled_without_one_whole(container.streams.video):
            reason = "the picture is in tiles oldclip cannot put together (a HEIF grid)"
            raise MediaError(name, reason)
        ctx = stream.codec_context
        if ctx is None:
            raise MediaError(name, "not a photo or video oldclip can read (unknown codec)")
        if ctx.name in TEXT_CODECS:
            raise MediaError(name, "not a photo or video oldclip can read (it is text)")
        width, height = ctx.width or 0, ctx.height or 0
        if width * height > limits.max_pixels:
            raise MediaError(name, f"the video frames are too large ({width}x{height} pixels)")
        ctx.options = {
            **(ctx.options or {}),
            **DECODER_OPTIONS,
            "max_pixels": str(limits.max_pixels),
        }
        ctx.thread_count = 1  # one decoding thread: see DECODER_OPTIONS
    except BaseException:
        container.close()
        raise
    return container, stream


def main_video_stream(streams: Sequence[av.VideoStream]) -> av.VideoStream:
    """The footage among a file's video streams, chosen as FFmpeg's command line chooses.

    A file may hold more than one: a cover picture (the thumbnail an MP4 or MKV carries as an
    attached picture), a small inset or preview beside the main picture.  Taking the first one
    fingerprinted a 160x96 inset instead of the 1280x720 footage of the same MKV.  So: the most
    pixels, a stream marked default counting 5 million more, an attached picture only if there
    is nothing else (``ffmpeg_mux_init.c``, ``map_auto_video``); the first of equals.  A stream
    marked dependent is a part of a picture, not one: a tile of a phone's HEIC, whose tiles
    FFmpeg leaves to its caller to assemble (a 512x512 tile of a 4032x3024 photo outscored the
    file's thumbnail of the whole picture).
    """

    def score(stream: av.VideoStream) -> int:
        if stream.disposition & Disposition.dependent:
            return -2  # never before an attached picture
        if stream.disposition & Disposition.attached_pic:
            return -1
        ctx = stream.codec_context
        area = (ctx.width or 0) * (ctx.height or 0) if ctx is not None else 0
        return area + 5_000_000 * bool(stream.disposition & Disposition.default)

    return max(streams, key=score)


def _tiled_without_one_whole(streams: Sequence[av.VideoStream]) -> bool:
    """Whether a file in tiles (a phone's HEIC grid) has no single whole picture to read.

    Beside its tiles such a file holds its thumbnail, and may hold auxiliary pictures (a
    portrait's depth map, an HDR gain map) that FFmpeg marks no differently: with more than
    one, which is the thumbnail is unknown here (PyAV does not show the item references), and
    reading a depth map as the photo fingerprints a blur of the subject's outline.
    """
    if not any(s.disposition & Disposition.dependent for s in streams):
        return False
    whole = [s for s in streams if not s.disposition & Disposition.dependent]
    return len(whole) != 1


def _open_container(source: str | Path | bytes, name: str) -> av.container.InputContainer:
    # FFmpeg would follow an HLS playlist or a concat list inside an untrusted "video" to any
    # URL or local file (SSRF, file disclosure): only self-contained container formats are
    # opened, and only the file itself may be read.  No decoder may run while probing.
    options = {
        "format_whitelist": CONTAINER_FORMATS,
        "protocol_whitelist": "file,pipe",
        "codec_whitelist": NO_DECODER,
    }
    try:
        if isinstance(source, bytes):
            return av.open(io.BytesIO(source), options=options)
        with open(source, "rb") as probe:  # a path that is not a regular readable file fails here
            probe.read(1)
        return av.open(str(source), options=options)
    except av.FFmpegError as exc:
        reason = ffmpeg_reason(exc)
        raise MediaError(name, f"not a photo or video oldclip can read ({reason})") from None


def ffmpeg_reason(exc: Exception) -> str:
    """What went wrong in an FFmpeg error, without its function names, for people."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":", 1)[-1].strip() or type(exc).__name__


def _decode_video(
    source: str | Path | bytes, name: str, limits: Limits, fast_motion: bool
) -> tuple[Header, Iterator[Sample]]:
    container, stream = open_video(source, name, limits)
    try:
        declared = _declared_duration(container, stream)
        if declared > limits.max_duration:
            raise MediaError(
                name,
                f"the video is {_span(declared)} long; the limit is "
                f"{_span(limits.max_duration)}: cut out the part to check",
            )
    except BaseException:
        container.close()
        raise
    if is_still(container, stream):
        return _still(container, stream, name)
    ctx = stream.codec_context
    header = Header("video", ctx.width or 0, ctx.height or 0, declared)
    return header, in_background(_samples(container, stream, name, limits, fast_motion))


def _still(
    container: av.container.InputContainer, stream: av.VideoStream, name: str
) -> tuple[Header, Iterator[Sample]]:
    """A still picture FFmpeg reads (``photo.is_still``), fingerprinted as a photo."""
    with container:
        try:
            frame = next((frame for _, frame in _frames(container, stream, ())), None)
        except av.FFmpegError as exc:
            reason = ffmpeg_reason(exc)
            raise MediaError(name, f"the picture could not be decoded ({reason})") from None
        if frame is None:
            raise MediaError(name, "the picture could not be decoded; the file may be damaged")
        large = still_picture(frame)
    turned = (large.shape[0] > large.shape[1]) != (frame.height > frame.width)
    width, height = (frame.height, frame.width) if turned else (frame.width, frame.height)
    return _photo(width, height, large)


def _samples(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    name: str,
    limits: Limits,
    fast_motion: bool,
) -> Iterator[Sample]:
    """The sampled frames; a truncated file yields what decoded before the damage."""
    count = 0
    with container:
        try:
            for sample in _sample(container, stream, name, limits, fast_motion):
                count += 1
                yield sample
        except av.FFmpegError as exc:
            if not count:
                reason = ffmpeg_reason(exc)
                raise MediaError(
                    name, f"the video could not be decoded ({reason}); it may be damaged"
                ) from None
    if not count:
        raise MediaError(name, "no frame could be decoded; the file may be damaged or empty")


def _span(seconds: float) -> str:
    """A length of time in the unit a person would use: 22 s, 14 min, 3.0 h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _shrunk(grey: np.ndarray, side: int) -> np.ndarray:
    """``grey`` with its long side at most ``side``, area-averaged."""
    image = Image.fromarray(grey)
    image.thumbnail((side, side), Image.Resampling.BOX)
    return np.asarray(image)


def _mean_change(thumb: np.ndarray, previous: np.ndarray) -> float:
    """Mean absolute grey change between two int16 thumbnails, for every decoded frame.

    The integer sum over the count: the same float as ``.mean()`` (exact sums of small
    integers), without its Python-level bookkeeping, which cost more than the arithmetic.
    """
    change = np.abs(thumb - previous)
    return int(change.sum()) / change.size


def _sample(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    name: str,
    limits: Limits,
    fast_motion: bool,
) -> Iterator[Sample]:
    """The samples of a video stream (``_sample_frames``)."""
    steps = (1.0 / limits.sample_fps, 1.0 / limits.anchor_fps)
    frames = deinterlaced(_frames(container, stream, steps), stream)
    return _sample_frames(frames, name, limits, stream, fast_motion)


def _sample_frames(
    frames: Iterator[tuple[float, av.VideoFrame]],
    name: str,
    limits: Limits,
    stream: av.VideoStream | None,
    fast_motion: bool = False,
) -> Iterator[Sample]:
    """Yield samples on a fixed time grid and at scene cuts (anchors with a detail picture),
    from frames with their times; ``stream`` says their sample aspect ratio, if any.

    With ``fast_motion`` (stored media), where the picture moves fast, frames decoded between
    two grid samples are sampled too (``motion.Motion``), before the grid sample that showed it."""
    dense = _Grid(1.0 / limits.sample_fps)
    anchor = _Grid(1.0 / limits.anchor_fps)
    motion = Motion(dense.step) if fast_motion else None
    last_cut = -1e9
    previous_thumb: np.ndarray | None = None
    scaler = VideoReformatter()  # swscale's context, kept from frame to frame (``work_grey``)
    deadline = time.monotonic() + limits.max_seconds
    for t, frame in frames:
        if time.monotonic() > deadline:
            raise MediaError(name, f"decoding took longer than {limits.max_seconds:.0f} s")
        if t > limits.max_duration:
            raise MediaError(name, "the video runs longer than the duration limit")
        if frame.width * frame.height > limits.max_pixels:  # a stream may change size mid-way
            raise MediaError(name, f"a frame is too large ({frame.width}x{frame.height} pixels)")
        plane = luma(frame)
        thumb = luma_thumb(frame, plane)
        cut = (
            previous_thumb is not None
            and _mean_change(thumb, previous_thumb) > limits.cut_threshold
            and t - last_cut >= limits.min_cut_gap
        )
        previous_thumb = thumb
        if cut:
            last_cut = t
        is_anchor = anchor.due(t) or cut
        if not (dense.due(t) or is_anchor):
            if motion is not None:
                motion.hold(t, frame)
            continue
        # Per frame: the decoder knows the bitstream's aspect only once it has read a frame.
        sar = sample_aspect(stream) if stream is not None else None
        grey = work_grey(frame, WORK_SIDE, sar, scaler)
        for t_between, between in motion.between(t, grey, cut) if motion is not None else ():
            grey_between = upright(work_grey(between, WORK_SIDE, sar, scaler), between)
            yield Sample(t_between, grey_between, False, between=True)
        detail = None
        if is_anchor:
            image = luma_image(frame, luma8(frame, plane)) if plane is not None else None
            detail = small_grey(frame, image, DETAIL_SIDE, sar)
            detail = upright(detail, frame)
        yield Sample(t, upright(grey, frame), is_anchor, detail)


# Whether frames that no sample needs may be left undecoded (``_frames``); bench/speed.py
# turns it off to measure what it saves.
SKIP_UNSAMPLED = True
# A frame is decoded in full when a sample time lies up to this many of its durations before
# it: it may be the first frame at or past that time (1), with room for uneven frame times.
NEEDED_SPAN = 1.5


def _frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    steps: tuple[float, ...],
) -> Iterator[tuple[float, av.VideoFrame]]:
    """The decoded frames with their times from the first one, in presentation order.

    A frame no sample needs is only worth decoding when later frames are predicted from it:
    FFmpeg reads ``skip_frame`` afresh for every packet, so a packet whose time is not just
    past a point of a sampling grid (multiples of ``steps``) is sent with ``NONREF`` and, if
    no other frame refers to it, never reconstructed (a third to a half of H.264 frames).  The
    frames that are decoded are the same pixels at the same times as without skipping, so the
    samples keep their exact frames; only scene cuts are looked for on decoded frames alone.
    A packet without a time or a duration is decoded: skipping is never a guess.
    """
    ctx = stream.codec_context
    # Packet times as int / int: the same correctly rounded floats as float(pts * time_base),
    # without building a Fraction per packet (a tenth of the decoding thread's Python time).
    num, den = (
        (stream.time_base.numerator, stream.time_base.denominator) if stream.time_base else (0, 1)
    )
    rate = stream.average_rate or stream.guessed_rate
    nominal = float(1 / rate) if rate else 0.0
    start: float | None = None
    skipping = False
    for packet in container.demux(stream):
        needed = True
        if SKIP_UNSAMPLED and start is not None and packet.pts is not None and num:
            t = packet.pts * num / den - start
            span = NEEDED_SPAN * (packet.duration * num / den if packet.duration else nominal)
            needed = span <= 0 or any(_point_within(step, t - span, t) for step in steps)
        if needed == skipping:
            skipping = not needed
            ctx.skip_frame = "NONREF" if skipping else "DEFAULT"
        for frame in ctx.decode(packet):
            if frame.pts is None or frame.time is None:
                continue
            if start is None:
                start = frame.time
            yield frame.time - start, frame


def _point_within(step: float, low: float, high: float) -> bool:
    """Whether a multiple of ``step`` lies in (low, high] (``high`` rounded up as _Grid does)."""
    return int((high + 1e-6) // step) * step > low


class _Grid:
    """Says when a time reaches the next point of a regular grid (then moves past it)."""

    def __init__(self, step: float):
        self.step = step
        self.next = 0.0

    def due(self, t: float) -> bool:
        if t + 1e-6 < self.next:
            return False
        self.next = (int((t + 1e-6) / self.step) + 1) * self.step
        return True
