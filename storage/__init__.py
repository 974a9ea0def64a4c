"""oldclip's library database: media, their fingerprints, clips and sightings, in SQLite (a
file, the default) or PostgreSQL (``open_db("postgresql://...")``; see storage.engine).

Usage::

    import numpy as np
    from fingerprint.types import Fingerprint
    from storage import add_clip, add_media, open_db
    db = open_db("/tmp/oldclip-demo/library.db")
    fp = Fingerprint("photo", "ab" * 32, 1, 0.0, 1, 1, np.zeros((1, 32)), [0.0], [0])
    media_id, _ = add_media(db, fp)
    add_clip(db, media_id, title="Demo", first_seen="2014-07-17", source="archive.org")

Watched feeds (storage.feeds), the durable post pipeline (storage.pipeline), the reposts it
finds (storage.reposts) and their alerts (storage.outbox) live here too, and so does the
Telegram bot's durable state: users and subscriptions (storage.botusers), per-chat deliveries
(storage.deliveries), feedback (storage.feedback), open questions (storage.questions), what
its processes share (storage.botshared) and every message it sends (storage.outgoing, used as
``storage.outgoing.queue(...)``).  See those modules for the states and their guarantees.
Hash bundles (storage.bundle) share clips between newsrooms as fingerprints and provenance,
without the media.

storage/ depends only on fingerprint.types and fingerprint.signal (the registry that reads and
writes each signal's stored data, importing a plug-in only when its data is met), so every
part of oldclip can use it.
"""

from __future__ import annotations

import lazy_loader

# Each export loads on first use (PEP 562, through lazy_loader): `oldclip list` reads clips
# without loading bundles, the bot's tables or the fingerprinting engine.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["outgoing"],
    submod_attrs={
        "botusers": [
            "BotUser",
            "Subscription",
            "all_subscriptions",
            "get_user",
            "is_muted",
            "set_language",
            "set_trusted",
            "subscribe",
            "subscriptions_of",
            "touch_user",
            "trusted_users",
            "unsubscribe",
        ],
        "deliveries": ["Delivery", "deliveries_of", "due_deliveries", "plan_deliveries"],
        "feedback": [
            "VERDICTS",
            "feedback_counts",
            "is_not_a_match",
            "library_stats",
            "record_feedback",
        ],
        "questions": [
            "Question",
            "mark_question_answered",
            "open_questions",
            "open_questions_for_media",
            "record_question",
        ],
        "bundle.export": ["ExportReport", "export_bundle"],
        "bundle.importer": ["ImportReport", "import_bundle"],
        "bundle.spec": ["BundleError"],
        "db": ["open_db"],
        "errors": ["DatabaseLost", "DatabaseUnavailable", "StorageError", "WriteLockTimeout"],
        "feeds": [
            "Feed",
            "add_feed",
            "get_feed",
            "list_feeds",
            "record_poll_failure",
            "record_poll_success",
            "record_skipped_item",
            "remove_feed",
            "set_feed_url",
        ],
        "library": [
            "add_clip",
            "add_clip_source",
            "benign_media_ids",
            "clip_for_media",
            "clip_sources",
            "count_clips",
            "count_clips_added",
            "last_clip_id",
            "get_clip",
            "library_version",
            "list_clips",
            "remove_clip",
            "set_benign",
        ],
        "media": [
            "add_media",
            "evidence_media_ids",
            "get_media",
            "iter_index_rows",
            "load_fingerprint",
            "media_by_sha256",
            "set_media_path",
        ],
        "sightings": ["add_sighting", "earliest_sighting", "sightings_for_media"],
        "changes": [
            "Change",
            "changes_after",
            "mark_library_changed",
            "media_states",
            "prune_library_changes",
        ],
        "versions": ["CURRENT_VERSION"],
        "replicas": [
            "ReplicaRow",
            "forget_replica",
            "list_replicas",
            "prune_replicas",
            "record_replica",
        ],
        "schema": ["migrate"],
        "signals": [
            "iter_signal_rows",
            "load_signals",
            "media_missing_signals",
            "signal_media_ids",
            "signals_of",
            "store_signals",
            "stored_signal_names",
        ],
        "models": ["Clip", "ClipSource", "Media", "Sighting"],
        "pipeline": [
            "ACTIVE_STATES",
            "STATES",
            "PostMedia",
            "advance",
            "archive",
            "due_media",
            "fail",
            "get_post_media",
            "media_of_post",
            "record_post",
        ],
        "reposts": ["Repost", "count_reposts_of_clip", "list_reposts", "record_repost_and_alert"],
        "outbox": [
            "ALERT_KINDS",
            "OutboxItem",
            "add_alert",
            "get_alert",
            "pending_alerts",
        ],
        "urls": [
            "UnsafeURLError",
            "is_web_url",
            "optional_web_url",
            "reference",
            "safe_or_none",
            "shown",
            "web_url",
        ],
    },
)
