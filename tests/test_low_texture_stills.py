"""A still of low-texture footage (a small fixture on a blank wall) against the clip it is from.

One picture of such footage matches its source in one spot, as a logo shared with unrelated
blank footage does.  What tells them apart is the reference: a camera moving over the wall
shows the fixture at different places in pictures a moment apart, while an overlay stays
put (``local_verify._glimpsed``).  Scenes are generated with numpy and encoded as MPEG-4 at
a fixed quality, which gives the same bytes every time.
"""

from __future__ import annotations

import av
import numpy as np
from test_local_features import blank_with_inset, compare, extracted, features
from test_matching_media import write_mpeg4

from fingerprint import fingerprint_file
from fingerprint.match import combine
from fingerprint.settings import MatchSettings

SIZE = (640, 360)  # the camera's picture
FPS = 30  # write_mpeg4's


def wall_with_fixture(seed: int) -> np.ndarray:
    """A blank wall (1600 x 600 px, faint shading and noise) with one small textured fixture."""
    rng = np.random.default_rng(seed)
    height, width = 600, 1600
    shade = np.linspace(150, 170, width, dtype=np.float32)[None, :]
    wall = shade + rng.normal(0, 1.0, (height, width)).astype(np.float32)
    side = 72
    coarse = rng.normal(0, 1, (side // 6, side // 6)).astype(np.float32)
    patch = np.kron(coarse, np.ones((6, 6), np.float32)) * 45 + 120
    top, left = 260, 700
    wall[top : top + side, left : left + side] = patch
    return np.repeat(np.clip(wall, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def panned(wall: np.ndarray, seconds: float = 4.0) -> list[np.ndarray]:
    """A camera panning left to right over ``wall``: the fixture crosses the picture."""
    width, height = SIZE
    count = round(seconds * FPS)
    lefts = np.linspace(260, 700, count).round().astype(int)
    return [wall[100 : 100 + height, x : x + width] for x in lefts]


def test_a_still_of_a_fixture_on_a_panned_blank_wall_matches_its_clip(tmp_path):
    frames = panned(wall_with_fixture(seed=3))
    clip = write_mpeg4(tmp_path / "wall.mp4", frames)
    still = write_mpeg4(tmp_path / "still.mp4", [frames[54]] * (3 * FPS))  # at 1.8 s, for 3 s
    # The fixture looks alike wherever it is, so any picture of the clip may be the best.
    assert compare(extracted(still), features(clip)) is not None
    match = combine(fingerprint_file(still), fingerprint_file(clip), 1, MatchSettings())
    assert match is not None and "orb" in match.signals
    # ... and not the clip of another wall with another fixture, panned alike.
    other = write_mpeg4(tmp_path / "other.mp4", panned(wall_with_fixture(seed=4)))
    assert compare(extracted(still), features(other)) is None


def test_a_still_sharing_only_an_inset_with_a_blank_clip_does_not_match_it(tmp_path):
    # The inset is at the same place in every picture of the reference: it does not move.
    clip = blank_with_inset(tmp_path / "clip.mp4", level=90, seed=1)
    source = blank_with_inset(tmp_path / "source.mp4", level=140, seed=2)
    with av.open(str(source)) as container:
        picture = next(container.decode(video=0)).to_ndarray(format="rgb24")
    still = write_mpeg4(tmp_path / "still.mp4", [picture] * (3 * FPS))
    assert compare(extracted(still), features(clip)) is None
