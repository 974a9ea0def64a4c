"""The pictures the bot sends: a side-by-side comparison and key frames to reverse-search.

Frames are read from untrusted files with the same caution as ``fingerprint.decode``: only
self-contained container formats (no playlists), only the file itself, bounded pixel count,
duration and wall-clock time (``fingerprint.Limits``); failures raise ``fingerprint.MediaError``
with a reason a person can act on.

About the labels on the pictures: they are drawn with Pillow's built-in scalable font
(``ImageFont.load_default(size=...)``, Aileron), which covers Latin letters only: it has no
Arabic glyphs, and not even the en and em dashes.  So the labels drawn on a picture are in
English (:func:`picture_labels` picks them, whatever the chat's language) with dates and numbers
in Latin digits; :func:`side_by_side` replaces dashes, typographic quotes and Arabic-Indic
digits by their ASCII forms and drops anything else the font cannot draw.  The message sent
with the picture carries the text in the person's language.
"""

from __future__ import annotations

import functools
import io
import time
import unicodedata
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from fingerprint import Limits, MediaError
from fingerprint.decode import decode, ffmpeg_reason, open_video
from fingerprint.photo import PHOTO_OPEN
from fingerprint.pixels import display_size, sample_aspect, work_size

from .i18n import RTL, t

PANEL_HEIGHT = 480  # height each picture is scaled to
MAX_WIDTH = 1280  # of the whole side-by-side picture
GAP = 8  # pixels between the two pictures
JPEG_QUALITY = 85
BACKGROUND = (20, 20, 20)
LABEL_COLOUR = (255, 255, 255)
MIN_FONT = 11
DEFAULT_LIMITS = Limits()

# Languages whose label text the default font can draw; others get English labels.
PICTURE_LANGUAGES = frozenset({"en"})

# A frame is "flat" (black screen, fade, title card of one colour) below these.
FLAT_MEAN = 14.0  # mean grey level: near-black
FLAT_STD = 8.0  # grey-level spread: one colour


# --- side by side -------------------------------------------------------------------------


def picture_labels(
    lang: str, *, ref_date: str, query_date: str | None = None, sighting: bool = False
) -> tuple[str, str]:
    """The two labels for :func:`side_by_side`, in ``lang`` if the picture font can draw it.

    ``query_date`` is when the person's copy was posted (forwarded messages), ``ref_date`` when
    the library's copy was first published (or first seen, with ``sighting=True``).  Dates are
    expected as ISO strings in Latin digits (``2017-06-20``).
    """
    lang = lang if lang in PICTURE_LANGUAGES else "en"
    if query_date:
        query = t(lang, "label_query_forwarded", date=query_date)
    else:
        query = t(lang, "label_query")
    ref = t(lang, "label_sighting" if sighting else "label_library_published", date=ref_date)
    return query, ref


def side_by_side(
    query_frame: np.ndarray,
    ref_frame: np.ndarray,
    *,
    query_label: str,
    ref_label: str,
    lang: str = "en",
) -> bytes:
    """A JPEG of the person's frame (left) beside the library's frame (right), labelled.

    Both frames (grey ``(H, W)`` or RGB ``(H, W, 3)`` uint8; RGBA loses its alpha) are scaled
    to the same height, ``PANEL_HEIGHT`` px, or less if the two would be wider than
    ``MAX_WIDTH`` together; a label bar runs under each.  Labels should be plain text in a
    script the default font can draw (see the module docstring and :func:`picture_labels`);
    what it cannot draw is replaced or dropped.  ``lang`` is the labels' language: a
    right-to-left one is drawn right-aligned and shaped right-to-left, which only happens once
    ``PICTURE_LANGUAGES`` includes one (i.e. with a font that has its glyphs).
    """
    left = _to_image(query_frame, "query_frame")
    right = _to_image(ref_frame, "ref_frame")
    height = PANEL_HEIGHT
    widths = [max(1, round(img.width * height / img.height)) for img in (left, right)]
    if sum(widths) + GAP > MAX_WIDTH:
        scale = (MAX_WIDTH - GAP) / sum(widths)
        height = max(1, int(height * scale))
        widths = [max(1, int(w * scale)) for w in widths]
    panels = [
        img.resize((w, height), Image.Resampling.LANCZOS)
        for img, w in zip((left, right), widths, strict=True)
    ]
    bar = max(30, round(height * 0.1))
    canvas = Image.new("RGB", (widths[0] + GAP + widths[1], height + bar), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    x = 0
    rtl = lang in RTL and lang in PICTURE_LANGUAGES
    for panel, label in zip(panels, (query_label, ref_label), strict=True):
        canvas.paste(panel, (x, 0))
        _draw_label(draw, _drawable(label), (x, height, x + panel.width, height + bar), rtl)
        x += panel.width + GAP
    return _jpeg(canvas)


def _to_image(frame: np.ndarray, what: str) -> Image.Image:
    pixels = np.asarray(frame)
    if pixels.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, not {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    if pixels.ndim == 2:
        mode = "L"
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        mode = "RGB"
    else:
        raise ValueError(f"{what} must be (H, W) grey or (H, W, 3) RGB, not {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"{what} is empty")
    return Image.fromarray(np.ascontiguousarray(pixels), mode).convert("RGB")


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@functools.cache
def _can_draw(char: str) -> bool:
    """Whether the default font has a glyph for ``char`` (not its "missing" box)."""
    font = _font(24)
    missing = font.getmask("\U000e0fff")  # an unassigned code point: the font's .notdef glyph
    mask = font.getmask(char)
    return mask.size != missing.size or bytes(mask) != bytes(missing)


_ASCII = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u00a0": " ",
        "\u060c": ",",  # Arabic comma
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Extended Arabic-Indic (Persian)
    }
)


def _drawable(label: str) -> str:
    """``label`` with what the default font cannot draw replaced or dropped."""
    text = label.translate(_ASCII)
    kept = []
    for char in text:
        if unicodedata.category(char) == "Cf":  # bidi marks and isolates, joiners
            continue
        if char.isspace():
            kept.append(" ")
        elif _can_draw(char):
            kept.append(char)
    return " ".join("".join(kept).split()).strip(" :,;-")


def _draw_label(
    draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], rtl: bool
) -> None:
    """Draw ``text`` in the box: the largest size that fits on one line, else on two."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0 - 12, y1 - y0
    if not text or width <= 0:
        return
    largest = max(MIN_FONT, round(height * 0.5))
    lines, font = _fit(draw, text, width, height, largest)
    spacing = 2
    sizes = [draw.textbbox((0, 0), line, font=font) for line in lines]
    total = sum(b[3] - b[1] for b in sizes) + spacing * (len(lines) - 1)
    y = y0 + (height - total) / 2
    direction = "rtl" if rtl else None
    for line, (bx0, by0, bx1, by1) in zip(lines, sizes, strict=True):
        x = x1 - 6 - (bx1 - bx0) if rtl else x0 + 6
        draw.text((x - bx0, y - by0), line, font=font, fill=LABEL_COLOUR, direction=direction)
        y += by1 - by0 + spacing


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, height: int, largest: int
) -> tuple[list[str], ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    def fits(line: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> bool:
        return draw.textlength(line, font=font) <= width

    for size in range(largest, MIN_FONT - 1, -1):
        font = _font(size)
        if fits(text, font):
            return [text], font
        if 2 * size * 1.15 <= height - 4:
            two = _two_lines(text)
            if len(two) == 2 and all(fits(line, font) for line in two):
                return two, font
    font = _font(MIN_FONT)
    while len(text) > 1 and not fits(text + "…", font):
        text = text[:-1]
    return [text.rstrip() + "…"], font


def _two_lines(text: str) -> list[str]:
    """Split at " - " if there is one, else at the space nearest the middle."""
    if " - " in text:
        head, tail = text.split(" - ", 1)
        return [head, tail]
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return [text]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return [text[:cut], text[cut + 1 :]]


def _jpeg(image: Image.Image) -> bytes:
    if image.width > MAX_WIDTH:
        image = image.resize(
            (MAX_WIDTH, max(1, round(image.height * MAX_WIDTH / image.width))),
            Image.Resampling.LANCZOS,
        )
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def compare(
    query_path: str | Path,
    query_at: float,
    query_label: str,
    ref_path: str | Path,
    ref_at: float,
    ref_label: str,
    *,
    lang: str = "en",
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """:func:`side_by_side` of the frame of each file at its given second.

    It decodes two untrusted files: ``oldclip run`` calls it in a worker process (through the
    ``Checker`` port), never in the bot's own process.  Raises MediaError.
    """
    return side_by_side(
        frame_at(query_path, query_at, limits=limits),
        frame_at(ref_path, ref_at, limits=limits),
        query_label=query_label,
        ref_label=ref_label,
        lang=lang,
    )


# --- frames of a file ---------------------------------------------------------------------


def frame_at(
    path: str | Path, seconds: float, *, side: int = 720, limits: Limits = DEFAULT_LIMITS
) -> np.ndarray:
    """An RGB frame of the video at ``seconds`` (or the photo), at most ``side`` px long.

    Seconds count from the video's first frame, as in ``fingerprint`` (so a Match's times can
    be passed as they are).  The frame is the one nearest the time; past the end, the last
    frame.  Photos are turned upright by their EXIF orientation.
    """
    path, name = _check_file(path)
    if not np.isfinite(seconds):
        raise ValueError(f"seconds must be a finite number, not {seconds!r}")
    photo = _read_photo(path, name, side, limits)
    if photo is not None:
        return photo
    return _video_frame(path, name, max(0.0, float(seconds)), side, limits)


def key_frames(
    path: str | Path, count: int = 4, *, side: int = 720, limits: Limits = DEFAULT_LIMITS
) -> list[bytes]:
    """JPEGs of up to ``count`` frames spread over a video, or of the photo itself.

    The video is cut into ``count`` equal stretches; from each, the most detailed frame is
    taken (black or one-colour frames never are: a stretch that has only those gives none).
    If the whole video is flat, its most detailed frame is still returned, so the list is
    never empty.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    path, name = _check_file(path)
    header, samples = decode(path, name, limits)
    if header.kind == "photo":
        return [_jpeg(Image.fromarray(frame_at(path, 0.0, side=side, limits=limits)))]
    scored = [(sample.time, _detail(sample.grey)) for sample in samples]
    end = scored[-1][0] + 1e-3
    picks: list[float] = []
    for part in range(count):
        lo, hi = end * part / count, end * (part + 1) / count
        stretch = [(score, t) for t, score in scored if lo <= t < hi and score > 0]
        if stretch:
            picks.append(max(stretch)[1])
    if not picks:
        picks = [max((score, t) for t, score in scored)[1]]
    return [_jpeg(Image.fromarray(_video_frame(path, name, t, side, limits))) for t in picks]


def _detail(grey: np.ndarray) -> float:
    """How much there is to see in a frame: mean gradient; 0 for near-black or flat frames."""
    pixels = grey.astype(np.float32)
    if pixels.mean() < FLAT_MEAN or pixels.std() < FLAT_STD:
        return 0.0
    return float(np.abs(np.diff(pixels, axis=0)).mean() + np.abs(np.diff(pixels, axis=1)).mean())


def _check_file(path: str | Path) -> tuple[Path, str]:
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise MediaError(name, "no such file")
    if path.stat().st_size == 0:
        raise MediaError(name, "the file is empty (0 bytes)")
    return path, name


def _read_photo(path: Path, name: str, side: int, limits: Limits) -> np.ndarray | None:
    """The photo as RGB, upright, at most ``side`` px long; None if not a photo Pillow reads."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=PHOTO_OPEN) as img:  # GIFs etc.: read as video
                width, height = img.size
                if width * height > limits.max_pixels:
                    raise MediaError(name, f"the photo is too large ({width}x{height} pixels)")
                img.draft("RGB", (side, side))  # JPEG: decode at a reduced scale
                img = ImageOps.exif_transpose(img).convert("RGB")
                img.thumbnail((side, side), Image.Resampling.LANCZOS)
                return np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise MediaError(name, f"the photo is a decompression bomb ({exc})") from None


def _video_frame(path: Path, name: str, seconds: float, side: int, limits: Limits) -> np.ndarray:
    container, stream = open_video(path, name, limits)  # headers checked before any decode
    with container:
        if seconds > limits.max_duration:
            raise MediaError(name, f"{seconds:.0f} s is past the duration limit")
        base = stream.time_base
        origin = stream.start_time or 0
        if base:
            target = origin + int(seconds / base)
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except av.FFmpegError:
                container.seek(0)  # unseekable: decode from the start
        frame = _decode_to(container, stream, name, seconds, origin, limits)
        return _rgb(frame, side, sample_aspect(stream))


def _decode_to(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    name: str,
    seconds: float,
    origin: int,
    limits: Limits,
) -> av.VideoFrame:
    """Decode forward to the frame nearest ``seconds`` (the last one if the video ends first)."""
    start = float(origin * stream.time_base) if stream.time_base else None
    step = 1 / float(stream.average_rate) if stream.average_rate else 1 / 30
    deadline = time.monotonic() + limits.max_seconds
    last = None
    try:
        for frame in container.decode(stream):
            if time.monotonic() > deadline:
                raise MediaError(name, f"decoding took longer than {limits.max_seconds:.0f} s")
            if frame.time is None:
                continue
            if start is None:
                start = frame.time
            t = frame.time - start
            if t >= seconds - step / 2:
                if last is not None and seconds - last[0] < t - seconds:
                    return last[1]
                return frame
            last = (t, frame)
    except av.FFmpegError as exc:
        if last is None:
            raise MediaError(
                name, f"the video could not be decoded ({ffmpeg_reason(exc)}); it may be damaged"
            ) from None
    if last is None:
        raise MediaError(name, "no frame could be decoded; the file may be damaged or empty")
    return last[1]


def _rgb(frame: av.VideoFrame, side: int, sar: Fraction | None) -> np.ndarray:
    """The frame as people see it: at its display aspect ratio (a TV capture's 720x576 at
    64:45 is a 16:9 picture) and turned by its rotation metadata, as the fingerprint sees it."""
    width, height = work_size(*display_size(frame.width, frame.height, sar), side)
    width, height = max(2, width), max(2, height)
    pixels = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        pixels = np.rot90(pixels, k=rotation // 90)
    return np.ascontiguousarray(pixels)
