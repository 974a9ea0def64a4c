"""The pictures the bot sends, made from the real media in ../shared/media."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.evidence import MAX_WIDTH, frame_at, key_frames, picture_labels, side_by_side
from fingerprint import MediaError

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
CHAIR = MEDIA / "videos" / "chair-orig-22-sd-bar.mp4"
DOORKNOB = MEDIA / "videos" / "doorknob-hd-no-bar.mp4"
PATTERN = MEDIA / "videos" / "pattern-hd-no-bar.mp4"
BRIDGE = MEDIA / "images" / "aaa-orig.jpg"
BRIDGE_TURNED = MEDIA / "images" / "bridge-2-rotate-90.jpg"


def reference_frame(path: Path, seconds: float) -> np.ndarray:
    """The first frame at or after ``seconds``, decoded from the start with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = None
        for frame in container.decode(stream):
            first = frame.time if first is None else first
            if frame.time - first >= seconds - 1e-3:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError("no frame")


def small(pixels: np.ndarray, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    image = Image.fromarray(pixels).convert("L").resize(size, Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def decode_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


def test_frame_at_matches_frame_decoded_from_start() -> None:
    got = frame_at(CHAIR, 7.0)
    assert got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] == 3
    assert max(got.shape[:2]) <= 720
    want = reference_frame(CHAIR, 7.0)
    near = np.abs(small(got) - small(want)).mean()
    other = np.abs(small(got) - small(reference_frame(CHAIR, 3.0))).mean()
    assert near < 4, near
    assert near < other / 3, (near, other)


def test_frame_at_is_bounded_and_clamped() -> None:
    assert max(frame_at(DOORKNOB, 1.0, side=320).shape[:2]) == 320
    last = frame_at(CHAIR, 10_000.0)  # past the end: the last frame
    assert last.shape == frame_at(CHAIR, 0.0).shape


def test_frame_at_shows_an_anamorphic_video_at_its_display_aspect(tmp_path: Path) -> None:
    """A TV capture stores its 16:9 picture squeezed into 720x576 pixels 64:45 wide: the
    evidence picture shows it 16:9, as a player does, not squeezed to 5:4."""
    from fractions import Fraction

    from test_decode_quirks import encode, squeezed

    frames = [reference_frame(DOORKNOB, s) for s in (0.5, 1.0)]  # 16:9 footage
    dvb = encode(tmp_path / "dvb.mkv", squeezed(frames, (720, 576)), sar=Fraction(64, 45))
    shown = frame_at(dvb, 0.0, side=640)
    assert shown.shape[1] == 640 and abs(shown.shape[1] / shown.shape[0] - 16 / 9) < 0.02
    unsqueezed = np.asarray(Image.fromarray(frames[0]).resize(shown.shape[1::-1]))
    assert np.abs(small(shown) - small(unsqueezed)).mean() < 6


def test_frame_at_photo_is_upright() -> None:
    photo = frame_at(BRIDGE, 0.0, side=400)
    assert photo.dtype == np.uint8 and photo.shape[2] == 3 and max(photo.shape[:2]) == 400
    with Image.open(BRIDGE) as original:
        assert (photo.shape[1] > photo.shape[0]) == (original.width > original.height)


def test_frame_at_rejects_what_is_not_media(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 50)
    with pytest.raises(MediaError) as caught:
        frame_at(text, 1.0)
    assert caught.value.reason
    with pytest.raises(MediaError, match="no such file"):
        frame_at(tmp_path / "missing.mp4", 1.0)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        frame_at(empty, 1.0)


def test_side_by_side_puts_query_left_and_reference_right() -> None:
    query = frame_at(CHAIR, 7.0)  # portrait 480x720 -> 320x480
    ref = frame_at(DOORKNOB, 1.0)  # landscape 16:9 -> 853x480
    query_label, ref_label = picture_labels("en", query_date="2024-05-01", ref_date="2017-06-20")
    assert query_label == "Your copy — forwarded 2024-05-01"
    assert ref_label == "Library — first published 2017-06-20"
    data = side_by_side(query, ref, query_label=query_label, ref_label=ref_label)
    image = decode_jpeg(data)
    left_w = round(query.shape[1] * 480 / query.shape[0])
    right_w = round(ref.shape[1] * 480 / ref.shape[0])
    assert abs(image.width - (left_w + right_w)) <= 16, (image.size, left_w, right_w)
    assert image.width <= MAX_WIDTH
    assert 480 < image.height < 560  # the pictures, then the label bar
    pixels = np.asarray(image.convert("RGB"))
    left, right = pixels[:480, :left_w], pixels[:480, -right_w:]
    assert np.abs(small(left) - small(query)).mean() < 6
    assert np.abs(small(right) - small(ref)).mean() < 6
    assert np.abs(small(left) - small(ref)).mean() > np.abs(small(left) - small(query)).mean()
    bar = pixels[485:, :]
    assert bar.max() > 200 and np.median(bar) < 60  # light text on a dark bar


def test_side_by_side_takes_grey_frames_and_limits_width() -> None:
    wide = np.tile(np.linspace(0, 255, 2000, dtype=np.uint8), (500, 1))  # grey, 4:1
    data = side_by_side(
        wide, frame_at(PATTERN, 1.0), query_label="Your copy", ref_label="Library", lang="ar"
    )
    image = decode_jpeg(data)
    assert image.mode == "RGB" and image.width <= MAX_WIDTH
    with pytest.raises(ValueError):
        side_by_side(np.zeros((4, 4, 2), np.uint8), wide, query_label="a", ref_label="b")


def test_picture_labels_are_english_for_arabic() -> None:
    """The default font has no Arabic glyphs: the picture's labels stay in English."""
    assert picture_labels("ar", ref_date="2017-06-20") == (
        "Your copy",
        "Library — first published 2017-06-20",
    )
    _, sighting = picture_labels("ar", ref_date="2024-01-02", sighting=True)
    assert sighting == "Earlier copy — first seen 2024-01-02"


def test_key_frames_of_video_are_distinct_jpegs() -> None:
    frames = key_frames(CHAIR)
    assert len(frames) == 4
    assert len(set(frames)) == 4
    images = [decode_jpeg(data) for data in frames]
    assert all(max(image.size) <= 720 for image in images)
    thumbs = [small(np.asarray(image.convert("RGB"))) for image in images]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(thumbs[i] - thumbs[j]).mean() > 2, (i, j)
        assert thumbs[i].std() > 8  # not black or flat


def test_key_frames_of_photo_is_the_photo() -> None:
    frames = key_frames(BRIDGE_TURNED, count=4, side=512)
    assert len(frames) == 1
    image = decode_jpeg(frames[0])
    assert max(image.size) == 512
    assert np.abs(small(np.asarray(image)) - small(frame_at(BRIDGE_TURNED, 0.0))).mean() < 4
