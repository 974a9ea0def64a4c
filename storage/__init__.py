"""oldclip's library database: media, their fingerprints, clips and sightings, in SQLite.

Usage::

    import numpy as np
    from fingerprint.types import Fingerprint
    from storage import add_clip, add_media, open_db
    db = open_db("/tmp/oldclip-demo/library.db")
    fp = Fingerprint("photo", "ab" * 32, 1, 0.0, 1, 1, np.zeros((1, 32)), [0.0], [0])
    media_id, _ = add_media(db, fp)
    add_clip(db, media_id, title="Demo", first_seen="2014-07-17", source="archive.org")

storage/ depends only on fingerprint.types, so every part of oldclip can use it.
"""

from .db import open_db
from .errors import StorageError
from .library import (
    add_clip,
    add_media,
    add_sighting,
    clip_for_media,
    count_clips,
    get_clip,
    get_media,
    iter_index_rows,
    list_clips,
    load_fingerprint,
    media_by_sha256,
    remove_clip,
    sightings_for_media,
)
from .migrations import CURRENT_VERSION, migrate
from .models import Clip, Media, Sighting

__all__ = [
    "CURRENT_VERSION",
    "Clip",
    "Media",
    "Sighting",
    "StorageError",
    "add_clip",
    "add_media",
    "add_sighting",
    "clip_for_media",
    "count_clips",
    "get_clip",
    "get_media",
    "iter_index_rows",
    "list_clips",
    "load_fingerprint",
    "media_by_sha256",
    "migrate",
    "open_db",
    "remove_clip",
    "sightings_for_media",
]
