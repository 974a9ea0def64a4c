"""Files whose every frame is flat (no PDQ hash) are still fingerprinted by the signals they
have, end to end through `oldclip add` and `oldclip check --json` on a real library file.

A near-uniform scene under a voice track, or a dark scene whose few sharp points PDQ's quality
score discards but ORB finds as corners, is footage a person may check; only a file in which no
signal has anything (black and silent) is refused, with the one-line reason.  The sound alone
still never makes footage "old" (the rule of ``fingerprint.match.combine``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from media import CHAIR, read_frames, require_media, run_cli
from media_sound import read_sound, write_media
from test_signal_matching import CHECK_NOT_OLD, CHECK_OLD, needs

from fingerprint import MediaError, fingerprint_file

SECONDS = 8.0
FPS = 30


def flat_with_voice(path: Path, grey: int = 120) -> Path:
    """A uniform grey picture under the chair clip's sound (a voice-over on a blank scene)."""
    sound, rate = read_sound(CHAIR, end=SECONDS)
    picture = np.full((240, 320, 3), grey, dtype=np.uint8)
    return write_media(path, sound, rate, [picture] * int(SECONDS * FPS), FPS)


def night_scene(path: Path, seed: int) -> Path:
    """A dark, silent scene: a few dim specks drifting over black.  Shrunk to PDQ's 64 x 64
    they are a blur below its quality score; at full size each is a sharp corner."""
    rng = np.random.default_rng(seed)
    height, width = 360, 640
    spots = rng.uniform((0, 0), (height - 12, width - 12), (60, 2))
    shapes = rng.integers(2, 6, (60, 2))
    frames = []
    for i in range(int(5 * FPS)):
        pixels = np.full((height, width, 3), 6, dtype=np.uint8)
        for (y, x), (h, w) in zip(spots + (i * 0.3, i * 0.8), shapes, strict=True):
            y, x = int(y) % (height - 12), int(x) % (width - 12)
            pixels[y : y + 2 * h, x : x + 2 * w] = 40
        frames.append(pixels)
    return write_media(path, None, frames=frames, fps=FPS)


def reencoded(source: Path, path: Path) -> Path:
    """``source`` decoded and encoded again, its sound (if any) at a lower bitrate."""
    frames, _, fps = read_frames(source)
    try:
        sound, rate = read_sound(source)
    except IndexError:  # no sound track
        sound, rate = None, 48000
    return write_media(path, sound, rate, frames, fps, bitrate=64_000)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_media()
    folder = tmp_path_factory.mktemp("flat")
    return {
        "voice": flat_with_voice(folder / "voice.mp4"),
        "night": night_scene(folder / "night.mp4", seed=3),
    }


@pytest.fixture(scope="module")
def library(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("library") / "library.db"
    for title, path in files.items():
        added = run_cli(
            "add", path, "--title", title, "--first-seen", "2015-03-01", "--source",
            f"https://archive.org/{title}", db=db, timeout=120,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return db


def check(db: Path, path: Path) -> tuple[int, dict]:
    done = run_cli("check", "--json", path, db=db, timeout=120)
    assert done.returncode in (CHECK_OLD, CHECK_NOT_OLD), done.stderr
    return done.returncode, json.loads(done.stdout)


@needs("audio")
def test_a_flat_picture_with_sound_is_fingerprinted_by_its_sound(files) -> None:
    fp = fingerprint_file(files["voice"])
    assert len(fp) == 0  # no PDQ hash: every frame is flat
    assert "audio" in fp.signals


@needs("audio")
def test_a_reencoded_flat_picture_with_sound_is_found_by_sound_never_old(
    library: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    status, answer = check(library, reencoded(files["voice"], tmp_path / "voice-again.mp4"))
    best = answer["matches"][0]
    assert (best["title"], best["signals"], best["sound_only"]) == ("voice", ["audio"], True)
    assert (status, answer["verdict"], best["old"]) == (CHECK_NOT_OLD, "sound_only", False)


@needs("orb")
def test_a_dark_scene_without_pdq_hashes_is_matched_by_its_corners(
    library: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    assert (
        len(fingerprint_file(files["night"])) == 0
        and "orb" in fingerprint_file(files["night"]).signals
    )
    status, answer = check(library, reencoded(files["night"], tmp_path / "night-again.mp4"))
    best = answer["matches"][0]
    assert (status, best["title"], best["signals"], best["old"]) == (
        CHECK_OLD, "night", ["orb"], True,
    )  # fmt: skip
    # Another night, other specks: nothing in common, no match.
    status, answer = check(library, night_scene(tmp_path / "other-night.mp4", seed=11))
    assert (status, answer["matches"]) == (CHECK_NOT_OLD, [])


def test_a_black_silent_file_is_refused_in_one_line(library: Path, tmp_path: Path) -> None:
    silence = np.zeros((1, 48000 * 4), dtype=np.float32)
    black = [np.zeros((240, 320, 3), dtype=np.uint8)] * (4 * FPS)
    path = write_media(tmp_path / "black.mp4", silence, 48000, black, FPS)
    with pytest.raises(MediaError, match="flat or black and it has no sound"):
        fingerprint_file(path)
    done = run_cli("check", path, db=library, timeout=120)
    assert done.returncode not in (CHECK_OLD, CHECK_NOT_OLD)
    assert done.stderr.strip().splitlines() == [
        "oldclip: error: black.mp4: every frame is flat or black and it has no sound: nothing "
        "in it can be recognised; send a copy that shows the footage"
    ]
    assert "Traceback" not in done.stderr


@needs("orb")
def test_a_bundle_carries_a_file_without_pdq_hashes(
    library: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.jsonl"
    exported = run_cli("export", "--publisher", "Desk", bundle, db=library, timeout=120)
    assert exported.returncode == 0, exported.stderr
    other = tmp_path / "other.db"
    imported = run_cli("import-bundle", bundle, db=other, timeout=120)
    assert imported.returncode == 0, imported.stderr
    status, answer = check(other, reencoded(files["night"], tmp_path / "night-again.mp4"))
    assert (status, answer["matches"][0]["title"]) == (CHECK_OLD, "night")
