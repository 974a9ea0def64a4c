"""Photos and animated WebP or PNG, read by Pillow (``fingerprint.decode`` reads the rest),
and the still pictures FFmpeg reads (a phone's HEIC), which are photos too.

Pillow honours EXIF orientation, and reads the animations FFmpeg's WebP and PNG decoders take
for one picture.  Every file is first offered to Pillow (a photo is one picture, read once),
so Pillow tries only the readers of ``PHOTO_FORMATS``: asked to try them all, it imported its
~45 readers and tried each on every video, ~15 ms of every `oldclip check`.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import (  # noqa: F401 - a *ImagePlugin registers its format's reader (PHOTO_OPEN)
    AvifImagePlugin,
    BmpImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from .pixels import luma, luma8, luma_image, small_grey
from .types import MediaError

# A photo is one picture, so signals can afford to look at it larger: its ``large`` picture has
# its short side at most PHOTO_SHORT_SIDE and its long side at most PHOTO_LONG_SIDE (a phone
# screenshot shows the footage in a strip of it, ~200 px wide at 480 px on the long side).
PHOTO_SHORT_SIDE = 720
PHOTO_LONG_SIDE = 1280
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP", "MPO", "BMP", "TIFF", "AVIF"}
# The readers Pillow tries, in its own order (an MPO, a phone's JPEG with a second picture, is
# read by JPEG's reader).
PHOTO_OPEN = tuple(name for name in Image.ID if name in PHOTO_FORMATS)
# libavif would decode on every core (Pillow's default 0); one thread as for video
# (``decode.DECODER_OPTIONS``): workers run side by side, and a file is charged its own CPU.
AvifImagePlugin.DEFAULT_MAX_THREADS = 1


def read_photo(
    source: str | Path | bytes, name: str, max_pixels: int
) -> tuple[int, int, np.ndarray | None] | None:
    """(width, height, picture) of a still image, None for anything else; an animated WebP or
    PNG comes back without a picture (its frames: ``animation_frames``).

    The photo is read once, at its ``large`` size (``decode.Sample.large``), upright and grey;
    the smaller pictures are shrunk from it (reading it again at each size cost a second JPEG
    decode per photo).  Width and height are as shown (turned by its EXIF orientation).
    """
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp, formats=PHOTO_OPEN) as img:  # GIF etc.: the video decoder
                width, height = img.size
                if width * height > max_pixels:
                    raise MediaError(name, f"the photo is too large ({width}x{height} pixels)")
                # An MPO's second picture is a phone's depth map, gain map or preview, not a
                # frame of an animation: the photo is its first picture (read as a one-frame
                # video, it lost the rotations a photo is hashed in).
                if getattr(img, "is_animated", False) and img.format != "MPO":
                    # An AVIF sequence is a video: FFmpeg decodes it under the video
                    # path's limits (declared length, one thread, frames skipped).
                    return None if img.format == "AVIF" else (width, height, None)
                img.draft("L", (PHOTO_SHORT_SIDE, PHOTO_SHORT_SIDE))  # JPEG: decode smaller
                img = ImageOps.exif_transpose(img).convert("L")
                size = photo_size(*img.size)
                frame = np.asarray(
                    img if size == img.size else img.resize(size, Image.Resampling.BOX)
                )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None  # not a photo Pillow knows (or damaged): let the video decoder judge
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise MediaError(name, f"the photo is a decompression bomb ({exc})") from None
    oriented_h, oriented_w = frame.shape[:2]
    if (oriented_w > oriented_h) != (width > height):
        width, height = height, width
    return width, height, frame


def photo_size(width: int, height: int) -> tuple[int, int]:
    """The size of a photo's ``large`` picture: ``width`` x ``height`` shrunk (never grown) to
    PHOTO_SHORT_SIDE on the short side and PHOTO_LONG_SIDE on the long one."""
    scale = min(PHOTO_SHORT_SIDE / min(width, height), PHOTO_LONG_SIDE / max(width, height), 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def is_still(container: av.container.InputContainer, stream: av.VideoStream) -> bool:
    """Whether FFmpeg reads the stream as one still picture: an image item of a HEIF or AVIF
    file (FFmpeg's MOV reader makes it a stream of one frame and no duration).

    Pillow has no HEIF reader, so a phone's HEIC came through FFmpeg as a one-frame video and
    lost what a photo gets: a turned repost of a stored photo matched by local features only,
    never by PDQ (a photo is hashed in its eight rotations and flips, a video is not).  The
    file's name and brand are not asked (they can lie); a one-frame file that declares no
    length is one picture whatever it claims to be.
    """
    return stream.frames == 1 and stream.duration is None and container.duration is None


def still_picture(frame: av.VideoFrame) -> np.ndarray:
    """The ``large`` picture of a still image FFmpeg decoded (``read_photo``'s), upright as
    its rotation metadata says (HEIF's ``irot``, which phones write instead of turning pixels)."""
    plane = luma(frame)
    image = luma_image(frame, luma8(frame, plane)) if plane is not None else None
    return upright(small_grey(frame, image, max(photo_size(frame.width, frame.height))), frame)


def upright(picture: np.ndarray, frame: av.VideoFrame) -> np.ndarray:
    """``picture`` turned as the frame's rotation metadata says."""
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if not rotation:
        return picture
    return np.ascontiguousarray(np.rot90(picture, k=rotation // 90))


def animation_frames(
    source: str | Path | bytes, name: str
) -> Iterator[tuple[float, av.VideoFrame]]:
    """The frames of an animated WebP or PNG with their times, composited by Pillow.

    Sites serve "GIFs" as animated WebP, and FFmpeg's WebP decoder reads no animation: such a
    file used to be fingerprinted as a photo of its first frame, which matched nothing when
    that frame was a title card.  Pillow composites each frame (disposal, blending) into a
    whole picture; its duration, in milliseconds, places the next one.  A damaged file
    yields what was read before the damage.
    """
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(fp, formats=PHOTO_OPEN) as img:
        t = 0.0
        for index in range(img.n_frames):
            try:
                img.seek(index)
                frame = av.VideoFrame.from_image(img.convert("RGB"))
            except (OSError, ValueError, EOFError):
                if not index:
                    raise MediaError(name, "the animation could not be decoded") from None
                return
            yield t, frame
            t += (img.info.get("duration") or 100) / 1000
