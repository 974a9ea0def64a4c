"""The sound signal: Chromaprint codes of real clips' sound, and the edits reposts make to it.

Every edit is made with PyAV from the shared videos' own sound tracks (see tests/media_sound.py);
a match must also say where the query sits in the original (within 0.3 s).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from media import CHAIR, DOORKNOB, FAMILY_OF, PADDED, PATTERN, VIDEOS, require_media
from media_sound import (
    covered_repost,
    edit_sound,
    read_sound,
    screen_repost,
    sound_over,
    tone,
    write_media,
)

from fingerprint.audio import AUDIO, MIN_SOUND_S, SoundPrint
from fingerprint.chromaprint import SAMPLE_RATE, ChromaStream, codes
from fingerprint.decode import Header
from fingerprint.index_file import load_arrays, save_arrays
from fingerprint.settings import Limits, MatchSettings
from fingerprint.signal import Evidence, Signal

SOUNDED = [p for p in sorted(VIDEOS.glob("*.mp4")) if p != PADDED]
PIECE_START = 8.0  # a 6 s piece is cut from the middle of the 22 s chair clip


def sound_of(source: Path | bytes, limits: Limits = Limits()) -> SoundPrint | None:
    name = source.name if isinstance(source, Path) else "upload"
    extractor = AUDIO.extractor(source, name, Header("video", 0, 0, 0.0), limits)
    return extractor.finish()  # the sound is read from the file: no picture sample needed


def compared(query: SoundPrint, reference: SoundPrint) -> Evidence | None:
    return AUDIO.compare(query, reference, MatchSettings())


@pytest.fixture(scope="module")
def shared() -> dict[str, SoundPrint | None]:
    require_media()
    return {p.name: sound_of(p) for p in [*SOUNDED, PADDED]}


@pytest.fixture(scope="module")
def chair(shared) -> SoundPrint:
    return shared[CHAIR.name]


# Chromaprint 1.5.1's own codes (``fpcalc -raw``) of ``melody()`` written as a 16-bit WAV.
FPCALC_MELODY = (
    "611b215c603a116c602a312c202a212c20fa112c209f0b3c208c0b0d308c1b4e128c594e128cd84e02ce98ce"
    "460e74ce461a308e4e3a308e4eea31be4cae32ae4caf22a74ca432a448a032ac48a032ac482012e848205e28"
    "0830ab180832a9080832a9081932a9087a72bb087ae296087a7382087a1182187a0082e87a44a2e87a442268"
    "5a44266a5b443a6a5dc5186a51c508aa51fd08be416d088e016d0c8e01ef108e03ee108603ee5086"
)


def melody() -> np.ndarray:
    """16 half-second chords at 11025 Hz, as 16-bit samples: no decoder or resampler involved."""
    notes = [220.0, 277.18, 329.63, 440.0, 392.0, 349.23, 293.66, 246.94]
    notes += [196.0, 261.63, 311.13, 415.3, 370.0, 233.08, 185.0, 523.25]
    t = np.arange(int(0.5 * SAMPLE_RATE)) / SAMPLE_RATE
    chords = [
        np.sin(2 * np.pi * f * t)
        + 0.5 * np.sin(4 * np.pi * f * t)
        + 0.3 * np.sin(3 * np.pi * f * t)
        for f in notes
    ]
    return np.round(np.concatenate(chords) * 8000).astype(np.int16)


def test_codes_are_chromaprints_own():
    stream = ChromaStream()
    for piece in np.array_split(melody(), 7):  # fed in uneven pieces, as a decoder does
        stream.feed(piece)
    expected = np.array([int(FPCALC_MELODY[i : i + 8], 16) for i in range(0, 344, 8)], np.uint32)
    assert np.array_equal(codes(stream.chroma()), expected)


def test_is_a_sound_plugin():
    assert isinstance(AUDIO, Signal)
    assert (AUDIO.name, AUDIO.version, AUDIO.picture) == ("audio", 1, False)


EDITS = {
    "AAC at 32 kbit/s": dict(bitrate=32_000),
    "a 6 s piece from the middle": dict(start=PIECE_START, duration=6.0),
    "much quieter": dict(gain=0.15),
    "louder": dict(gain=2.5),
    "noise at 10 dB SNR": dict(snr_db=10.0),
    "resampled to 44.1 kHz": dict(rate=44_100),
    "resampled to 22.05 kHz": dict(rate=22_050),
}


@pytest.mark.parametrize("edit", EDITS)
def test_edited_sound_matches_the_original_where_it_plays(edit, chair, tmp_path):
    settings = EDITS[edit]
    query = sound_of(edit_sound(CHAIR, tmp_path / "edit.m4a", **settings))
    evidence = compared(query, chair)
    assert evidence is not None, edit
    assert abs(evidence.offset - settings.get("start", 0.0)) <= 0.3
    assert evidence.score > 0.5
    assert evidence.units * query.step >= MIN_SOUND_S
    assert evidence.ref_start >= settings.get("start", 0.0) - 0.3


def test_resampled_twice_to_48_khz_matches(chair, tmp_path):
    at_44 = edit_sound(CHAIR, tmp_path / "44.m4a", rate=44_100, bitrate=64_000)
    at_48 = edit_sound(at_44, tmp_path / "48.m4a", rate=48_000, start=2.0)
    evidence = compared(sound_of(at_48), chair)
    assert evidence is not None and abs(evidence.offset - 2.0) <= 0.3


def test_the_piece_is_placed_in_the_original(chair, tmp_path):
    query = sound_of(edit_sound(CHAIR, tmp_path / "piece.m4a", start=PIECE_START, duration=6.0))
    evidence = compared(query, chair)
    assert 0.0 <= evidence.query_start < evidence.query_end <= 6.3
    assert PIECE_START - 0.3 <= evidence.ref_start < evidence.ref_end <= PIECE_START + 6.3
    # The other way round: the original holds the piece at minus the same offset.
    back = compared(chair, query)
    assert back is not None and abs(back.offset + evidence.offset) <= 0.3


def test_every_shared_pair_matches_within_its_family_only(shared):
    prints = {name: data for name, data in shared.items() if data is not None}
    # Shorter than MIN_SOUND_S of codes, or no sound at all: nothing to say.
    assert shared[DOORKNOB.name] is None and shared[PADDED.name] is None
    assert len(prints) == len(SOUNDED) - 1
    for a, qa in prints.items():
        for b, qb in prints.items():
            evidence = compared(qa, qb)
            if FAMILY_OF[a] == FAMILY_OF[b]:
                assert evidence is not None and evidence.score > 0.5, (a, b)
            else:
                assert evidence is None, (a, b)


def test_the_index_ranks_the_family_first(shared, tmp_path):
    index = AUDIO.new_index()
    names = [name for name, data in shared.items() if data is not None]
    for media_id, name in enumerate(names):
        index.add(media_id, shared[name])
    assert len(index) == len(names)
    query = sound_of(edit_sound(CHAIR, tmp_path / "q.m4a", start=PIECE_START, duration=6.0))
    found = [names[i] for i in index.candidates(query, limit=25)]
    assert found and all(FAMILY_OF[name] == "chair" for name in found)
    found = [names[i] for i in index.candidates(shared[PATTERN.name], limit=3)]
    assert len(found) == 3 and all(FAMILY_OF[name] == "pattern" for name in found)
    index.remove(names.index(CHAIR.name))
    assert CHAIR.name not in [names[i] for i in index.candidates(query, limit=25)]


def test_the_index_stays_right_as_items_come_and_go(shared, chair):
    """Items added one by one between searches (the service's way) and replaced in place."""
    index = AUDIO.new_index()
    names = [name for name, data in shared.items() if data is not None]
    for media_id, name in enumerate(names):
        index.add(media_id, shared[name])
        found = index.candidates(chair, limit=25)
        assert found and all(FAMILY_OF[names[i]] == "chair" for i in found)
    assert set(index.candidates(chair, limit=25)) == {
        i for i, name in enumerate(names) if FAMILY_OF[name] == "chair"
    }
    replaced = names.index(CHAIR.name)
    index.remove(replaced)
    index.add(replaced, shared[PATTERN.name])  # the same id, now another sound
    assert len(index) == len(names)
    assert replaced not in index.candidates(chair, limit=25)
    assert replaced in index.candidates(shared[PATTERN.name], limit=25)
    with pytest.raises(TypeError):
        index.add(99, chair.codes)


def test_a_saved_index_answers_as_the_one_saved(shared, chair, tmp_path):
    index = AUDIO.new_index()
    names = [name for name, data in shared.items() if data is not None]
    for media_id, name in enumerate(names):
        index.add(media_id, shared[name])
        index.candidates(chair, limit=25)  # items come between searches, in segments
    index.remove(names.index(CHAIR.name))  # left out of the file
    save_arrays(tmp_path / "audio.index", index.to_arrays(), {})
    loaded = AUDIO.new_index()
    loaded.load_arrays(load_arrays(tmp_path / "audio.index")[0])
    assert loaded.media_ids() == index.media_ids() and len(loaded) == len(names) - 1
    for query in (chair, shared[PATTERN.name]):
        assert loaded.candidates(query, limit=25) == index.candidates(query, limit=25)
    loaded.add(99, chair)
    assert 99 in loaded.candidates(chair, limit=25)


def test_a_covered_or_screen_filmed_repost_matches_by_its_sound(chair, tmp_path):
    for repost in (
        covered_repost(CHAIR, tmp_path / "covered.mp4", end=8.0),
        screen_repost(CHAIR, tmp_path / "screen.mp4", end=8.0),
    ):
        evidence = compared(sound_of(repost), chair)
        assert evidence is not None and abs(evidence.offset) <= 0.3, repost.name


def test_the_same_sound_over_other_footage_still_matches_by_sound(chair, tmp_path):
    """The sound cannot tell the footage changed: deciding that is the picture's job."""
    clip = sound_over(PATTERN, CHAIR, tmp_path / "over.mp4", end=8.0)
    evidence = compared(sound_of(clip), chair)
    assert evidence is not None and abs(evidence.offset) <= 0.3


def test_no_sound_track_silence_or_a_steady_tone_says_nothing(tmp_path):
    assert sound_of(PADDED) is None  # a video without audio
    assert sound_of(tone(tmp_path / "silent.mp4", 12.0)) is None
    assert sound_of(tone(tmp_path / "hum.mp4", 12.0, hz=50.0, level=0.3)) is None


def test_quiet_stretches_do_not_match_each_other(chair, shared, tmp_path):
    """Two unrelated clips padded with the same long silence (or hum) share nothing."""
    rate = 48_000
    gap = np.zeros((2, 12 * rate), dtype=np.float32)
    hum = 0.2 * np.sin(2 * np.pi * 50 * np.arange(12 * rate) / rate).astype(np.float32)
    padded = {}
    for source, filler in ((CHAIR, gap), (PATTERN, np.stack([hum, hum]))):
        sound, native = read_sound(source, end=7.0)
        assert native == rate
        path = tmp_path / f"{source.stem}.m4a"
        padded[source] = sound_of(write_media(path, np.concatenate([filler, sound], 1), rate))
    assert compared(padded[CHAIR], padded[PATTERN]) is None
    assert compared(padded[PATTERN], padded[CHAIR]) is None
    evidence = compared(padded[CHAIR], chair)  # the sound itself still matches, 12 s in
    assert evidence is not None and abs(evidence.offset + 12.0) <= 0.3


def test_limits_bound_the_decoding(chair):
    shorter = sound_of(CHAIR, Limits(max_duration=8.0))
    assert shorter is not None and len(shorter.codes) < len(chair.codes) * 0.5
    assert sound_of(CHAIR, Limits(max_seconds=0.0)) is None  # deadline at once: too little


def test_bytes_and_path_give_the_same_codes(chair):
    from_bytes = sound_of(CHAIR.read_bytes())
    assert np.array_equal(from_bytes.codes, chair.codes)


def test_junk_and_damaged_media_never_crash(chair, tmp_path):
    rng = np.random.default_rng(7)
    assert sound_of(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()) is None
    assert sound_of(b"\x00" * 10) is None
    assert sound_of(tmp_path / "missing.mp4") is None
    data = CHAIR.read_bytes()
    damaged = bytearray(data)
    middle = len(data) // 2
    damaged[middle : middle + 20_000] = rng.integers(0, 256, 20_000, np.uint8).tobytes()
    # What decoded before the damage (and before a cut) still places itself in the original.
    for broken in (bytes(damaged), data[: len(data) * 6 // 10]):
        partial = sound_of(broken)
        assert partial is not None and len(partial.codes) < len(chair.codes)
        evidence = compared(partial, chair)
        assert evidence is not None and abs(evidence.offset) <= 0.3


def test_dumps_and_loads_round_trip_and_refuse_junk(chair):
    blob = AUDIO.dumps(chair)
    back = AUDIO.loads(blob)
    assert np.array_equal(back.codes, chair.codes) and back.start == chair.start
    assert abs(back.step - chair.step) < 1e-6
    assert len(blob) < 40 * 23  # ~32 bytes a second of sound
    copied = pickle.loads(pickle.dumps(chair))  # handed over from worker processes
    assert np.array_equal(copied.codes, chair.codes) and compared(copied, chair).score == 1.0
    for junk in (b"", b"OCAU", blob[:-1], blob + b"\0", b"XXXX" + blob[4:], bytes(len(blob))):
        with pytest.raises(ValueError):
            AUDIO.loads(junk)
    broken_step = bytearray(blob)
    broken_step[13:17] = np.float32(np.nan).tobytes()
    with pytest.raises(ValueError):
        AUDIO.loads(bytes(broken_step))
