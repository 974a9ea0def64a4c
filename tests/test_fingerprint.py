"""What a fingerprint records about a file, and the edits it must see through.

Shared media are fingerprinted once per session (tests/media.py); edited copies (EXIF-rotated,
padded, mirrored, animated) are written into tmp_path with Pillow and PyAV.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from media import (
    BRIDGE,
    CHAIR,
    DOORKNOB,
    IMAGES,
    PATTERN,
    VIDEOS,
    blurred_fill,
    frame_at,
    read_frames,
    save_jpeg,
    shared_fingerprint,
    single,
    write_video,
)
from PIL import Image, ImageFilter

from fingerprint import find_matches, fingerprint_bytes, fingerprint_file
from fingerprint.match import hamming
from fingerprint.types import HASH_BYTES, VARIANT_FULL

EXIF_ORIENTATION = 0x0112


def full_distance(a, b) -> int:
    """Smallest Hamming distance between the full-frame hashes of two fingerprints."""
    return int(hamming(a.select(VARIANT_FULL)[0], b.select(VARIANT_FULL)[0]).min())


@pytest.mark.parametrize(
    ("name", "width", "height", "duration"),
    [
        ("chair-orig-22-sd-bar.mp4", 480, 720, 22.4),
        ("pattern-hd-no-bar.mp4", 720, 1280, 6.9),
        ("doorknob-hd-no-bar.mp4", 1280, 720, 4.0),
        ("test-padded-dimensions.mp4", 1080, 1080, 5.0),
    ],
)
def test_video_fingerprint_describes_the_file(
    name: str, width: int, height: int, duration: float
) -> None:
    path = VIDEOS / name
    fp = shared_fingerprint(path)
    assert fp.kind == "video"
    assert (fp.width, fp.height) == (width, height)
    assert fp.duration == pytest.approx(duration, abs=0.2)
    assert fp.size == path.stat().st_size
    assert fp.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fp.hashes.shape == (len(fp), HASH_BYTES)
    assert np.all(np.diff(fp.times) >= 0), "frame times must be in time order"
    assert fp.times[0] >= 0 and fp.times[-1] <= fp.duration
    # Sampled across the whole video, at least one frame a second.
    frame_times = np.unique(fp.times)
    assert frame_times[-1] >= fp.duration - 1.0
    assert len(frame_times) >= fp.duration


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("aaa-orig.jpg", 1600, 1004), ("bridge-2-rotate-90.jpg", 1004, 1600)],
)
def test_photo_fingerprint_is_one_moment_at_displayed_size(
    name: str, width: int, height: int
) -> None:
    fp = shared_fingerprint(IMAGES / name)
    assert fp.kind == "photo"
    assert (fp.width, fp.height) == (width, height)
    assert fp.duration == 0.0
    assert set(fp.times.tolist()) == {0.0}
    assert len(fp.select(VARIANT_FULL)[0]) == 1


def test_fingerprint_is_deterministic() -> None:
    path = VIDEOS / "pattern-sd-grey-bar.mp4"
    first, second = shared_fingerprint(path), fingerprint_file(path)
    assert first is not second
    assert first.sha256 == second.sha256
    np.testing.assert_array_equal(first.hashes, second.hashes)
    np.testing.assert_array_equal(first.times, second.times)
    np.testing.assert_array_equal(first.variants, second.variants)


def test_fingerprint_bytes_equals_fingerprint_file() -> None:
    from_file = shared_fingerprint(DOORKNOB)
    from_bytes = fingerprint_bytes(DOORKNOB.read_bytes(), DOORKNOB.name)
    for field in ("kind", "sha256", "size", "duration", "width", "height"):
        assert getattr(from_bytes, field) == getattr(from_file, field), field
    np.testing.assert_array_equal(from_bytes.hashes, from_file.hashes)
    np.testing.assert_array_equal(from_bytes.times, from_file.times)
    np.testing.assert_array_equal(from_bytes.variants, from_file.variants)


def test_exif_rotation_is_honoured(tmp_path: Path) -> None:
    # A phone stores the pixels sideways and says "turn me 90 degrees clockwise" in EXIF.
    with Image.open(BRIDGE) as original:
        stored = original.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, "JPEG", quality=92, exif=exif)
    assert Image.open(path).size == (1004, 1600)

    query = fingerprint_file(path)
    assert (query.width, query.height) == (1600, 1004)
    # Upright before hashing: the full-frame hash is the original's, not a turned variant's.
    assert full_distance(query, shared_fingerprint(BRIDGE)) <= 8
    lib = single(BRIDGE)
    [match] = find_matches(query, lib.index, lib.load)
    assert not match.mirrored
    assert match.score >= 0.9


def test_letterboxed_photo_matches_the_original(tmp_path: Path) -> None:
    # The landscape photo posted as a 9:16 story: black bars above and below.
    pixels = np.asarray(Image.open(BRIDGE).convert("RGB"))
    height, width = pixels.shape[:2]
    bar = (width * 16 // 9 - height) // 2
    padded = np.pad(pixels, ((bar, bar), (0, 0), (0, 0)))
    assert padded.shape[0] > 2.5 * height
    query = fingerprint_file(save_jpeg(tmp_path / "story.jpg", padded))
    assert full_distance(query, shared_fingerprint(BRIDGE)) <= 16
    lib = single(BRIDGE)
    [match] = find_matches(query, lib.index, lib.load)
    assert not match.mirrored


def test_pillarboxed_frame_matches_the_unpadded_frame(tmp_path: Path) -> None:
    # A portrait frame padded out to 16:9 landscape with black side bars.
    pixels, _ = frame_at(CHAIR, 7.0)
    height, width = pixels.shape[:2]
    side = (height * 16 // 9 - width) // 2
    padded = np.pad(pixels, ((0, 0), (side, side), (0, 0)))
    plain = fingerprint_file(save_jpeg(tmp_path / "plain.jpg", pixels))
    boxed = fingerprint_file(save_jpeg(tmp_path / "boxed.jpg", padded))
    assert (boxed.width, boxed.height) == (padded.shape[1], padded.shape[0])
    assert full_distance(boxed, plain) <= 16


def test_pillarboxed_video_matches_the_original(tmp_path: Path) -> None:
    frames, _, rate = read_frames(CHAIR, 0.0, 8.0, scale=0.5)
    height, width = frames[0].shape[:2]
    side = ((height * 16 // 9 - width) // 2) & ~1
    boxed = [np.pad(f, ((0, 0), (side, side), (0, 0))) for f in frames]
    query = fingerprint_file(write_video(tmp_path / "boxed.mp4", boxed, rate))
    assert query.width > query.height  # landscape now
    lib = single(CHAIR)
    [match] = find_matches(query, lib.index, lib.load)
    assert match.score >= 0.8
    assert match.ref_start == pytest.approx(0.0, abs=1.0)
    assert match.ref_end == pytest.approx(8.0, abs=1.0)


def test_mirrored_video_matches_and_says_so(tmp_path: Path) -> None:
    frames, _, rate = read_frames(PATTERN, 0.0, 4.0, scale=0.5)
    mirrored = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    query = fingerprint_file(write_video(tmp_path / "mirrored.mp4", mirrored, rate))
    assert query.duration == pytest.approx(4.0, abs=0.3)
    lib = single(PATTERN)
    [match] = find_matches(query, lib.index, lib.load)
    assert match.mirrored
    assert match.frames_matched >= 3
    assert match.ref_start == pytest.approx(0.0, abs=1.0)
    assert match.ref_end == pytest.approx(4.0, abs=1.0)


def test_unmirrored_copy_is_not_reported_as_mirrored() -> None:
    lib = single(PATTERN)
    query = shared_fingerprint(VIDEOS / "pattern-sd-grey-bar.mp4")
    [match] = find_matches(query, lib.index, lib.load)
    assert not match.mirrored


def test_animated_gif_matches_the_video(tmp_path: Path) -> None:
    frames, _, _ = read_frames(CHAIR, 0.0, 2.0, scale=0.5)
    pictures = [Image.fromarray(f) for f in frames[::3][:20]]  # 10 frames a second of footage
    assert len(pictures) == 20
    path = tmp_path / "chair.gif"
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    query = fingerprint_file(path)
    assert query.kind == "video"
    assert query.duration == pytest.approx(2.0, abs=0.2)
    lib = single(CHAIR)
    [match] = find_matches(query, lib.index, lib.load)
    assert match.frames_matched >= 3
    assert match.ref_start == pytest.approx(0.0, abs=1.0)


def test_frames_agreeing_on_no_single_offset_are_no_match_not_a_crash() -> None:
    """Close frame pairs that straddle the voted offset (found by bench/accuracy.py on a 3 s
    piece) must end as "no match", not an IndexError that loses the whole check."""
    from fingerprint.match import verify
    from fingerprint.settings import MatchSettings
    from fingerprint.types import Fingerprint

    rng = np.random.default_rng(7)
    shared = rng.integers(0, 256, (4, HASH_BYTES), dtype=np.uint8)

    def video(times: list[float], hashes: np.ndarray) -> Fingerprint:
        return Fingerprint(
            "video", "", 0, 4.0, 64, 64, hashes, times, np.zeros(len(times), np.uint8)
        )

    query = video([3.1, 0.8, 3.2, 0.8], shared)
    reference = video([0.3, 3.4, 3.4, 3.5], shared)
    assert verify(query, reference, 1, MatchSettings()) is None


def _landscape_chair(tmp_path: Path) -> tuple[list[np.ndarray], Path]:
    """A 16:9 piece of the chair footage (its middle rows, inside the side bars) as a video."""
    frames, _, fps = read_frames(CHAIR, end=4.0, scale=0.5)
    h, w = frames[0].shape[:2]
    top, width = h * 35 // 100, w * 85 // 100
    height = (width * 9 // 16) // 2 * 2
    left = ((w - width) // 2) // 2 * 2
    wide = [np.ascontiguousarray(f[top : top + height, left : left + width]) for f in frames]
    return wide, write_video(tmp_path / "wide.mp4", wide, fps)


def test_a_blurred_fill_vertical_is_hashed_as_its_footage(tmp_path: Path) -> None:
    """A 9:16 repost whose top and bottom are a blurred zoomed copy of the footage: the blur
    is padding, so PDQ hashes the footage band and finds the original by itself."""
    from fingerprint.match import verify
    from fingerprint.settings import MatchSettings

    wide, original = _landscape_chair(tmp_path)
    vertical = [np.asarray(blurred_fill(Image.fromarray(f))) for f in wide]
    repost = write_video(tmp_path / "vertical.mp4", vertical, 30)
    found = verify(fingerprint_file(repost), fingerprint_file(original), 1, MatchSettings())
    assert found is not None and found.score >= 0.5
    assert found.ref_start == pytest.approx(0.0, abs=1.0)


def test_a_soft_sky_at_the_top_of_a_photo_is_not_padding() -> None:
    """Only a matching pair of soft bands is a blurred fill: a picture with a blurry top (sky,
    shallow focus) keeps its whole frame, or its hashes would depend on how blurry it is."""
    from fingerprint.borders import content_box

    pixels, _ = frame_at(CHAIR, 3.0)
    image = Image.fromarray(pixels).convert("L")
    band = image.crop((0, 0, image.width, image.height * 3 // 10))
    image.paste(band.filter(ImageFilter.GaussianBlur(12)), (0, 0))
    photo = np.asarray(image, dtype=np.float32)[None]
    box = content_box(photo)
    assert (box.top, box.bottom) == (0, photo.shape[1])
    # The same picture with a matching soft band at the bottom too is a blurred fill.
    bottom = image.crop((0, image.height * 7 // 10, image.width, image.height))
    image.paste(bottom.filter(ImageFilter.GaussianBlur(12)), (0, image.height * 7 // 10))
    box = content_box(np.asarray(image, dtype=np.float32)[None])
    assert box.top > 0 and box.bottom < photo.shape[1]


@pytest.mark.parametrize("path", [CHAIR, PATTERN], ids=lambda p: p.name)
def test_frames_left_undecoded_change_no_sample(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skipping the non-reference frames no sample needs must hand over the very grid frames,
    at the very times, that decoding every frame gives: a query's hashes stay comparable with
    stored ones.  Frames sampled between grid samples of stored media (``fast_motion``) come
    from the frames decoded anyway, so skipping may change which: only the grid is compared."""
    from fingerprint import decode as decoding

    def grid() -> list:
        samples = decoding.decode(path, path.name, fast_motion=True)[1]
        return [s for s in samples if not s.between]

    skipped = grid()
    monkeypatch.setattr(decoding, "SKIP_UNSAMPLED", False)
    every = grid()
    _, frame_times, _ = read_frames(path)
    assert [s.time for s in skipped] == [s.time for s in every]
    assert {round(s.time, 6) for s in skipped} <= {round(t, 6) for t in frame_times}
    for a, b in zip(skipped, every, strict=True):
        np.testing.assert_array_equal(a.grey, b.grey)
        assert a.anchor == b.anchor


def test_only_stored_media_gain_frames_between_grid_samples() -> None:
    """A query is sampled on the plain grid (extra query frames move the temporal vote: a
    blurred-fill vertical scored 0.52 -> 0.30); media being stored get, on top of the very
    same grid samples, frames between them where the chair footage pans fast."""
    from fingerprint import decode as decoding

    query = list(decoding.decode(CHAIR, CHAIR.name)[1])
    stored = list(decoding.decode(CHAIR, CHAIR.name, fast_motion=True)[1])
    assert not any(s.between for s in query)
    extra = [s for s in stored if s.between]
    assert extra and not any(s.anchor for s in extra)
    grid = [s for s in stored if not s.between]
    assert [s.time for s in grid] == [s.time for s in query]
    for a, b in zip(grid, query, strict=True):
        np.testing.assert_array_equal(a.grey, b.grey)
