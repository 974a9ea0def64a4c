"""Make edited copies of a video, the way reposters edit footage.

Used by ``bench/accuracy.py`` to measure recall per edit. Every edit goes through the same
decode -> retime -> per-frame transform -> encode pipeline (:func:`_render`), so each edit is a
few lines. Audio is dropped; output is H.264/yuv420p MP4 (or an animated GIF for ``gif``).
Everything is deterministic (seeded RNG, fixed encoder settings).

CLI::

    python bench/edits.py SRC OUT_DIR [EDIT ...]
"""

from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from drawn import filler, screen_canvas, text_font
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

Frame = np.ndarray  # H x W x 3 uint8 RGB
Transform = Callable[[Frame], Frame]

CRF = 23
PRESET = "veryfast"
LOW_BITRATE = 150_000
EMBED_PAD_S = 8.0
MIDDLE_S = 5.0
GIF_FPS = 10
GIF_WIDTH = 320
PIECE_S = 3.0  # a short piece cut from further into the video than ``middle_5s``
STILL_S = 5.0  # a still of the footage shown as a video
# Where in the footage a still is taken, as a share of its length: "still_video" pauses at
# 0.4, as the photo edits do; a repost may grab any moment, so stills near the start and the
# end are queried too (the 0.4 frame alone missed every still of a clip whose 0.4 moment was
# its blankest, and showed nothing of the rest of it).
STILL_AT = {"still_video": 0.4, "still_video_early": 0.1, "still_video_late": 0.75}
VERTICAL = (360, 640)  # the 9:16 canvas of vertical reposts (width, height)


# --------------------------------------------------------------------------- I/O pipeline


class Info(NamedTuple):
    width: int
    height: int
    fps: Fraction
    duration: float


def probe(src: Path) -> Info:
    with av.open(str(src)) as c:
        s = c.streams.video[0]
        fps = Fraction(s.average_rate or s.guessed_rate or 30)
        if s.duration is not None and s.time_base is not None:
            dur = float(s.duration * s.time_base)
        elif c.duration is not None:
            dur = c.duration / av.time_base
        else:
            dur = (s.frames or 0) / float(fps)
        return Info(s.codec_context.width, s.codec_context.height, fps, dur)


def _decode(src: Path) -> Iterator[tuple[float, Frame]]:
    """Yield (seconds since first frame, RGB array) for every video frame."""
    with av.open(str(src)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        t0 = None
        for i, frame in enumerate(c.decode(s)):
            t = frame.time if frame.time is not None else i / float(s.average_rate or 30)
            t0 = t if t0 is None else t0
            yield t - t0, frame.to_ndarray(format="rgb24")


def _retime(
    frames: Iterable[tuple[float, Frame]],
    fps: float,
    speed: float = 1.0,
    start: float = 0.0,
    duration: float | None = None,
) -> Iterator[Frame]:
    """Resample to a constant ``fps``: output frame i shows the source frame on screen at
    ``start + i * speed / fps`` (drops or repeats frames as needed)."""
    step = speed / fps
    end = start + duration if duration is not None else float("inf")
    i, prev, prev_t, last_dt = 0, None, 0.0, 1.0 / fps
    for t, img in frames:
        while prev is not None and start + i * step < min(t, end) - 1e-3:
            yield prev
            i += 1
        if t >= end:
            return
        if prev is not None:
            last_dt = t - prev_t
        prev, prev_t = img, t
    while prev is not None and start + i * step < min(prev_t + last_dt, end) - 1e-3:
        yield prev
        i += 1


def _even(img: Frame) -> Frame:
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[: h - h % 2, : w - w % 2])


def _write_mp4(dst: Path, frames: Iterable[Frame], fps: Fraction, bit_rate: int | None) -> None:
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(dst), "w") as out:
        stream = None
        for i, img in enumerate(frames):
            img = _even(img)
            if stream is None:
                stream = out.add_stream("libx264", rate=rate)
                stream.height, stream.width = img.shape[:2]
                stream.pix_fmt = "yuv420p"
                opts = {"preset": PRESET}
                if bit_rate:
                    stream.bit_rate = bit_rate
                    opts.update(maxrate=str(bit_rate), bufsize=str(2 * bit_rate))
                else:
                    opts["crf"] = str(CRF)
                stream.options = opts
            vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            vf.pts, vf.time_base = i, 1 / rate
            out.mux(stream.encode(vf))
        if stream is None:
            raise ValueError(f"no frames to write to {dst}")
        out.mux(stream.encode(None))


def _write_gif(dst: Path, frames: Iterable[Frame], fps: float) -> None:
    # fast octree palette per frame, no dithering: ~15x faster and half the size of the default
    q = {"method": Image.Quantize.FASTOCTREE, "dither": Image.Dither.NONE}
    images = [Image.fromarray(f).quantize(256, **q) for f in frames]
    images[0].save(dst, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)


def _render(
    src: Path,
    dst: Path,
    transform: Transform | None = None,
    *,
    fps: float | None = None,
    speed: float = 1.0,
    start: float = 0.0,
    duration: float | None = None,
    bit_rate: int | None = None,
    before: Iterable[Frame] = (),
    after: Iterable[Frame] = (),
) -> Path:
    """Decode ``src``, resample to ``fps`` (default: source rate), apply ``transform`` to
    each RGB frame, optionally surround with other frames, and encode to ``dst``."""
    fps = Fraction(fps or probe(src).fps)
    frames: Iterable[Frame] = _retime(_decode(src), float(fps), speed, start, duration)
    if transform is not None:
        frames = map(transform, frames)
    frames = chain(before, frames, after)
    if dst.suffix == ".gif":
        _write_gif(dst, frames, float(fps))
    else:
        _write_mp4(dst, frames, fps, bit_rate)
    return dst


# --------------------------------------------------------------------------- frame helpers


def _resize(img: Frame, w: int, h: int) -> Frame:
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))


def _paste(img: Frame, rgba: np.ndarray, x: int, y: int) -> Frame:
    """Alpha-composite a pre-rendered RGBA overlay onto a copy of ``img`` at (x, y)."""
    out = img.copy()
    h, w = rgba.shape[:2]
    region = out[y : y + h, x : x + w].astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    out[y : y + h, x : x + w] = (region * (1 - a) + rgba[..., :3] * a + 0.5).astype(np.uint8)
    return out


def _overlay(make: Callable[[int, int], tuple[np.ndarray, int, int]]) -> Transform:
    """Transform that pastes the overlay ``make(w, h) -> (rgba, x, y)``, cached per size."""
    cached = lru_cache(maxsize=8)(make)
    return lambda img: _paste(img, *cached(img.shape[1], img.shape[0]))


@_overlay
def _caption(w: int, h: int) -> tuple[np.ndarray, int, int]:
    lines = ["BREAKING NEWS", "filmed today!"]
    size = max(12, round(0.07 * h))
    while True:  # ~7% of height, shrunk until the longest line fits 94% of the width
        font = text_font(size)
        stroke = max(2, size // 12)
        widths = [font.getbbox(t, stroke_width=stroke)[2] for t in lines]
        if max(widths) <= 0.94 * w or size <= 10:
            break
        size -= 2
    line_h = round(size * 1.25)
    layer = Image.new("RGBA", (w, 2 * line_h + 2 * stroke), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for k, (text, tw) in enumerate(zip(lines, widths, strict=True)):
        draw.text(
            ((w - tw) // 2, k * line_h),
            text,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(15, 15, 15, 255),
        )
    y = round(h * 0.70)  # lower third
    return np.asarray(layer), 0, min(y, h - layer.height)


@_overlay
def _logo(w: int, h: int) -> tuple[np.ndarray, int, int]:
    bw = round(0.18 * w)
    bh = round(bw * 0.45)
    box = Image.new("RGBA", (bw, bh), (200, 30, 40, 255))
    draw = ImageDraw.Draw(box)
    draw.rectangle([0, bh - max(2, bh // 10), bw, bh], fill=(255, 210, 0, 255))
    font = text_font(max(8, round(bh * 0.45)))
    x0, y0, x1, y1 = draw.textbbox((0, 0), "NEWS24", font=font)
    draw.text(
        ((bw - (x1 - x0)) // 2 - x0, (bh - (y1 - y0)) // 2 - y0), "NEWS24", font=font, fill="white"
    )
    margin = round(0.03 * w)
    return np.asarray(box), w - bw - margin, margin


def _screen_recording_tf(img: Frame) -> Frame:
    canvas, x, y, vw, vh = screen_canvas(img.shape[1], img.shape[0])
    out = canvas.copy()
    out[y : y + vh, x : x + vw] = _resize(img, vw, vh)
    return out


def _letterbox_tf(img: Frame) -> Frame:
    h, w = img.shape[:2]
    if w / h < 16 / 9 - 0.01:  # narrower than 16:9 -> pillarbox to 16:9
        cw, ch = round(h * 16 / 9), h
    else:  # already 16:9 or wider -> letterbox to 1:1
        cw, ch = w, w
    cw, ch = cw + cw % 2, ch + ch % 2
    out = np.zeros((ch, cw, 3), np.uint8)
    x, y = (cw - w) // 2, (ch - h) // 2
    out[y : y + h, x : x + w] = img
    return out


def _crop_9x16_tf(img: Frame) -> Frame:
    h, w = img.shape[:2]
    if h > w:  # already portrait: keep ~70% of the width in a 9:16 window
        cw = round(0.7 * w)
        ch = min(h, round(cw * 16 / 9))
    else:
        cw, ch = round(h * 9 / 16), h
    x, y = (w - cw) // 2, (h - ch) // 2
    return img[y : y + ch, x : x + cw]


def _crop_15_tf(img: Frame) -> Frame:
    h, w = img.shape[:2]  # drop 10% left / 5% right, 5% top / 10% bottom
    return img[round(0.05 * h) : h - round(0.10 * h), round(0.10 * w) : w - round(0.05 * w)]


def _grey_tf(img: Frame) -> Frame:
    y = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat((y + 0.5).astype(np.uint8)[..., None], 3, axis=2)


_BC_LUT = np.clip((np.arange(256) - 128.0) * 1.3 + 128.0 + 30.0, 0, 255).round().astype(np.uint8)


def _rng(src: Path, salt: str) -> np.random.Generator:
    """A generator seeded by the source's name: each source gets its own crop, the same each run."""
    return np.random.default_rng(zlib.crc32(f"{src.stem}/{salt}".encode()))


def offcentre_window(w: int, h: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a crop dropping 10-30% of each side's length, off the centre:
    reposters cut to the action, not symmetrically."""
    drop = rng.uniform(0.10, 0.30)
    cw, ch = round(w * (1 - drop)), round(h * (1 - drop))
    x = round(rng.choice([0.1, 0.9]) * (w - cw) + rng.uniform(-0.1, 0.1) * (w - cw))
    y = round(rng.uniform(0.0, 1.0) * (h - ch))
    return min(max(0, x), w - cw), min(max(0, y), h - ch), cw, ch


def blurred_fill(img: Frame) -> Frame:
    """The vertical repost: the footage across the middle of a 9:16 canvas, the rest filled by
    a zoomed, blurred copy of itself."""
    cw, ch = VERTICAL
    h, w = img.shape[:2]
    image = Image.fromarray(img)
    scale = max(cw / w, ch / h) / 4  # blur at a quarter size: the same look, 16x less work
    bw, bh = max(1, round(w * scale)), max(1, round(h * scale))
    back = image.resize((bw, bh), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(3))
    x, y = (bw - cw // 4) // 2, (bh - ch // 4) // 2
    back = back.crop((x, y, x + cw // 4, y + ch // 4)).resize((cw, ch), Image.Resampling.BILINEAR)
    back = ImageEnhance.Brightness(back).enhance(0.7)
    fh = max(2, round(h * cw / w))
    back.paste(image.resize((cw, fh), Image.Resampling.BILINEAR), (0, (ch - fh) // 2))
    return np.asarray(back)


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]):
    """PIL's 8 perspective coefficients mapping output points ``dst`` to input points ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


@lru_cache(maxsize=8)
def _filmed_geometry(cw: int, ch: int) -> tuple[list[float], tuple[int, int]]:
    """A monitor filmed by a phone held a little to the left and below: the screen is a
    trapezoid in a 960x540 picture, with the room around it."""
    out = (960, 540)
    corners = [(70, 40), (900, 70), (880, 500), (90, 515)]  # screen corners in the photo
    return _perspective_coeffs(corners, [(0, 0), (cw, 0), (cw, ch), (0, ch)]), out


def _screen_filmed_tf(img: Frame) -> Frame:
    screen = Image.fromarray(_screen_recording_tf(img))
    coeffs, size = _filmed_geometry(*screen.size)
    shot = screen.transform(
        size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=(52, 47, 44)
    )
    shot = ImageEnhance.Contrast(shot.filter(ImageFilter.GaussianBlur(0.8))).enhance(0.8)
    return np.asarray(shot)


def _colour_tf(img: Frame) -> Frame:
    """A warm, saturated, brighter grade, as filters and colour apps make."""
    image = ImageEnhance.Color(Image.fromarray(img)).enhance(1.5)
    out = np.asarray(image).astype(np.int16) + np.array([18, 6, -10], np.int16)
    return out.clip(0, 255).astype(np.uint8)


def _crop_offcentre(src: Path, dst: Path) -> Path:
    w, h, _, _ = probe(src)
    x, y, cw, ch = offcentre_window(w, h, _rng(src, "crop"))
    return _render(src, dst, lambda img: img[y : y + ch, x : x + cw])


def _piece_3s(src: Path, dst: Path) -> Path:
    dur = probe(src).duration
    return _render(src, dst, start=max(0.0, min(0.6 * dur, dur - PIECE_S)), duration=PIECE_S)


def still_frame(src: Path, at: float = 0.4) -> Frame:
    """The frame someone pausing at ``at`` of the video's length would grab (RGB): that one,
    or if it is much flatter than the footage usually is (a dark or covered moment), the
    first one after it that is not, since nobody shares a screenshot of a black frame."""
    times, detail = zip(*((t, img[::4, ::4].std()) for t, img in _decode(src)), strict=True)
    when = at * probe(src).duration
    chosen = next(
        (t for t, d in zip(times, detail, strict=True)
         if t >= when - 1e-3 and d >= 0.8 * np.median(detail)),
        min(times, key=lambda t: abs(t - when)),
    )  # fmt: skip
    return next(img for t, img in _decode(src) if t >= chosen)


def _still_video(src: Path, dst: Path, at: float = STILL_AT["still_video"]) -> Path:
    img = _even(still_frame(src, at))
    fps = Fraction(25)
    _write_mp4(dst, (img for _ in range(round(STILL_S * fps))), fps, None)
    return dst


def _combo_crop(src: Path, dst: Path) -> Path:
    """Off-centre crop + caption + 1.25x speed + colour grade."""
    w, h, _, _ = probe(src)
    x, y, cw, ch = offcentre_window(w, h, _rng(src, "combo"))
    return _render(
        src, dst, lambda img: _caption(_colour_tf(img[y : y + ch, x : x + cw])), speed=1.25
    )


def _combo_vertical(src: Path, dst: Path) -> Path:
    """Mirrored, colour-graded blurred-fill vertical with a caption and a logo, at 0.8x speed."""
    return _render(
        src,
        dst,
        lambda img: _logo(_caption(_colour_tf(blurred_fill(img[:, ::-1])))),
        speed=0.8,
    )


# --------------------------------------------------------------------------- the edits


def _reencode_low_bitrate(src: Path, dst: Path) -> Path:
    return _render(src, dst, bit_rate=LOW_BITRATE)


def _240p(src: Path, dst: Path) -> Path:
    def tf(img: Frame) -> Frame:
        h, w = img.shape[:2]
        return _resize(img, max(2, round(w * 240 / h / 2) * 2), 240)

    return _render(src, dst, tf)


def _middle_5s(src: Path, dst: Path) -> Path:
    dur = probe(src).duration
    return _render(src, dst, start=max(0.0, (dur - MIDDLE_S) / 2), duration=MIDDLE_S)


def _embedded(src: Path, dst: Path) -> Path:
    w, h, fps, _ = probe(src)
    w, h = w - w % 2, h - h % 2
    before = filler(w, h, float(fps), EMBED_PAD_S, seed=1)
    after = filler(w, h, float(fps), EMBED_PAD_S, seed=2)
    return _render(src, dst, _even, before=before, after=after)


def _gif(src: Path, dst: Path) -> Path:
    def tf(img: Frame) -> Frame:
        h, w = img.shape[:2]
        return _resize(img, GIF_WIDTH, max(2, round(h * GIF_WIDTH / w)))

    return _render(src, dst, tf, fps=GIF_FPS)


EDITS: dict[str, Callable[[Path, Path], Path]] = {
    "reencode_low_bitrate": _reencode_low_bitrate,
    "240p": _240p,
    "crop_15": lambda s, d: _render(s, d, _crop_15_tf),
    "letterbox": lambda s, d: _render(s, d, _letterbox_tf),
    "mirror": lambda s, d: _render(s, d, lambda img: img[:, ::-1]),
    "caption": lambda s, d: _render(s, d, _caption),
    "logo": lambda s, d: _render(s, d, _logo),
    "speed_125": lambda s, d: _render(s, d, speed=1.25),
    "fps_15": lambda s, d: _render(s, d, fps=15),
    "middle_5s": _middle_5s,
    "greyscale": lambda s, d: _render(s, d, _grey_tf),
    "brightness_contrast": lambda s, d: _render(s, d, lambda img: _BC_LUT[img]),
    "crop_9x16": lambda s, d: _render(s, d, _crop_9x16_tf),
    "embedded": _embedded,
    "screen_recording": lambda s, d: _render(s, d, _screen_recording_tf),
    "gif": _gif,
    "crop_offcentre": _crop_offcentre,
    "blurred_fill": lambda s, d: _render(s, d, blurred_fill),
    "screen_filmed": lambda s, d: _render(s, d, _screen_filmed_tf, fps=15),
    "piece_3s": _piece_3s,
    "still_video": _still_video,
    "still_video_early": lambda s, d: _still_video(s, d, STILL_AT["still_video_early"]),
    "still_video_late": lambda s, d: _still_video(s, d, STILL_AT["still_video_late"]),
    "combo_crop": _combo_crop,
    "combo_vertical": _combo_vertical,
}


def edit_path(src: Path, edit: str, out_dir: Path) -> Path:
    """Where ``make_edit`` writes ``src`` with ``edit`` applied."""
    return Path(out_dir) / f"{Path(src).stem}__{edit}{'.gif' if edit == 'gif' else '.mp4'}"


def make_edit(
    src: Path, edit: str, out_dir: Path, edits: Mapping[str, Callable[[Path, Path], Path]] = EDITS
) -> Path:
    """Write ``src`` with ``edit`` (one of ``edits``) applied into ``out_dir``; return the new
    file's path.

    Written under a temporary name and renamed: an interrupted run leaves no half file that
    a later run would take for a cached edit."""
    if edit not in edits:
        raise KeyError(f"unknown edit {edit!r}; choose from {', '.join(edits)}")
    src, out_dir = Path(src), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = edit_path(src, edit, out_dir)
    partial = dst.with_name(f"{dst.stem}.part{dst.suffix}")
    edits[edit](src, partial)
    return partial.rename(dst)


def _describe(path: Path) -> str:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
    dur = probe(path).duration
    return f"{path.stat().st_size / 1024:8.0f} KiB  {dur:6.2f} s  {n:4d} fr  {s.width}x{s.height}"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    src, out_dir, edits = Path(argv[0]), Path(argv[1]), argv[2:] or list(EDITS)
    total = 0.0
    for edit in edits:
        t = time.perf_counter()
        out = make_edit(src, edit, out_dir)
        took = time.perf_counter() - t
        total += took
        print(f"{edit:22s} {_describe(out)}  {took:5.1f}s  {out}", flush=True)
    print(f"total {total:.1f}s to make {len(edits)} edits (excluding the verification decode)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
