"""Schema versions 6 to 11, the steps released before PostgreSQL support: clip sources,
clip ids, skipped feed items, date signals, the bot's outgoing messages and media signals.

Released: never edit these steps (tests/data/sqlite_schema_v11.json holds what they make).
Only SQLite runs them: PostgreSQL starts from the schema they leave at ``PG_BASELINE``
(storage.pgschema translates it).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine import Database


def _006_provenance(db: Database) -> None:
    """Clips learn where else they appeared and what fact-checks said, and can be benign.

    ``clip_sources`` keeps every publication or fact-check that showed the footage (from a
    page import, a shared bundle, a person); the clip's own ``first_seen``/``source`` stay the
    earliest of them, so every reader of a clip sees the earliest date without a join.
    ``posts.provenance`` carries what a fact-check or news page said about its media (JSON),
    for posts whose media go into the library instead of being checked against it.
    ``benign`` clips (channel intros, logos, test cards) are never reported and their frames
    are ignored in matching.  ``library_state.version`` is bumped by triggers whenever the
    set of clips changes, so a long-running process notices clips another process added.
    """
    db.execute("ALTER TABLE clips ADD COLUMN claim TEXT")
    db.execute("ALTER TABLE clips ADD COLUMN rating TEXT")
    db.execute("ALTER TABLE clips ADD COLUMN benign INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE posts ADD COLUMN provenance TEXT")
    db.execute(
        """
        CREATE TABLE clip_sources (
            id INTEGER PRIMARY KEY,
            clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'publication'
                CHECK (kind IN ('publication', 'factcheck')),
            title TEXT,
            via TEXT,
            added_at TEXT NOT NULL,
            UNIQUE (clip_id, url)
        )
        """
    )
    db.execute(
        "INSERT INTO clip_sources (clip_id, url, first_seen, kind, via, added_at) "
        "SELECT id, source, first_seen, 'publication', added_by, added_at FROM clips"
    )
    db.execute(
        "CREATE TABLE library_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "version INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO library_state (id, version) VALUES (1, 0)")
    for name, event in (("insert", "INSERT"), ("delete", "DELETE"), ("benign", "UPDATE OF benign")):
        db.execute(
            f"CREATE TRIGGER clips_changed_{name} AFTER {event} ON clips "
            "BEGIN UPDATE library_state SET version = version + 1 WHERE id = 1; END"
        )


def _007_clip_ids(db: Database) -> None:
    """Clip ids are never given again: an id written in a ticket must not come to mean another
    clip after a removal.  SQLite's rowids reuse the largest id once its row is deleted, so the
    highest id ever given is kept here and inserts take the next one (``storage.NEXT_CLIP_ID``).
    """
    db.execute("CREATE TABLE id_watermarks (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO id_watermarks (name, last_id) SELECT 'clips', COALESCE(max(id), 0) FROM clips"
    )
    db.execute(
        "CREATE TRIGGER clips_id_watermark AFTER INSERT ON clips BEGIN "
        "UPDATE id_watermarks SET last_id = max(last_id, NEW.id) WHERE name = 'clips'; END"
    )


def _008_skipped_items(db: Database) -> None:
    """Items a feed carried that could not be taken (a post whose link is ``javascript:``),
    each with its reason, once per feed and item, so ``feeds list`` can say what was skipped
    and a later poll seeing it again adds nothing."""
    db.execute(
        """
        CREATE TABLE skipped_items (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE CASCADE,
            item TEXT NOT NULL,
            reason TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            UNIQUE (feed_id, item)
        )
        """
    )


def _009_date_signals(db: Database) -> None:
    """Every dated source keeps the signal its date came from.

    ``clip_sources.date_from`` says why oldclip believes "first seen 2017-06-20": the page's
    JSON-LD, its meta tags, the byline's <time>, the page text, the date in its address, a
    ClaimReview, the feed entry or a person ("json-ld", "meta", "time", "text", "url",
    "claimreview", "feed", "given"); NULL for sources recorded before it was kept.
    ``posts.published_from`` does the same for a post's date (the feed field it came from).
    """
    db.execute("ALTER TABLE clip_sources ADD COLUMN date_from TEXT")
    db.execute("ALTER TABLE posts ADD COLUMN published_from TEXT")


def _010_outgoing(db: Database) -> None:
    """Every message the bot sends becomes a durable row (``outgoing``), sent at most once.

    Replaces ``deliveries`` (one alert to one chat, given up after a fixed number of tries):
    alerts, their evidence pictures, edits and the answers to the public all wait in
    ``outgoing``, one queue per chat in id order, retried until ``give_up_at``.  A row is
    claimed ('sending') before its HTTP call and settled after it (see storage.outgoing).
    Rows showing an alert have ``outbox_id`` (their text is drawn from the alert when sent, so
    a grown alert is shown whole) and ``shown_count`` (how many reposts the message showed).
    ``outgoing_files`` holds the pictures of a row until it is settled.  Times in ``outgoing``
    are ISO 8601 UTC to the millisecond (Telegram's retry_after may be shorter than a second).
    Pending and failed deliveries carry over as pending alert messages, sent ones as sent
    (so a later repost can still edit them).
    """
    db.execute(
        """
        CREATE TABLE outgoing (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            method TEXT NOT NULL CHECK (
                method IN ('sendMessage', 'sendPhoto', 'sendMediaGroup', 'editMessageText')
            ),
            params TEXT NOT NULL DEFAULT '{}',
            outbox_id INTEGER REFERENCES outbox(id) ON DELETE CASCADE,
            target INTEGER REFERENCES outgoing(id) ON DELETE SET NULL,
            reply_to INTEGER,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            give_up_at TEXT NOT NULL,
            message_id INTEGER,
            shown_count INTEGER,
            error TEXT,
            created_at TEXT NOT NULL,
            claimed_at TEXT,
            sent_at TEXT
        )
        """
    )
    db.execute(
        "CREATE INDEX outgoing_queue ON outgoing(chat_id, id) WHERE state IN ('pending', 'sending')"
    )
    db.execute("CREATE INDEX outgoing_outbox ON outgoing(outbox_id, chat_id)")
    db.execute("CREATE INDEX outgoing_target ON outgoing(target)")
    # One alert message per alert and chat: planning again after a crash adds nothing.
    db.execute(
        "CREATE UNIQUE INDEX outgoing_alert_chat ON outgoing(outbox_id, chat_id) "
        "WHERE outbox_id IS NOT NULL AND target IS NULL"
    )
    db.execute(
        """
        CREATE TABLE outgoing_files (
            outgoing_id INTEGER NOT NULL REFERENCES outgoing(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (outgoing_id, position)
        )
        """
    )
    fmt = "%Y-%m-%dT%H:%M:%f+00:00"
    db.execute(
        "INSERT INTO outgoing (chat_id, method, outbox_id, state, message_id, shown_count, "
        "give_up_at, created_at, sent_at) "
        "SELECT d.chat_id, 'sendMessage', d.outbox_id, "
        "CASE d.state WHEN 'sent' THEN 'sent' ELSE 'pending' END, d.message_id, "
        "CASE d.state WHEN 'sent' THEN o.count END, "
        f"strftime('{fmt}', 'now', '+2 days'), strftime('{fmt}', d.created_at), "
        f"strftime('{fmt}', d.sent_at) "
        "FROM deliveries d JOIN outbox o ON o.id = d.outbox_id ORDER BY d.id"
    )
    db.execute("DROP TABLE deliveries")


def _011_media_signals(db: Database) -> None:
    """The data of every signal but PDQ (local features, sound...), one row per media item and
    signal (see ``fingerprint.signal``).

    PDQ stays in ``fingerprints``, as it always was.  ``version`` is the signal's version when
    the data was extracted: data of another version is ignored when read, and
    ``oldclip refingerprint`` extracts it again from the kept copy of the file.  Libraries made
    before this have no rows here; ``refingerprint`` fills them in.
    ``reposts.agreement`` says which kinds of evidence agreed on a repost ("picture",
    "picture_and_sound"; NULL for reposts found before, by the picture alone).
    """
    db.execute(
        """
        CREATE TABLE media_signals (
            media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            signal TEXT NOT NULL,
            version INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (media_id, signal)
        )
        """
    )
    db.execute("CREATE INDEX media_signals_signal ON media_signals(signal, media_id)")
    db.execute("ALTER TABLE reposts ADD COLUMN agreement TEXT")


# Schema versions 6 to 11, in order.
STEPS: tuple[Callable[[Database], None], ...] = (
    _006_provenance,
    _007_clip_ids,
    _008_skipped_items,
    _009_date_signals,
    _010_outgoing,
    _011_media_signals,
)
