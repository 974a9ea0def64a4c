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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Where each export lives.  They load on first use (PEP 562): a command that only reads the
# library, or a config file naming Limits, does not pay for FFmpeg, PDQ and faiss.
_EXPORTS = {
    "INDEXED_VARIANTS": "types",
    "QUERY_VARIANTS": "types",
    "Fingerprint": "types",
    "Match": "types",
    "MediaError": "errors",
    "Limits": "settings",
    "MatchSettings": "settings",
    "find_matches": "match",
    "verify": "match",
    "HashIndex": "index",
    "Hits": "index",
    "fingerprint_bytes": "hashing",
    "fingerprint_file": "hashing",
    "sha256_file": "hashing",
}

if TYPE_CHECKING:
    from .errors import MediaError
    from .hashing import fingerprint_bytes, fingerprint_file, sha256_file
    from .index import HashIndex, Hits
    from .match import find_matches, verify
    from .settings import Limits, MatchSettings
    from .types import INDEXED_VARIANTS, QUERY_VARIANTS, Fingerprint, Match


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
