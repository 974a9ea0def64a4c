"""Media with edited sound, made with PyAV in a test's ``tmp_path``.

Reposts of conflict footage often keep the original sound while the picture is covered,
cropped or filmed off a screen; and music or a voice-over is laid over unrelated footage.  These
helpers make both kinds of file from the shared videos, plus the plain sound edits (low-bitrate
re-encode, a piece, volume, noise, another sample rate), for the sound signal's tests and for
the matching tests that combine picture and sound.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from media import read_frames
from PIL import Image, ImageDraw, ImageFilter

INF = float("inf")


def read_sound(path: Path, start: float = 0.0, end: float = INF) -> tuple[np.ndarray, int]:
    """The first audio stream of ``path`` between ``start`` and ``end`` seconds, as float32
    (channels, samples) in -1..1, and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        pieces = [
            out.to_ndarray()
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        ]
        pieces += [out.to_ndarray() for out in resampler.resample(None)]
    sound = np.concatenate(pieces, axis=1)
    last = sound.shape[1] if end == INF else int(end * rate)
    return np.ascontiguousarray(sound[:, int(start * rate) : last]), rate


def write_media(
    path: Path,
    sound: np.ndarray | None = None,
    rate: int = 48000,
    frames: Iterable[np.ndarray] = (),
    fps: int | Fraction = 30,
    bitrate: int = 128_000,
) -> Path:
    """Write H.264 ``frames`` (RGB, even sides) and/or AAC ``sound`` ((channels, n) float)."""
    frames = list(frames)
    with av.open(str(path), "w") as out:
        # Every stream is added before the first packet is written (the header lists them).
        video = audio = None
        if frames:
            video = out.add_stream("libx264", rate=Fraction(fps))
            video.height, video.width = frames[0].shape[:2]
            video.pix_fmt = "yuv420p"
            video.options = {"preset": "ultrafast", "crf": "23"}
        if sound is not None:
            layout = "mono" if sound.shape[0] == 1 else "stereo"
            audio = out.add_stream("aac", rate=rate, layout=layout)
            audio.bit_rate = bitrate
        if video is not None:
            for pixels in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
                out.mux(video.encode(frame))
            out.mux(video.encode())
        if audio is not None:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(np.clip(sound[:2], -1, 1), dtype=np.float32),
                format="fltp",
                layout=layout,
            )
            frame.sample_rate = rate
            out.mux(audio.encode(frame))
            out.mux(audio.encode())
    return path


def edit_sound(
    source: Path,
    path: Path,
    *,
    start: float = 0.0,
    duration: float = INF,
    gain: float = 1.0,
    snr_db: float | None = None,
    rate: int | None = None,
    bitrate: int = 128_000,
    seed: int = 0,
) -> Path:
    """An audio-only copy of ``source``'s sound: a piece of it, louder or quieter, with white
    noise at ``snr_db`` below the sound, resampled to ``rate`` and AAC-coded at ``bitrate``."""
    sound, native = read_sound(source, start, start + duration)
    sound = sound * gain
    if snr_db is not None:
        power = float(np.mean(sound**2))
        noise = np.random.default_rng(seed).normal(size=sound.shape)
        sound = sound + noise * np.sqrt(power / 10 ** (snr_db / 10))
    if rate is not None and rate != native:
        sound = _resampled(sound, native, rate)
    return write_media(path, sound.astype(np.float32), rate or native, bitrate=bitrate)


def _resampled(sound: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """``sound`` at ``new_rate``, through FFmpeg's resampler (what a re-encoding app does)."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(sound, dtype=np.float32),
        format="fltp",
        layout="mono" if sound.shape[0] == 1 else "stereo",
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=new_rate)
    pieces = [out.to_ndarray() for out in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(pieces, axis=1)


def covered_repost(
    source: Path, path: Path, covered: float = 0.7, scale: float = 0.5, end: float = INF
) -> Path:
    """``source`` with an opaque box over ``covered`` of every frame's area, sound kept.

    The box hides the middle of the picture, where the footage is, as a repost with a big
    caption card or a reaction overlay does; the original sound is re-encoded at 96 kbit/s.
    The picture is also shrunk by ``scale`` (a faster test) and both are cut at ``end`` s.
    """
    frames, _, fps = read_frames(source, end=end, scale=scale)
    side = np.sqrt(covered)
    for pixels in frames:
        h, w = pixels.shape[:2]
        top, left = int(h * (1 - side) / 2), int(w * (1 - side) / 2)
        pixels[top : h - top, left : w - left] = (40, 40, 40)
    sound, rate = read_sound(source, end=end)
    return write_media(path, sound, rate, frames, fps, bitrate=96_000)


def screen_repost(
    source: Path, path: Path, seed: int = 0, scale: float = 0.5, end: float = INF
) -> Path:
    """``source`` as if filmed off a screen with a phone: the picture small, skewed, dimmed and
    blurred inside a dark room with a bright bezel, sensor noise on top; sound kept, as the
    phone's microphone would (re-encoded at 64 kbit/s, with some room noise).  ``scale`` and
    ``end`` as for ``covered_repost``."""
    frames, _, fps = read_frames(source, end=end, scale=scale)
    rng = np.random.default_rng(seed)
    out = []
    for pixels in frames:
        h, w = pixels.shape[:2]
        room = Image.new("RGB", (w, h), (18, 16, 14))
        screen = Image.fromarray(pixels).resize((w * 3 // 5, h * 3 // 5))
        screen = screen.filter(ImageFilter.GaussianBlur(1.2)).point(lambda v: 30 + v * 0.7)
        ImageDraw.Draw(room).rectangle((w // 6, h // 6, w * 5 // 6, h * 5 // 6), fill=(70, 70, 80))
        room.paste(screen, (w // 5, h // 5))
        quad = (0, 0, w // 12, h, w, h - h // 14, w - w // 16, h // 20)  # a phone held at an angle
        room = room.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BILINEAR)
        noisy = np.asarray(room, dtype=np.int16) + rng.integers(-12, 13, (h, w, 3))
        out.append(np.clip(noisy, 0, 255).astype(np.uint8))
    sound, rate = read_sound(source, end=end)
    room_noise = np.random.default_rng(seed).normal(size=sound.shape) * 0.3 * sound.std()
    return write_media(path, 0.6 * sound + room_noise, rate, out, fps, bitrate=64_000)


def sound_over(
    picture: Path, sound_of: Path, path: Path, scale: float = 0.5, end: float = INF
) -> Path:
    """The sound of ``sound_of`` laid over the picture of ``picture`` (looped to last as long,
    shrunk by ``scale``): music or a voice-over on unrelated footage.  The sound is cut at
    ``end`` seconds."""
    sound, rate = read_sound(sound_of, end=end)
    frames, _, fps = read_frames(picture, end=end, scale=scale)
    needed = int(sound.shape[1] / rate * float(fps))
    looped = [frames[i % len(frames)] for i in range(needed)]
    return write_media(path, sound, rate, looped, fps)


def tone(
    path: Path, seconds: float, hz: float = 0.0, level: float = 0.0, rate: int = 44100
) -> Path:
    """A steady sine at ``hz`` (or nothing: ``level`` 0 is digital silence) under a grey
    picture: a clip whose sound says nothing about where it comes from."""
    t = np.arange(int(seconds * rate)) / rate
    sound = (level * np.sin(2 * np.pi * hz * t))[None, :].astype(np.float32)
    grey = np.full((120, 160, 3), 128, dtype=np.uint8)
    return write_media(path, sound, rate, [grey] * int(seconds * 30), 30)
