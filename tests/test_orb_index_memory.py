"""The orb index built from many items (as from the database after an upgrade) in bounded
memory: assigned to its cells a batch at a time and each cell filled once, it must hold exactly
what faiss's own ``add`` of all the descriptors at once would, so a `check` finds the same."""

from __future__ import annotations

import faiss
import numpy as np
from media import CHAIR, DOORKNOB, PATTERN, require_media

from fingerprint import local_build, local_index
from fingerprint.decode import decode
from fingerprint.local import LOCAL
from fingerprint.settings import Limits


def stored(path):
    """What the library stores for ``path``: extracted, then through dumps/loads."""
    require_media()
    header, samples = decode(path, path.name, Limits())
    extractor = LOCAL.extractor(path, path.name, header, Limits())
    for sample in samples:
        extractor.add(sample)
    return LOCAL.loads(LOCAL.dumps(extractor.finish()))


def test_an_index_built_in_batches_holds_what_one_faiss_add_would(monkeypatch):
    monkeypatch.setattr(local_index, "FLAT_LIMIT", 1000)  # three short clips: an inverted file
    monkeypatch.setattr(local_build, "ADD_BATCH", 777)  # many batches, the last one not full
    items = {media_id: stored(path) for media_id, path in enumerate([CHAIR, DOORKNOB, PATTERN])}
    index = LOCAL.new_index()
    for media_id, data in items.items():
        index.add(media_id, data)
    saved = index.to_arrays()
    assert isinstance(index._built(), faiss.IndexBinaryIVF)
    whole = local_index._searching(local_index._trained_like(index._ivf).index)
    whole.add(np.concatenate([data.descriptors for data in items.values()]))
    assert saved["faiss"].tobytes() == faiss.serialize_index_binary(whole).tobytes()
    assert index.candidates(items[1], limit=3)[0] == 1
