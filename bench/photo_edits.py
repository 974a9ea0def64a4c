"""Pictures reposters make from footage or photos: screenshots, crops, captions, grades.

Used by ``bench/accuracy.py``.  A source is a photo, or a video whose frame at 40% of its
length is taken (what someone pausing it and taking a screenshot gets).  Output is JPEG, or PNG
for phone screenshots (phones save those losslessly).  Deterministic per source.

CLI::

    python bench/photo_edits.py SRC OUT_DIR [EDIT ...]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from drawn import text_font
from edits import Frame, _caption, _rng, offcentre_window, still_frame
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
PHONE = (540, 1170)  # a phone screen at half its pixels (width, height)


def picture(src: Path) -> Frame:
    """The RGB picture an edit starts from: the photo, or the video's frame at 40%."""
    if src.suffix.lower() in PHOTO_SUFFIXES:
        with Image.open(src) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    return still_frame(src)


def phone_screenshot(img: Frame) -> Frame:
    """A screenshot of a messaging app showing the picture in a post: status bar, channel
    header, text above and below, reactions, the navigation bar; the picture itself takes
    about 90% of the screen's width and a third of its height."""
    w, h = PHONE
    canvas = Image.new("RGB", (w, h), (250, 250, 250))
    d = ImageDraw.Draw(canvas)
    small, body, title = text_font(20), text_font(24), text_font(28)
    d.text((28, 14), "9:41", font=small, fill=(20, 20, 20))  # status bar
    d.rounded_rectangle([w - 70, 16, w - 30, 34], radius=4, outline=(20, 20, 20), width=2)
    d.rectangle([w - 66, 20, w - 44, 30], fill=(20, 20, 20))
    d.rectangle([0, 50, w, 130], fill=(36, 120, 190))  # app header
    d.text((20, 72), "<", font=title, fill="white")
    d.ellipse([56, 62, 112, 118], fill=(240, 170, 60))
    d.text((126, 64), "Frontline Updates 24/7", font=title, fill="white")
    d.text((126, 98), "184,203 subscribers", font=small, fill=(210, 225, 240))
    lines = ["URGENT: this was filmed an hour ago,", "share before it gets deleted!!"]
    for k, line in enumerate(lines):
        d.text((30, 160 + 34 * k), line, font=body, fill=(25, 25, 25))
    pw = round(0.9 * w)
    ph = min(round(img.shape[0] * pw / img.shape[1]), round(0.45 * h))
    pw = round(img.shape[1] * ph / img.shape[0])
    top = 250
    canvas.paste(
        Image.fromarray(img).resize((pw, ph), Image.Resampling.BILINEAR), ((w - pw) // 2, top)
    )
    y = top + ph + 20
    d.text((30, y), "#breaking #war #today", font=body, fill=(36, 120, 190))
    d.text((30, y + 40), "48.2K views   14:02", font=small, fill=(120, 120, 120))
    for k, label in enumerate(["+ 1.2K", "sad 830", "ok 412"]):
        d.rounded_rectangle(
            [30 + 150 * k, y + 80, 160 + 150 * k, y + 120], radius=18, fill=(228, 236, 245)
        )
        d.text((50 + 150 * k, y + 88), label, font=small, fill=(40, 40, 40))
    d.rectangle([0, h - 110, w, h], fill=(244, 244, 246))  # message box and navigation
    d.rounded_rectangle(
        [20, h - 96, w - 20, h - 52], radius=20, fill="white", outline=(210, 210, 210)
    )
    d.text((40, h - 86), "Broadcast a message...", font=small, fill=(150, 150, 150))
    d.rounded_rectangle([w // 2 - 70, h - 22, w // 2 + 70, h - 16], radius=3, fill=(20, 20, 20))
    return np.asarray(canvas)


def _bright_contrast(img: Frame) -> Frame:
    image = ImageEnhance.Brightness(Image.fromarray(img)).enhance(1.2)
    return np.asarray(ImageEnhance.Contrast(image).enhance(1.5))


def _padded(img: Frame) -> Frame:
    """Pasted in the middle of a square white card with a wide margin."""
    h, w = img.shape[:2]
    side = round(1.3 * max(w, h))
    card = Image.new("RGB", (side, side), (255, 255, 255))
    card.paste(Image.fromarray(img), ((side - w) // 2, (side - h) // 2))
    return np.asarray(card)


def _cropped(src: Path) -> Callable[[Frame], Frame]:
    def crop(img: Frame) -> Frame:
        x, y, cw, ch = offcentre_window(img.shape[1], img.shape[0], _rng(src, "photo-crop"))
        return img[y : y + ch, x : x + cw]

    return crop


def _shrunk(img: Frame, side: int = 720) -> Frame:
    image = Image.fromarray(img)
    image.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image)


# name -> (transform made for a source, file suffix)
PHOTO_EDITS: dict[str, Callable[[Path], tuple[Callable[[Frame], Frame], str]]] = {
    "frame": lambda src: (_shrunk, ".jpg"),
    "photo_screenshot": lambda src: (phone_screenshot, ".png"),
    "photo_bc": lambda src: (_bright_contrast, ".jpg"),
    "photo_crop": lambda src: (_cropped(src), ".jpg"),
    "photo_caption": lambda src: (_caption, ".jpg"),
    "photo_padded": lambda src: (_padded, ".jpg"),
}


def photo_edit_path(src: Path, edit: str, out_dir: Path) -> Path:
    return Path(out_dir) / f"{Path(src).stem}__{edit}{PHOTO_EDITS[edit](Path(src))[1]}"


def make_photo_edit(src: Path, edit: str, out_dir: Path) -> Path:
    """Write the picture of ``src`` with ``edit`` applied into ``out_dir``; return its path."""
    if edit not in PHOTO_EDITS:
        raise KeyError(f"unknown photo edit {edit!r}; choose from {', '.join(PHOTO_EDITS)}")
    src = Path(src)
    transform, _ = PHOTO_EDITS[edit](src)
    dst = photo_edit_path(src, edit, out_dir)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f"{dst.stem}.part{dst.suffix}")  # no half file if interrupted
    Image.fromarray(np.ascontiguousarray(transform(picture(src)))).save(partial, quality=85)
    return partial.rename(dst)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    src, out_dir = Path(argv[0]), Path(argv[1])
    for edit in argv[2:] or list(PHOTO_EDITS):
        print(make_photo_edit(src, edit, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
