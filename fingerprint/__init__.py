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

import lazy_loader

# Each export loads on first use (PEP 562, through lazy_loader): a command that only reads the
# library, or a config file naming Limits, does not pay for FFmpeg, PDQ and faiss.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=[],
    submod_attrs={
        "types": ["INDEXED_VARIANTS", "QUERY_VARIANTS", "Fingerprint", "Match"],
        "errors": ["MediaError"],
        "settings": ["Limits", "MatchSettings"],
        "match": ["find_matches", "verify"],
        "index": ["HashIndex", "Hits"],
        "hashing": ["extract_signals", "fingerprint_bytes", "fingerprint_file", "sha256_file"],
    },
)
