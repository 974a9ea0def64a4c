"""A curator's one new clip (or one removed) in a library whose orb index was saved: found (or
no longer found) by the next check straight away, without rebuilding the saved index.

At 1M frame hashes the library holds ~25M descriptors; rebuilding them into their cells cost
minutes of CPU in every process that had the index open.  Here the library is smaller (400,000
random descriptors besides the real clips, well above the exact scan's limit) and the cost is
seen as memory: the saved descriptors stay in the file, unread into the process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from media import CHAIR, DOORKNOB, PATTERN, off_centre_crop
from test_local_features import _anonymous_memory, edited_clip, features, one_picture, shared

from fingerprint.index_file import load_arrays, save_arrays
from fingerprint.local import LOCAL

ADDED = 500  # the new clip's media id


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_clip_added_to_a_saved_index_is_found_and_a_removed_one_is_not(tmp_path) -> None:
    codes = np.random.default_rng(5).integers(0, 256, (400_000, 32), dtype=np.uint8)
    index = LOCAL.new_index()
    index.add(1, shared(CHAIR))
    index.add(2, shared(DOORKNOB))
    for media_id, block in enumerate(np.split(codes, 100), 10):
        index.add(media_id, one_picture(block))
    path = tmp_path / "library.orb.index"
    save_arrays(path, index.to_arrays(), {})
    saved = digest(path)
    del index
    pattern_crop = features(edited_clip(tmp_path, PATTERN, off_centre_crop, "pattern"))
    chair_crop = features(edited_clip(tmp_path, CHAIR, off_centre_crop, "chair"))
    pattern = shared(PATTERN)

    opened = LOCAL.new_index()
    opened.load_arrays(load_arrays(path)[0])
    assert opened.candidates(chair_crop, limit=1) == [1]
    before = _anonymous_memory()
    opened.add(ADDED, pattern)
    opened.remove(1)
    assert opened.candidates(pattern_crop, limit=1) == [ADDED]
    assert 1 not in opened.candidates(chair_crop, limit=25)
    assert 1 not in opened and ADDED in opened and len(opened) == 102
    # The saved descriptors were searched where they lie, not taken out to be indexed anew.
    assert _anonymous_memory() - before < codes.nbytes / 8
    assert digest(path) == saved

    # Saved again (as the library does on closing): the next command opens the change.
    save_arrays(path, opened.to_arrays(), {})
    arrays, _ = load_arrays(path)
    reopened = LOCAL.new_index()
    reopened.load_arrays(arrays)
    assert reopened.candidates(pattern_crop, limit=1) == [ADDED]
    assert 1 not in reopened.candidates(chair_crop, limit=25)
    assert sorted(reopened.media_ids()) == sorted(opened.media_ids())
    stored = len(shared(DOORKNOB).descriptors) + len(shared(PATTERN).descriptors) + len(codes)
    assert len(arrays["frame"]) == stored  # the removed clip's descriptors gone, each once


def test_a_clip_added_again_answers_as_in_an_index_built_anew(tmp_path) -> None:
    """The replica re-adds media whose data changed (SQLite reuses ids of deleted media): its
    old descriptors no longer vote, exactly as if the index had been built with the new."""
    codes = np.random.default_rng(6).integers(0, 256, (120_000, 32), dtype=np.uint8)
    distractors = {m: one_picture(b) for m, b in enumerate(np.split(codes, 30), 10)}
    changed = LOCAL.new_index()
    for media_id, data in distractors.items():
        changed.add(media_id, data)
    changed.add(ADDED, shared(CHAIR))
    changed.candidates(one_picture(codes[:10]), limit=1)  # indexed
    changed.add(ADDED, shared(PATTERN))  # the same id now stands for the pattern
    anew = LOCAL.new_index()
    for media_id, data in {**distractors, ADDED: shared(PATTERN)}.items():
        anew.add(media_id, data)
    chair_crop = features(edited_clip(tmp_path, CHAIR, off_centre_crop, "chair"))
    pattern_crop = features(edited_clip(tmp_path, PATTERN, off_centre_crop, "pattern"))
    for query in (chair_crop, pattern_crop):
        assert changed.candidates(query, limit=25) == anew.candidates(query, limit=25)
    assert changed.candidates(pattern_crop, limit=1) == [ADDED]
    assert len(changed) == 31
    assert len(changed.to_arrays()["frame"]) == len(shared(PATTERN).descriptors) + len(codes)
