"""Perceptual fingerprints of photos and videos, and the search that finds reposts.

Usable on its own (it imports nothing else of oldclip)::

    import numpy as np
    from fingerprint import HashIndex, fingerprint_file, find_matches, INDEXED_VARIANTS
    original = fingerprint_file("chair.mp4")
    index = HashIndex()
    index.add(1, original.hashes[np.isin(original.variants, INDEXED_VARIANTS)])
    matches = find_matches(fingerprint_file("repost.mp4"), index, {1: original}.get)
    # -> [Match(media_id=1, score=0.98, query_start=0.0, query_end=20.4, ref_start=2.0, ...)]
"""

from .decode import Limits
from .hashing import fingerprint_bytes, fingerprint_file, sha256_file
from .index import HashIndex, Hits
from .match import MatchSettings, find_matches, verify
from .types import (
    INDEXED_VARIANTS,
    QUERY_VARIANTS,
    Fingerprint,
    Match,
    MediaError,
)

__all__ = [
    "INDEXED_VARIANTS",
    "QUERY_VARIANTS",
    "Fingerprint",
    "HashIndex",
    "Hits",
    "Limits",
    "Match",
    "MatchSettings",
    "MediaError",
    "find_matches",
    "fingerprint_bytes",
    "fingerprint_file",
    "sha256_file",
    "verify",
]
