"""Pictures drawn for the bench's edits: text, a browser with a video player, filler footage.

Shared by ``bench/edits.py``, ``bench/photo_edits.py`` and ``bench/sources.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Frame = np.ndarray  # H x W x 3 uint8 RGB


def text_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: bundled TrueType font
    except TypeError:
        return ImageFont.load_default()


@lru_cache(maxsize=8)
def screen_canvas(w: int, h: int) -> tuple[np.ndarray, int, int, int, int]:
    """Fake browser/player window: returns (canvas, x, y, video_w, video_h)."""
    cw, ch, top, bottom = 1280, 720, 44, 64
    avail_w, avail_h = cw - 80, ch - top - bottom - 40
    scale = min(0.6, avail_w / w, avail_h / h)
    vw, vh = round(w * scale) // 2 * 2, round(h * scale) // 2 * 2
    canvas = Image.new("RGB", (cw, ch), (34, 34, 38))
    d = ImageDraw.Draw(canvas)
    font = text_font(18)
    d.rectangle([0, 0, cw, top], fill=(78, 80, 88))  # title / tab bar
    for k, col in enumerate([(237, 95, 87), (246, 190, 80), (98, 197, 84)]):
        d.ellipse([14 + 22 * k, 15, 28 + 22 * k, 29], fill=col)
    d.rounded_rectangle([100, 8, 420, top], radius=6, fill=(52, 54, 60))
    d.text((114, 13), "Live: footage from today - Watch", font=font, fill=(225, 225, 230))
    d.rounded_rectangle([440, 10, 1100, 34], radius=10, fill=(60, 62, 68))
    d.text((456, 12), "https://video.example.com/watch?v=x8Hq2", font=font, fill=(170, 170, 180))
    y0 = ch - bottom
    d.rectangle([0, y0, cw, ch], fill=(56, 56, 62))  # player control bar
    d.rectangle([20, y0 + 10, cw - 20, y0 + 15], fill=(110, 110, 115))
    d.rectangle([20, y0 + 10, 430, y0 + 15], fill=(230, 40, 40))
    d.ellipse([424, y0 + 6, 436, y0 + 19], fill=(240, 240, 240))
    d.polygon([(24, y0 + 28), (24, y0 + 52), (44, y0 + 40)], fill=(240, 240, 240))
    d.text((64, y0 + 30), "0:42 / 2:17", font=font, fill=(230, 230, 230))
    d.rectangle([cw - 60, y0 + 30, cw - 30, y0 + 50], outline=(230, 230, 230), width=2)
    x, y = (cw - vw) // 2, top + (ch - top - bottom - vh) // 2
    return np.asarray(canvas), x, y, vw, vh


def filler(w: int, h: int, fps: float, seconds: float, seed: int) -> Iterator[Frame]:
    """Unrelated procedural footage: coloured shapes moving over a drifting textured noise
    background. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    margin = 64
    coarse = rng.integers(0, 256, (h // 24 + 4, w // 24 + 4, 3), dtype=np.uint8)
    bg = Image.fromarray(coarse).resize((w + 2 * margin, h + 2 * margin), Image.Resampling.BICUBIC)
    base = np.asarray(bg).astype(np.int16) // 2 + rng.integers(
        0, 60, (h + 2 * margin, w + 2 * margin, 1)
    )
    base = base.clip(0, 255).astype(np.uint8)
    n = 7
    pos = rng.random((n, 2)) * (w, h)
    vel = (rng.random((n, 2)) - 0.5) * min(w, h) * 0.04
    radius = rng.uniform(0.05, 0.15, n) * min(w, h)
    colours = [tuple(int(c) for c in rng.integers(40, 256, 3)) for _ in range(n)]
    for i in range(round(seconds * fps)):
        ox = int(margin + margin * np.sin(i / 40.0))
        oy = int(margin + margin * np.cos(i / 55.0))
        frame = Image.fromarray(np.ascontiguousarray(base[oy : oy + h, ox : ox + w]))
        d = ImageDraw.Draw(frame)
        for k in range(n):
            (x, y), r = pos[k], radius[k]
            box = [x - r, y - r, x + r, y + r]
            (d.ellipse if k % 2 else d.rectangle)(box, fill=colours[k])
        pos += vel
        for ax, lim in ((0, w), (1, h)):
            hit = (pos[:, ax] < 0) | (pos[:, ax] > lim)
            vel[hit, ax] *= -1
        yield np.asarray(frame)
