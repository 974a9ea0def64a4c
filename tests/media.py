"""Shared helpers for the tests that use real media.

The clips and photos live read-only in ``../shared/media`` (see its README for the ground
truth); nothing here copies them into the repository.  Fingerprints of the shared files are
cached for the whole session so each file is decoded at most once, whichever test asks first.
Generated media (mirrored copies, GIFs, black videos...) are written by the helpers below into
the calling test's ``tmp_path``.
"""

from __future__ import annotations

import functools
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fingerprint import INDEXED_VARIANTS, Fingerprint, HashIndex, fingerprint_file

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
VIDEOS = MEDIA / "videos"
IMAGES = MEDIA / "images"

CHAIR = VIDEOS / "chair-orig-22-sd-bar.mp4"
CHAIR_RECUT = VIDEOS / "chair-20-sd-bar.mp4"
PATTERN = VIDEOS / "pattern-hd-no-bar.mp4"
DOORKNOB = VIDEOS / "doorknob-hd-no-bar.mp4"
PADDED = VIDEOS / "test-padded-dimensions.mp4"
BRIDGE = IMAGES / "aaa-orig.jpg"

# Ground truth from ../shared/media/README.md: every pair inside a family matches, no pair
# across families does.
FAMILIES: dict[str, list[str]] = {
    "chair": [
        "chair-orig-22-sd-bar.mp4",
        "chair-19-sd-bar.mp4",
        "chair-20-sd-bar.mp4",
        "chair-22-sd-grey-bar.mp4",
        "chair-22-sd-sepia-bar.mp4",
        "chair-22-with-large-logo-bar.mp4",
        "chair-22-with-small-logo-bar.mp4",
    ],
    "pattern": [
        "pattern-hd-no-bar.mp4",
        "pattern-longer-no-bar.mp4",
        "pattern-sd-grey-bar.mp4",
        "pattern-sd-with-large-logo-bar.mp4",
        "pattern-sd-with-small-logo-bar.mp4",
    ],
    "doorknob": ["doorknob-hd-no-bar.mp4"],
    "padded": ["test-padded-dimensions.mp4"],
}
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
VIDEO_FILES = [VIDEOS / name for names in FAMILIES.values() for name in names]
PHOTO_FILES = sorted(IMAGES.glob("*.jpg"))


def require_media() -> None:
    """Fail loudly (not skip) when the shared media are missing: the suite depends on them."""
    missing = [p for p in [*VIDEO_FILES, BRIDGE] if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"shared test media missing under {MEDIA}: {missing[:3]}")


@functools.cache
def shared_fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of one shared file, computed once per test session."""
    return fingerprint_file(path)


def indexed(fp: Fingerprint) -> np.ndarray:
    """The hashes a library indexes for a media item (what oldclip.library does)."""
    return fp.hashes[np.isin(fp.variants, INDEXED_VARIANTS)]


class SmallLibrary:
    """A HashIndex plus the fingerprints behind it, as find_matches expects."""

    def __init__(self, items: Iterable[tuple[Path | str, Fingerprint]] = ()):
        self.index = HashIndex()
        self.fingerprints: dict[int, Fingerprint] = {}
        self.names: dict[int, str] = {}
        for name, fp in items:
            self.add(name, fp)

    def add(self, name: Path | str, fp: Fingerprint) -> int:
        media_id = len(self.fingerprints) + 1
        self.fingerprints[media_id] = fp
        self.names[media_id] = Path(name).name
        self.index.add(media_id, indexed(fp))
        return media_id

    def id_of(self, name: str) -> int:
        return next(i for i, n in self.names.items() if n == name)

    def load(self, media_id: int) -> Fingerprint | None:
        return self.fingerprints.get(media_id)


@functools.cache
def shared_library() -> SmallLibrary:
    """One index over every shared video and photo (media id per file), built once."""
    require_media()
    return SmallLibrary((p, shared_fingerprint(p)) for p in [*VIDEO_FILES, *PHOTO_FILES])


def single(path: Path) -> SmallLibrary:
    """An index holding one shared file."""
    return SmallLibrary([(path, shared_fingerprint(path))])


# --- reading and writing media with PyAV ----------------------------------------------------


def read_frames(
    path: Path, start: float = 0.0, end: float = float("inf"), scale: float = 1.0
) -> tuple[list[np.ndarray], list[float], Fraction]:
    """Decoded RGB frames of ``path`` between ``start`` and ``end`` seconds, their times, fps."""
    frames, times = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(30)
        first = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            first = frame.time if first is None else first
            t = frame.time - first
            if t < start:
                continue
            if t > end:
                break
            width = max(2, round(frame.width * scale / 2) * 2)
            height = max(2, round(frame.height * scale / 2) * 2)
            frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
            times.append(t)
    return frames, times, rate


def frame_at(path: Path, seconds: float) -> tuple[np.ndarray, float]:
    """The first decoded frame at or after ``seconds``, and its time."""
    frames, times, _ = read_frames(path, start=seconds, end=seconds + 0.5)
    return frames[0], times[0]


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int | Fraction = 30) -> Path:
    """Encode RGB frames (even width and height) to an H.264 MP4 at ``path``."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def splice_videos(
    path: Path,
    parts: Iterable[tuple[Path, float, float]],
    size: tuple[int, int],
    fps: int = 30,
) -> Path:
    """Encode the (file, start s, end s) parts one after the other, each resized to ``size``
    (width, height), as one H.264 MP4: a repost with a channel's intro, a compilation.

    Frames are streamed from decoder to encoder, so long parts cost no memory.
    """
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for source, start, end in parts:
            with av.open(str(source)) as container:
                first = None
                for frame in container.decode(container.streams.video[0]):
                    if frame.time is None:
                        continue
                    first = frame.time if first is None else first
                    if frame.time - first < start:
                        continue
                    if frame.time - first > end:
                        break
                    pixels = frame.to_ndarray(format="rgb24", width=width, height=height)
                    picture = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    out.mux(stream.encode(picture))
        out.mux(stream.encode())
    return path


def write_declared_huge(path: Path, side: int = 16000, declared: int | None = None) -> Path:
    """A ~1 kB QuickTime file holding one PNG frame whose header says ``side`` x ``side``.

    The MOV track declares ``declared`` x ``declared`` (default: the same); the PNG has only a
    few bytes of pixels.  FFmpeg, probing it, used to allocate the whole frame (768 MB at
    16000 x 16000) before oldclip could look at the size.  With a smaller ``declared`` it is a
    file whose container lies about its frames.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))  # 8-bit RGB
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("png", rate=1)
        stream.width = stream.height = declared or side
        stream.pix_fmt = "rgb24"
        packet = av.Packet(png)
        packet.stream = stream
        packet.pts = packet.dts = 0
        packet.time_base = Fraction(1, 1)
        packet.duration = 1
        out.mux(packet)
    return path


def save_jpeg(path: Path, pixels: np.ndarray, **kwargs) -> Path:
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, "JPEG", quality=92, **kwargs)
    return path


def noise_image(seed: int, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """A textured picture of nothing in the archive: smoothed seeded noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC))


# --- the console script -----------------------------------------------------------------------


def run_cli(
    *args: str | Path,
    db: Path | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m oldclip [--db DB] ARGS`` without OLDCLIP_* variables; never raises."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "oldclip"]
    if db is not None:
        command += ["--db", str(db)]
    command += [str(a) for a in args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or (db.parent if db is not None else None),
        timeout=timeout,
    )


# --- the edits reposters make that a global hash cannot survive ------------------------------


def off_centre_crop(image: Image.Image, share: float = 0.25) -> Image.Image:
    """Keep (1 - share) of each side, towards the right and the top."""
    w, h = image.size
    cw, ch = round(w * (1 - share)), round(h * (1 - share))
    left, top = round((w - cw) * 0.85), round((h - ch) * 0.2)
    return image.crop((left, top, left + cw, top + ch))


def blurred_fill(image: Image.Image, size: tuple[int, int] = (360, 640)) -> Image.Image:
    """A 9:16 vertical: the footage across the middle, above and below a blurred zoomed copy."""
    width, height = size
    w, h = image.size
    zoom = height / h
    background = image.resize((round(w * zoom), height)).filter(ImageFilter.GaussianBlur(12))
    left = (background.width - width) // 2
    canvas = background.crop((left, 0, left + width, height))
    footage = image.resize((width, round(h * width / w)))
    canvas.paste(footage, (0, (height - footage.height) // 2))
    return canvas


def phone_screenshot(image: Image.Image, size: tuple[int, int] = (720, 1560)) -> Image.Image:
    """A phone screenshot: status bar, app header, caption and text lines, the picture inside."""
    width, height = size
    canvas = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, 50), fill=(20, 20, 20))
    draw.text((20, 15), "12:47   LTE  87%", fill=(255, 255, 255))
    draw.rectangle((0, 50, width, 150), fill=(40, 90, 160))
    draw.text((30, 90), "Frontline news - 2 h ago", fill=(255, 255, 255))
    draw.text((30, 200), "BREAKING: footage shows today's strike", fill=(0, 0, 0))
    inner_w = round(width * 0.92)
    picture = image.resize((inner_w, round(image.height * inner_w / image.width)))
    canvas.paste(picture, ((width - inner_w) // 2, 260))
    rng = np.random.default_rng(7)
    y = 260 + picture.height + 30
    for _ in range(10):
        words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(8)]
        draw.text((30, y), " ".join(words), fill=(30, 30, 30))
        y += 36
    draw.rectangle((0, height - 120, width, height), fill=(235, 235, 235))
    return canvas
