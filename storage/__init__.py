"""oldclip's library database: media, their fingerprints, clips and sightings, in SQLite.

Usage::

    import numpy as np
    from fingerprint.types import Fingerprint
    from storage import add_clip, add_media, open_db
    db = open_db("/tmp/oldclip-demo/library.db")
    fp = Fingerprint("photo", "ab" * 32, 1, 0.0, 1, 1, np.zeros((1, 32)), [0.0], [0])
    media_id, _ = add_media(db, fp)
    add_clip(db, media_id, title="Demo", first_seen="2014-07-17", source="archive.org")

Watched feeds (storage.feeds) and the durable post pipeline with its alert outbox
(storage.pipeline) live here too; see those modules for the states and their guarantees.

storage/ depends only on fingerprint.types, so every part of oldclip can use it.
"""

from .db import open_db
from .errors import StorageError
from .feeds import (
    Feed,
    add_feed,
    get_feed,
    list_feeds,
    record_poll_failure,
    record_poll_success,
    remove_feed,
    set_feed_url,
)
from .library import (
    add_clip,
    add_media,
    add_sighting,
    clip_for_media,
    count_clips,
    earliest_sighting,
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
from .pipeline import (
    ACTIVE_STATES,
    ALERT_KINDS,
    STATES,
    OutboxItem,
    PostMedia,
    Repost,
    add_alert,
    advance,
    archive,
    due_media,
    fail,
    get_alert,
    get_post_media,
    list_reposts,
    mark_delivered,
    media_of_post,
    pending_alerts,
    postpone,
    record_post,
    record_repost_and_alert,
)

__all__ = [
    "ACTIVE_STATES",
    "ALERT_KINDS",
    "CURRENT_VERSION",
    "Clip",
    "Feed",
    "Media",
    "OutboxItem",
    "PostMedia",
    "Repost",
    "STATES",
    "Sighting",
    "StorageError",
    "add_alert",
    "add_clip",
    "add_feed",
    "add_media",
    "add_sighting",
    "advance",
    "archive",
    "clip_for_media",
    "count_clips",
    "due_media",
    "earliest_sighting",
    "fail",
    "get_alert",
    "get_clip",
    "get_feed",
    "get_media",
    "get_post_media",
    "iter_index_rows",
    "list_clips",
    "list_feeds",
    "list_reposts",
    "load_fingerprint",
    "mark_delivered",
    "media_by_sha256",
    "media_of_post",
    "migrate",
    "open_db",
    "pending_alerts",
    "postpone",
    "record_poll_failure",
    "record_poll_success",
    "record_post",
    "record_repost_and_alert",
    "remove_clip",
    "remove_feed",
    "set_feed_url",
    "sightings_for_media",
]
