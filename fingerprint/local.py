"""The "orb" signal: local features (ORB keypoints) for edits a global hash cannot survive.

Off-centre crops, blurred-fill verticals, 9:16 cuts, phone screenshots and screen recordings
keep only part of the picture, or put it small inside another.  PDQ, which hashes the whole
picture, loses them; keypoints shared by the two pictures and agreeing on one geometric
transform do not.  Extraction is in ``local_features``, candidates in ``local_index``,
verification in ``local_verify``; this module is the plug-in that ties them to
``fingerprint.signal``.

Mirrors: ORB descriptors of a mirrored picture are not mirrored descriptors, so the extractor
also extracts every kept picture mirrored (``LocalFeatures.mirrored``, ~2x the ORB time).  Only
a fresh extraction carries them: ``dumps`` and the index keep the upright pictures, so stored
items stay the same size, and a query, which is always fresh, is compared and looked up both
ways (``Evidence.mirrored``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from . import local_features, local_verify
from .local_features import LocalExtractor, LocalFeatures
from .local_index import LocalIndex
from .signal import Evidence

if TYPE_CHECKING:
    from .decode import Header
    from .settings import Limits, MatchSettings

# OpenCV's own thread pool would compete with the decoding thread and the other workers for
# the same cores, for keypoint work too small to split usefully.
cv2.setNumThreads(1)


class LocalSignal:
    """ORB keypoints of anchor pictures, verified geometrically (see fingerprint.signal)."""

    name = local_verify.NAME
    version = 1
    picture = True

    def extractor(
        self, source: Path | bytes, name: str, header: Header, limits: Limits
    ) -> LocalExtractor:
        return LocalExtractor(photo=header.kind == "photo")

    def dumps(self, data: object) -> bytes:
        return local_features.dumps(_features(data))

    def loads(self, blob: bytes) -> LocalFeatures:
        return local_features.loads(blob)

    def new_index(self) -> LocalIndex:
        return LocalIndex()

    def compare(self, query: object, reference: object, settings: MatchSettings) -> Evidence | None:
        return local_verify.compare(_features(query), _features(reference))


def _features(data: object) -> LocalFeatures:
    if not isinstance(data, LocalFeatures):
        raise TypeError(f"not the orb signal's data: {type(data).__name__}")
    return data


LOCAL = LocalSignal()
