"""Recall and wrong answers on low-texture footage: skies, nights, smoke, deserts, blank walls.

    python bench/low_texture.py [--out /tmp/oldclip-low-texture] [--per-kind 8] [--low-fast 6]

Conflict footage is often low-texture (tracers in a night sky, smoke against the sky, a
vehicle on sand), and the accuracy bench has little of it (7 of its 604 source pictures have
fewer ORB corners than their budget, 5 of them the doorknob clip's).  This bench generates
such scenes (seeded: the same each run), films each with a moving camera (pan, zoom or
handheld, 8 s, as ``bench/sources.py`` films photos), keeps every other one as a reference
and the rest as negatives, and edits them as ``bench/accuracy.py`` does.  Every query is
compared with every reference (``fingerprint.match.combine``, the shipped settings), not
only with the candidates an index would give: a stricter test of wrong answers.

``--branded [KIND]`` also stores every reference with a news channel's overlay, and queries
the negatives with it too (as they are, as stills and as a frame): on blank footage such an
overlay is most of the texture, and sharing it must make no match.  KIND is ``logo`` (a
corner logo alone: the commonest real case), ``lower-third`` (a lower-third box of one style
whose words differ per clip, as a channel words each story) or ``caption`` (the default: one
caption, the same words on every clip, and the logo).  A wrong answer is listed with the
signals that say "old" on their own (``alone``).

``--low-fast`` sets ``fingerprint.local_features.LOW_TEXTURE_FAST`` for the run; 12 (the
detector's own threshold) adds no weaker corner, as before it existed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import cv2  # noqa: E402
from drawn import text_font  # noqa: E402
from edits import _paste, _render, _write_mp4, edit_path, make_edit  # noqa: E402
from photo_edits import make_photo_edit, photo_edit_path  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from sources import _camera_frames  # noqa: E402

KINDS = ("sky", "night", "smoke", "desert", "wall")
SIZE = (1600, 900)  # the scene filmed, larger than the camera's picture
# Stills from three moments (``edits.STILL_AT``): a repost may grab any of them.
STILLS = ["still_video", "still_video_early", "still_video_late"]
REFERENCE_EDITS = [
    "crop_9x16", *STILLS, "crop_offcentre", "piece_3s", "reencode_low_bitrate",
    "blurred_fill", "mirror", "frame", "photo_screenshot",
]  # fmt: skip
NEGATIVE_EDITS = ["none", "crop_9x16", *STILLS, "blurred_fill"]
PHOTO = {"frame", "photo_screenshot"}
# --branded: a news channel's overlays (bench/edits.py's), at fixed places.
BRANDING = {
    "logo": ("logo",),
    "lower-third": ("logo", "lower_third"),
    "caption": ("caption", "logo"),
}
# A lower third's words, one story per clip: the box and its style stay, the words change.
HEADLINES = [
    "STRIKES REPORTED NEAR THE BORDER", "CEASEFIRE TALKS RESUME IN GENEVA",
    "EXPLOSION HEARD OVER THE CAPITAL", "CONVOY SEEN MOVING NORTH AT DAWN",
    "AIR DEFENCE ACTIVE OVERNIGHT", "FIRE AT FUEL DEPOT, NO CASUALTIES",
    "PORT CLOSED AFTER DRONE ATTACK", "EVACUATION ORDERED IN THREE TOWNS",
    "MINISTER VISITS FRONT-LINE CITY", "POWER CUTS ACROSS THE REGION",
]  # fmt: skip
BRANDED_NEGATIVE_EDITS = ["none", *STILLS, "frame"]


def _soft(rng: np.random.Generator, cell: int) -> np.ndarray:
    """Smooth noise with features about ``cell`` pixels across."""
    width, height = SIZE
    coarse = rng.normal(0, 1, (height // cell + 2, width // cell + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def scene(kind: str, seed: int) -> Image.Image:
    """One generated low-texture scene (RGB)."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tint = np.array([0.85, 0.92, 1.05], np.float32)
    if kind == "sky":  # a gradient with faint clouds, a drone or a bird or two
        base = 150 + 60 * yy / height + 8 * _soft(rng, 200) + 4 * _soft(rng, 60)
        img = base[..., None] * tint
        for _ in range(rng.integers(1, 3)):
            centre = (int(rng.integers(200, width - 200)), int(rng.integers(150, height - 150)))
            axes = (int(rng.integers(6, 18)), int(rng.integers(3, 8)))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, (40, 40, 45), -1)
    elif kind == "night":  # near black, stars, tracer streaks
        img = np.repeat((12 + 6 * _soft(rng, 300))[..., None], 3, axis=2)
        for _ in range(rng.integers(20, 60)):
            star = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(img, star, int(rng.integers(1, 3)), (200, 200, 210), -1)
        for _ in range(rng.integers(2, 6)):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(height // 3, height))
            angle, length = rng.uniform(-2.6, -0.5), rng.integers(80, 400)
            end = (int(x0 + length * np.cos(angle)), int(y0 + length * np.sin(angle)))
            cv2.line(img, (x0, y0), end, (90, 160, 255), int(rng.integers(2, 4)))
    elif kind == "smoke":  # a soft plume rising against the sky
        sky = (170 + 40 * yy / height)[..., None] * tint
        column = np.abs(xx - rng.uniform(0.3, 0.7) * width) / (width * 0.15)
        plume = np.clip(0.6 * _soft(rng, 120) + 1.5 - column - (height - yy) / height, 0, 1)
        smoke = (70 + 20 * _soft(rng, 40))[..., None]
        img = sky * (1 - plume[..., None]) + smoke * plume[..., None]
    elif kind == "desert":  # sky over smooth sand, a distant vehicle
        horizon = height * rng.uniform(0.35, 0.55) + 20 * _soft(rng, 400)[0]
        ground = (yy > horizon[None, :]).astype(np.float32)[..., None]
        sky = (180 + 30 * yy / height)[..., None] * tint
        sand = (150 + 15 * _soft(rng, 150) + 3 * _soft(rng, 20))[..., None]
        img = sky * (1 - ground) + sand * np.array([1.1, 0.95, 0.7], np.float32) * ground
        for _ in range(rng.integers(1, 3)):
            x = int(rng.integers(200, width - 200))
            y = int(horizon[x] + rng.integers(5, 60))
            corner = (x + int(rng.integers(10, 30)), y + int(rng.integers(5, 12)))
            cv2.rectangle(img, (x, y), corner, (60, 55, 50), -1)
    else:  # a blank wall with one small fixture: a patch of textured pixels
        base = 160 + 10 * _soft(rng, 300) + 1.5 * _soft(rng, 8)
        img = base[..., None] * np.array([0.95, 1.0, 0.97], np.float32)
        side = int(rng.integers(60, 140))
        patch = cv2.resize(_soft(rng, 6)[:side, :side], (side, side)) * 40 + 128
        top, left = int(rng.integers(200, height - 300)), int(rng.integers(300, width - 300))
        img[top : top + side, left : left + side] = patch[..., None]
    img = img + rng.normal(0, 1.0, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def clips(out: Path, per_kind: int) -> list[tuple[str, Path, bool]]:
    """(name, path, is a reference) of every filmed scene, made once in ``out``."""
    found = []
    for k, kind in enumerate(KINDS):
        for i in range(per_kind):
            name, path = f"{kind}{i}", out / "sources" / f"{kind}{i}.mp4"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                motion = ("pan", "zoom", "handheld")[i % 3]
                frames = _camera_frames(scene(kind, 1000 * k + i), 8, motion, seed=i)
                _write_mp4(path, frames, Fraction(25), None)
            found.append((name, path, i % 2 == 0))
    return found


def query_path(src: Path, edit: str, out: Path) -> Path:
    if edit == "none":
        return src
    if edit in PHOTO:
        path = photo_edit_path(src, edit, out)
        return path if path.exists() else make_photo_edit(src, edit, out)
    path = edit_path(src, edit, out)
    return path if path.exists() else make_edit(src, edit, out)


def lower_third(src: Path, out: Path, words: str) -> Path:
    """``src`` with a lower third: one box style (a dark band, a red LIVE tag) and ``words``."""
    path = edit_path(src, "lower_third", out)
    if path.exists():
        return path

    def overlay(w: int, h: int) -> np.ndarray:
        bh = round(0.11 * h)
        box = Image.new("RGBA", (round(0.9 * w), bh), (20, 30, 70, 230))
        draw = ImageDraw.Draw(box)
        tag = round(0.12 * w)
        draw.rectangle([0, 0, tag, bh], fill=(200, 30, 40, 255))
        font = text_font(round(0.45 * bh))
        for x, text, room in ((tag // 2, "LIVE", tag), (tag + (box.width - tag) // 2, words, 0)):
            size = font
            while room and size.getlength(text) > 0.8 * room and size.size > 8:
                size = text_font(size.size - 2)
            draw.text((x, bh // 2), text, font=size, fill="white", anchor="mm")
        return np.asarray(box)

    made: dict[tuple[int, int], np.ndarray] = {}

    def paste(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if (w, h) not in made:
            made[w, h] = overlay(w, h)
        return _paste(img, made[w, h], round(0.05 * w), round(0.76 * h))

    partial = path.with_name(f"{path.stem}.part{path.suffix}")
    return _render(src, partial, paste).rename(path)


def branded(src: Path, out: Path, kind: str, words: str) -> Path:
    """``src`` with the channel's overlays of ``kind`` (``BRANDING``), made once in ``out``."""
    for edit in BRANDING[kind]:
        src = lower_third(src, out, words) if edit == "lower_third" else query_path(src, edit, out)
    return src


def alone(query, reference) -> list[str]:
    """The signals whose evidence alone gives ``query`` an 'old' verdict on ``reference``."""
    from fingerprint import signal
    from fingerprint.settings import MatchSettings

    said = []
    for name in signal.PLUGINS:
        mine, theirs = query.signal_data(name), reference.signal_data(name)
        if mine is None or theirs is None:
            continue
        found = signal.get(name).compare(mine, theirs, MatchSettings())
        if found is not None and found.score >= MatchSettings().min_score:
            said.append(name)
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/oldclip-low-texture"))
    parser.add_argument("--per-kind", type=int, default=8)
    parser.add_argument("--low-fast", type=int, help="LOW_TEXTURE_FAST for this run")
    parser.add_argument(
        "--branded", nargs="?", const="caption", choices=BRANDING, help="with a channel's overlay"
    )
    args = parser.parse_args()

    from fingerprint import MediaError, fingerprint_file, local_features
    from fingerprint.match import combine
    from fingerprint.settings import MatchSettings

    if args.low_fast is not None:
        local_features.LOW_TEXTURE_FAST = args.low_fast
    started = time.process_time()
    references, queries = {}, []
    edits = args.out / "edits"
    for n, (name, path, reference) in enumerate(clips(args.out, args.per_kind)):
        if args.branded:
            mark = branded(path, edits, args.branded, HEADLINES[n % len(HEADLINES)])
        if reference:
            try:
                references[name] = fingerprint_file(path)
            except MediaError as exc:  # a scene can come out flat throughout
                print(f"reference left out: {exc}")
                continue
            if args.branded:
                references[f"{name}+branded"] = fingerprint_file(mark)
        for edit in REFERENCE_EDITS if reference else NEGATIVE_EDITS:
            queries.append((name, edit, query_path(path, edit, edits), reference))
        if args.branded and not reference:
            queries += [
                (name, f"branded {edit}", query_path(mark, edit, edits), False)
                for edit in BRANDED_NEGATIVE_EDITS
            ]
    found, wrong, missed = 0, [], Counter()
    for name, edit, path, positive in queries:
        try:
            query = fingerprint_file(path)
        except MediaError:
            titles = []
        else:
            titles = [t for t, ref in references.items() if combine(query, ref, 0, MatchSettings())]
        scenes = {t.split("+")[0] for t in titles}  # a reference branded shows its scene
        found += positive and name in scenes
        missed[edit] += positive and name not in scenes
        wrong += [
            f"{name} {edit}: {t} (alone: {' '.join(alone(query, references[t])) or '-'})"
            for t in titles
            if t.split("+")[0] != name
        ]
    positives = sum(q[3] for q in queries)
    print(
        f"LOW_TEXTURE_FAST {local_features.LOW_TEXTURE_FAST}: found {found} of {positives} "
        f"positive queries, {len(wrong)} wrong answers, {len(queries)} queries against "
        f"{len(references)} references ({time.process_time() - started:.0f} CPU s)"
    )
    print("missed per edit:", dict(+missed))
    print("wrong per edit:", dict(Counter(w.split(":")[0].split(" ", 1)[1] for w in wrong)))
    print(
        "wrong per signal alone:",
        dict(Counter(w.rsplit("alone: ", 1)[1].rstrip(")") for w in wrong)),
    )
    for line in wrong:
        print("  wrong:", line)


if __name__ == "__main__":
    main()
