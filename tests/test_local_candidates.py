"""Judging the local-feature candidates of ``find_matches``: every copy of the footage is
found, and the candidates ranked after them are not all verified once the query is placed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from media import VIDEOS, off_centre_crop, read_frames, require_media, write_video
from PIL import Image, ImageOps

from fingerprint import HashIndex, fingerprint_file
from fingerprint.local_features import LocalFeatures
from fingerprint.local_index import LocalIndex
from fingerprint.match import MISSES_ONCE_PLACED, find_matches

# Three cuts of the chair footage, and footage of other scenes.
COPIES = ["chair-orig-22-sd-bar.mp4", "chair-20-sd-bar.mp4", "chair-19-sd-bar.mp4"]
OTHERS = [
    "pattern-hd-no-bar.mp4",
    "pattern-longer-no-bar.mp4",
    "pattern-sd-grey-bar.mp4",
    "doorknob-hd-no-bar.mp4",
    "test-padded-dimensions.mp4",
]


def test_a_crop_finds_every_copy_of_its_footage_and_stops_verifying_after(tmp_path: Path):
    require_media()
    frames, _, rate = read_frames(VIDEOS / COPIES[0], 6.0, 10.0, scale=0.5)
    cropped = [np.asarray(off_centre_crop(Image.fromarray(f))) for f in frames]
    even = [np.ascontiguousarray(f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2]) for f in cropped]
    query = fingerprint_file(write_video(tmp_path / "crop.mp4", even, fps=rate))

    stored = {n: fingerprint_file(VIDEOS / name) for n, name in enumerate(COPIES + OTHERS)}
    hashes, local = HashIndex(), LocalIndex()
    for media_id, fp in stored.items():
        hashes.add(media_id, fp)
        local.add(media_id, fp.signals["orb"])
    loaded: list[int] = []

    def load(media_id: int):
        loaded.append(media_id)
        return stored[media_id]

    matches = find_matches(query, hashes, load, indexes={"orb": local})

    names = [(COPIES + OTHERS)[m.media_id] for m in matches]
    assert sorted(names) == sorted(COPIES)
    assert all("orb" in m.signals for m in matches)
    # Placed by the copies, the query is not verified against every other candidate: a few
    # in a row that show none of it end the search.
    assert len(loaded) <= len(COPIES) + MISSES_ONCE_PLACED < len(stored)


class SidesSearched(LocalIndex):
    """A real local-feature index that records the descriptors of each lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.searched: list[np.ndarray] = []

    def votes(self, query: LocalFeatures) -> dict[int, float]:
        self.searched.append(query.descriptors)
        return super().votes(query)


def cropped_query(tmp_path: Path, mirror: bool):
    """An off-centre crop of 10 s of the chair footage (mirrored too, with ``mirror``)."""
    frames, _, rate = read_frames(VIDEOS / COPIES[0], 6.0, 10.0, scale=0.5)
    edit = [off_centre_crop(Image.fromarray(f)) for f in frames]
    edit = [np.asarray(ImageOps.mirror(i) if mirror else i) for i in edit]
    even = [np.ascontiguousarray(f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2]) for f in edit]
    name = "mirrored-crop.mp4" if mirror else "crop.mp4"
    return fingerprint_file(write_video(tmp_path / name, even, fps=rate))


def test_the_mirrored_pictures_are_looked_up_only_when_the_upright_ones_place_nothing(
    tmp_path: Path,
):
    require_media()
    names = [COPIES[0], *OTHERS[:3]]
    stored = {n: fingerprint_file(VIDEOS / name) for n, name in enumerate(names)}
    hashes, local = HashIndex(), SidesSearched()
    for media_id, fp in stored.items():
        hashes.add(media_id, fp)
        local.add(media_id, fp.signals["orb"])

    # A crop: its upright pictures find the footage, their mirror is never searched.
    query = cropped_query(tmp_path, mirror=False)
    matches = find_matches(query, hashes, stored.get, indexes={"orb": local})
    assert [(m.media_id, m.mirrored) for m in matches] == [(0, False)]
    orb = query.signals["orb"]
    assert len(local.searched) == 1
    assert np.array_equal(local.searched[0], orb.descriptors)

    # A mirrored crop is still found, mirrored (in a library this small every item drew a
    # chance upright vote, so its source is verified, both ways, before any mirrored lookup).
    query = cropped_query(tmp_path, mirror=True)
    matches = find_matches(query, hashes, stored.get, indexes={"orb": local})
    assert [(m.media_id, m.mirrored) for m in matches] == [(0, True)]
