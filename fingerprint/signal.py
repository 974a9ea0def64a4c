"""The one interface every signal (PDQ frames, local features, sound...) plugs in through.

Shaped after python-threatexchange's signal types: a signal knows how to extract its data from
decoded media, store it (bytes), index it (candidates for a query) and compare a query with one
stored item (``Evidence``).  ``fingerprint.match`` combines the evidence of all signals without
knowing their insides, so a new signal is one module plus one line in ``PLUGINS``.

Extraction is streamed: one decode of the file feeds every picture signal's ``Extractor`` sample
by sample (anchors carry a larger ``detail`` picture), so adding a signal never decodes the
video twice.  A sound signal reads the audio itself in ``finish`` (``source`` is the file).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .decode import Header, Sample
    from .settings import Limits, MatchSettings

# name -> "module:attribute" of the plug-in object; imported only when a signal is used.
# Every registered signal is extracted for every fingerprint, stored, indexed and compared.
PLUGINS: dict[str, str] = {
    "pdq": ".pdq:PDQ_SIGNAL",  # its data are a Fingerprint's own columns (fingerprint.types)
    "orb": ".local:LOCAL",  # ORB keypoints of anchor pictures, verified geometrically
    "audio": ".audio:AUDIO",  # Chromaprint codes of the sound track
}


@dataclass(frozen=True)
class Evidence:
    """What one signal says about one (query, stored item) pair, in seconds of each."""

    signal: str
    score: float  # 0..1: this signal's confidence that the two show the same footage (or sound)
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    offset: float  # reference time - query time where they agree (at the fitted speed)
    units: int  # frames, or blocks of sound, that agree
    mirrored: bool = False
    best_pair: tuple[float, float] = (0.0, 0.0)  # (query, reference) seconds of the best pair


class Extractor(Protocol):
    """Collects one media item's data for one signal while it is decoded."""

    def add(self, sample: Sample) -> None:
        """Every decoded sample, in time order; anchor samples carry ``sample.detail``."""

    def finish(self) -> object | None:
        """The signal's data for the item, or None when it has nothing to say (no sound...)."""


class SignalIndex(Protocol):
    """Finds the stored items worth comparing with a query, for one signal."""

    def add(self, media_id: int, data: object) -> None: ...

    def remove(self, media_id: int) -> None: ...

    def __len__(self) -> int: ...

    def candidates(self, query: object, limit: int) -> list[int]:
        """Media ids most likely to match ``query``, best first, at most ``limit``."""

    # Saving beside the library (``fingerprint.index_file``): an index is arrays, so that a
    # command maps the file instead of rebuilding the index from every stored item.
    format: str  # changes whenever a saved index would be read or built otherwise: a file
    # of another format (layout, parameters such as probes or cells) is rebuilt, never used

    def media_ids(self) -> list[int]:
        """The media ids held (what a saved index says it holds)."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything the index holds, as arrays of numbers."""

    def load_arrays(self, arrays: dict[str, np.ndarray], checked: bool = False) -> None:
        """Become the index ``to_arrays`` gave (an empty index only; arrays may be memory
        maps, used in place).  ValueError when they do not make a consistent index.
        ``checked``: their file passed these checks before (``index_file.Opened``): the ones
        that read every entry may be skipped."""


@runtime_checkable
class VotingIndex(SignalIndex, Protocol):
    """A picture signal's index that can look up one side of a query at a time (the upright
    pictures, or the mirrored ones) and rank both as one lookup would (``ranked``).

    ``fingerprint.match.find_matches`` looks the mirrored side up only for the pictures the
    upright side leaves unexplained: an index without ``votes`` looks up both in
    ``candidates``.
    """

    def votes(self, query: object) -> dict[int, float]:
        """Media id -> the score ``candidates`` ranks it by, for this side of the query."""


def ranked(votes: list[dict[int, float]], limit: int) -> list[int]:
    """The ``limit`` media ids with the most votes in any of ``votes``, best first (ties to
    the lowest id), as a ``VotingIndex`` ranks its candidates."""
    best: dict[int, float] = {}
    for side in votes:
        for media_id, score in side.items():
            best[media_id] = max(score, best.get(media_id, 0.0))
    return sorted(best, key=lambda m: (-best[m], m))[: max(0, limit)]


@runtime_checkable
class Signal(Protocol):
    name: str  # stored with the data: never reuse a name for other data
    version: int  # bumped when extraction changes meaning: data of another version is ignored
    picture: bool  # True: evidence about the picture; False: about the sound

    def extractor(
        self, source: Path | bytes, name: str, header: Header, limits: Limits
    ) -> Extractor: ...

    def dumps(self, data: object) -> bytes: ...

    def loads(self, blob: bytes) -> object:
        """Raises ValueError when ``blob`` is not this signal's data (damaged, truncated)."""

    def new_index(self) -> SignalIndex: ...

    def compare(
        self, query: object, reference: object, settings: MatchSettings
    ) -> Evidence | None: ...


@cache
def get(name: str) -> Signal:
    """The plug-in registered under ``name`` (KeyError for an unknown one)."""
    module, _, attribute = PLUGINS[name].partition(":")
    return getattr(importlib.import_module(module, __package__), attribute)


def agreement(signals: Iterable[str], sound_only: bool) -> str:
    """Which kinds of evidence agreed on a match (``Match.signals``, ``Match.sound_only``):
    "picture", "picture_and_sound" or "sound_only" (the picture differs), for answers."""
    if sound_only:
        return "sound_only"
    sound = any(not get(name).picture for name in signals if name in PLUGINS)
    return "picture_and_sound" if sound else "picture"
