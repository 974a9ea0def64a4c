"""The signals together, end to end through `oldclip check --json` on a real library file.

Reposts are made with PyAV and Pillow from a shared video in the test's folder: the edits a
global hash cannot survive (an off-centre crop, a blurred-fill vertical, a phone screenshot of
a frame), a repost whose picture is covered but keeps the original sound, and the original
sound laid over other footage, which must be reported as "sound only, the picture differs" and
never as old footage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from media import (
    CHAIR,
    DOORKNOB,
    PATTERN,
    blurred_fill,
    off_centre_crop,
    phone_screenshot,
    read_frames,
    require_media,
    run_cli,
    save_jpeg,
    write_video,
)
from media_sound import covered_repost, sound_over
from PIL import Image

from fingerprint import signal

CHECK_OLD, CHECK_NOT_OLD = 0, 3
PIECE_S = 8.0  # seconds of the chair used for the video reposts (keeps the test quick)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library file holding the chair clip (as `oldclip add` made it)."""
    require_media()
    db = tmp_path_factory.mktemp("library") / "library.db"
    added = run_cli(
        "add", CHAIR, "--title", "Chair", "--first-seen", "2015-03-01", "--source",
        "https://archive.org/chair", db=db, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return db


def needs(*names: str) -> pytest.MarkDecorator:
    missing = sorted(set(names) - set(signal.PLUGINS))
    return pytest.mark.skipif(bool(missing), reason=f"signals not registered: {missing}")


def check(db: Path, path: Path) -> tuple[int, dict]:
    done = run_cli("check", "--json", path, db=db, timeout=120)
    assert done.returncode in (CHECK_OLD, CHECK_NOT_OLD), done.stderr
    return done.returncode, json.loads(done.stdout)


def _even(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    return np.ascontiguousarray(pixels[: h - h % 2, : w - w % 2])


def each(edit, frames: list[np.ndarray]) -> list[np.ndarray]:
    """``edit`` (a picture edit of tests/media.py) applied to every frame."""
    return [_even(np.asarray(edit(Image.fromarray(f)))) for f in frames]


@needs("orb")
def test_a_cropped_repost_is_old(library: Path, tmp_path: Path) -> None:
    frames, _, fps = read_frames(CHAIR, end=PIECE_S, scale=0.5)
    repost = write_video(tmp_path / "cropped.mp4", each(off_centre_crop, frames), fps)  # no sound
    status, answer = check(library, repost)
    assert (status, answer["verdict"]) == (CHECK_OLD, "old")
    best = answer["matches"][0]
    assert best["agreement"] == "picture" and not best["sound_only"]


@needs("orb")
def test_a_blurred_fill_vertical_repost_is_old(library: Path, tmp_path: Path) -> None:
    frames, _, fps = read_frames(CHAIR, end=PIECE_S, scale=0.5)
    repost = write_video(tmp_path / "vertical.mp4", each(blurred_fill, frames), fps)
    status, answer = check(library, repost)
    assert (status, answer["verdict"]) == (CHECK_OLD, "old")
    assert answer["matches"][0]["agreement"] == "picture"


@needs("orb")
def test_a_screenshot_of_a_frame_is_old(library: Path, tmp_path: Path) -> None:
    frames, _, _ = read_frames(CHAIR, start=8.0, end=8.2)
    (screen,) = each(phone_screenshot, frames[:1])
    shot = save_jpeg(tmp_path / "screenshot.jpg", screen)
    status, answer = check(library, shot)
    assert (status, answer["verdict"]) == (CHECK_OLD, "old")
    best = answer["matches"][0]
    assert best["agreement"] == "picture" and abs(best["clip_start"] - 8.0) < 1.0


@needs("audio")
def test_a_repost_whose_picture_is_hidden_but_keeps_the_sound_matches_by_sound(
    library: Path, tmp_path: Path
) -> None:
    # 70% of every frame under an opaque box: no picture signal finds the rest of it, so the
    # sound alone finds the clip, at the right place.  Alone it is never "old": it is shown
    # for a person to look at, as sound only.
    repost = covered_repost(CHAIR, tmp_path / "covered.mp4", covered=0.7, end=PIECE_S)
    status, answer = check(library, repost)
    (best,) = answer["matches"]
    assert best["signals"] == ["audio"] and best["sound_only"] and not best["old"]
    assert abs(best["clip_start"] - best["query_start"]) < 0.5  # the piece starts at 0 s
    assert (status, answer["verdict"]) == (CHECK_NOT_OLD, "sound_only")


@needs("audio")
def test_the_sound_reinforces_the_picture_at_the_same_offset(library: Path, tmp_path: Path) -> None:
    repost = covered_repost(CHAIR, tmp_path / "covered.mp4", covered=0.3, end=PIECE_S)
    status, answer = check(library, repost)
    best = answer["matches"][0]
    assert (status, best["agreement"], best["old"]) == (CHECK_OLD, "picture_and_sound", True)
    assert "pdq" in best["signals"] and "audio" in best["signals"]
    # Without its sound, the same picture gives a weaker match.
    frames, _, fps = read_frames(repost)
    silent = write_video(tmp_path / "silent.mp4", frames, fps)
    _, alone = check(library, silent)
    assert alone["matches"][0]["agreement"] == "picture"
    assert alone["matches"][0]["score"] < best["score"]


@needs("audio")
def test_the_sound_over_other_footage_is_sound_only_never_old(
    library: Path, tmp_path: Path
) -> None:
    repost = sound_over(DOORKNOB, CHAIR, tmp_path / "voice-over.mp4", end=PIECE_S)
    status, answer = check(library, repost)
    assert (status, answer["verdict"]) == (CHECK_NOT_OLD, "sound_only")
    (best,) = answer["matches"]
    assert (best["signals"], best["agreement"], best["sound_only"]) == (
        ["audio"],
        "sound_only",
        True,
    )
    assert best["old"] is False
    text = run_cli("check", repost, db=library, timeout=120)
    assert text.returncode == CHECK_NOT_OLD
    assert "sound only, the picture differs" in text.stdout and "OLD FOOTAGE" not in text.stdout


@needs("orb")
def test_a_compilation_of_a_plain_clip_and_a_cropped_one_finds_both(tmp_path: Path) -> None:
    """PDQ places the plain part; the cropped part, which only local features can place, is
    still looked up (the cascade leaves out only the pictures a match already explains)."""
    db = tmp_path / "library.db"
    for path, title in ((CHAIR, "Chair"), (PATTERN, "Pattern")):
        added = run_cli(
            "add", path, "--title", title, "--first-seen", "2015-03-01", "--source",
            f"https://archive.org/{title.lower()}", db=db, timeout=120,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    plain, _, fps = read_frames(PATTERN, end=5.0, scale=0.5)
    chair, _, _ = read_frames(CHAIR, start=2.0, end=PIECE_S, scale=0.5)
    cropped = each(off_centre_crop, chair)
    height, width = cropped[0].shape[:2]  # the pattern squeezed to it: PDQ does not mind
    squeezed = [np.asarray(Image.fromarray(f).resize((width, height))) for f in plain]
    repost = write_video(tmp_path / "compilation.mp4", squeezed + cropped, fps)
    status, answer = check(db, repost)
    assert status == CHECK_OLD
    found = {m["title"]: m for m in answer["matches"] if not m["sound_only"]}
    assert set(found) == {"Chair", "Pattern"}
    assert found["Pattern"]["query_end"] < 5.5 < found["Chair"]["query_start"] + 1.0
