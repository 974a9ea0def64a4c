"""Versioned schema changes, the steps: one description of the schema for SQLite and PostgreSQL.

Each migration is a function that takes the database from version N-1 to N; storage.schema
runs them in order, each in its own write transaction together with the version bump.  Never
edit a released migration: append a new one to ``MIGRATIONS``.

SQLite runs every step, as it always has.  PostgreSQL starts from the schema these steps leave
at ``PG_BASELINE`` (storage.pgschema translates it), so the SQLite steps stay the one
description of the schema; the steps after the baseline run on both, written in SQL both
engines accept (``db.dialect`` where they cannot).
"""

from __future__ import annotations

from collections.abc import Callable

from .engine import Database
from .versions import CURRENT_VERSION, PG_BASELINE

__all__ = ["CURRENT_VERSION", "MIGRATIONS", "PG_BASELINE", "Migration"]

Migration = Callable[[Database], None]


def _001_initial(db: Database) -> None:
    """Media, their fingerprints, and the clips fact-checkers attach to them."""
    db.execute(
        """
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            duration REAL,
            width INTEGER,
            height INTEGER,
            size INTEGER,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE clips (
            id INTEGER PRIMARY KEY,
            media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            description TEXT,
            first_seen TEXT NOT NULL,
            source TEXT NOT NULL,
            verdict_url TEXT,
            language TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            added_by TEXT,
            added_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE fingerprints (
            media_id INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
            algorithm TEXT NOT NULL,
            frame_count INTEGER NOT NULL,
            hashes BLOB NOT NULL,
            times BLOB NOT NULL,
            variants BLOB NOT NULL
        )
        """
    )


def _002_sightings(db: Database) -> None:
    """Index clips by media (every match looks its clip up that way) and record reposts."""
    db.execute("CREATE INDEX clips_media_id ON clips(media_id)")
    db.execute(
        """
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            media_id INTEGER NOT NULL REFERENCES media(id),
            url TEXT NOT NULL,
            source TEXT NOT NULL,
            post_url TEXT,
            seen_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX sightings_media_id ON sightings(media_id)")


def _003_watch(db: Database) -> None:
    """Watched feeds, the posts they produced, each post's media with its pipeline state,
    detected reposts, and the outbox of alerts the bot delivers.

    References to media and clips are ON DELETE SET NULL so that removing a wrongly added
    clip (which deletes its media) still works after reposts of it were recorded.
    """
    db.execute(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            url TEXT NOT NULL,
            label TEXT,
            language TEXT,
            interval_s INTEGER NOT NULL,
            include TEXT NOT NULL DEFAULT '[]',
            exclude TEXT NOT NULL DEFAULT '[]',
            source TEXT NOT NULL DEFAULT 'cli' CHECK (source IN ('cli', 'config')),
            created_at TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            cursor TEXT,
            last_polled_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            down_alerted INTEGER NOT NULL DEFAULT 0,
            UNIQUE (kind, url)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            post_url TEXT NOT NULL,
            author TEXT,
            published TEXT,
            text TEXT,
            forwarded_from TEXT,
            first_seen_at TEXT NOT NULL,
            UNIQUE (source, post_url)
        )
        """
    )
    db.execute("CREATE INDEX posts_feed_id ON posts(feed_id)")
    db.execute(
        """
        CREATE TABLE post_media (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            kind TEXT,
            mime TEXT,
            too_big INTEGER NOT NULL DEFAULT 0,
            thumbnail_url TEXT,
            state TEXT NOT NULL DEFAULT 'new' CHECK (
                state IN ('new', 'fetched', 'fingerprinted', 'matched', 'notified', 'failed')
            ),
            file_path TEXT,
            media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (post_id, url)
        )
        """
    )
    db.execute("CREATE INDEX post_media_due ON post_media(state, next_attempt_at)")
    db.execute("CREATE INDEX post_media_media_id ON post_media(media_id)")
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('repost', 'feed_down', 'feed_up')),
            group_key TEXT,
            payload TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            delivered_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX outbox_pending ON outbox(delivered_at, next_attempt_at)")
    db.execute("CREATE INDEX outbox_group_key ON outbox(group_key)")
    db.execute(
        """
        CREATE TABLE reposts (
            id INTEGER PRIMARY KEY,
            post_media_id INTEGER NOT NULL UNIQUE REFERENCES post_media(id) ON DELETE CASCADE,
            media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
            matched_media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
            clip_id INTEGER REFERENCES clips(id) ON DELETE SET NULL,
            score REAL,
            query_start REAL,
            query_end REAL,
            ref_start REAL,
            ref_end REAL,
            frames_matched INTEGER,
            first_seen TEXT,
            first_source TEXT,
            outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    for column in ("media_id", "matched_media_id", "clip_id", "outbox_id"):
        db.execute(f"CREATE INDEX reposts_{column} ON reposts({column})")


def _004_bot(db: Database) -> None:
    """What the Telegram bot must not forget across restarts: its users, their subscriptions
    and mutes, one delivery row per alert per chat, feedback on alerts, clips marked "not a
    match" for a post, and the questions to answer once the asked-about media is identified.
    Media also get ``path``, where a copy of the file is kept (for evidence pictures).

    As in _003_watch, references to media and clips never block ``remove_clip``: the history
    (feedback, questions) keeps its row with the reference set to NULL, and what only means
    something while the media exists (mutes, "not a match" marks) goes with it.  User and chat
    ids are Telegram's and reference nothing: an admin may trust a user the bot never met.
    """
    db.execute("ALTER TABLE media ADD COLUMN path TEXT")
    db.execute(
        """
        CREATE TABLE bot_users (
            user_id INTEGER PRIMARY KEY,
            language TEXT,
            first_seen_at TEXT,
            last_seen_at TEXT,
            trusted INTEGER NOT NULL DEFAULT 0,
            muted_until TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            feeds TEXT NOT NULL DEFAULT '[]',
            labels TEXT NOT NULL DEFAULT '[]',
            min_score REAL NOT NULL DEFAULT 0,
            language TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (user_id, chat_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE muted_clips (
            user_id INTEGER NOT NULL,
            matched_media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, matched_media_id)
        )
        """
    )
    db.execute("CREATE INDEX muted_clips_matched_media_id ON muted_clips(matched_media_id)")
    db.execute(
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            chat_id INTEGER NOT NULL,
            message_id INTEGER,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (outbox_id, chat_id)
        )
        """
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at)")
    db.execute(
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
            post_url TEXT NOT NULL,
            matched_media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
            user_id INTEGER NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'not_a_match', 'muted')),
            created_at TEXT NOT NULL,
            UNIQUE (outbox_id, user_id, verdict)
        )
        """
    )
    db.execute("CREATE INDEX feedback_matched_media_id ON feedback(matched_media_id)")
    db.execute(
        """
        CREATE TABLE not_a_match (
            post_url TEXT NOT NULL,
            matched_media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            user_id INTEGER,
            created_at TEXT NOT NULL,
            PRIMARY KEY (post_url, matched_media_id)
        )
        """
    )
    db.execute("CREATE INDEX not_a_match_matched_media_id ON not_a_match(matched_media_id)")
    db.execute(
        """
        CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            message_id INTEGER,
            media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
            asked_at TEXT NOT NULL,
            answered_clip_id INTEGER REFERENCES clips(id) ON DELETE SET NULL,
            notified_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX questions_media_id ON questions(media_id)")
    db.execute("CREATE INDEX questions_answered_clip_id ON questions(answered_clip_id)")
    # One open question per person and media: asking again about the same file while the
    # first is unanswered must not make the answer arrive twice.
    db.execute(
        "CREATE UNIQUE INDEX questions_open ON questions(user_id, media_id) "
        "WHERE notified_at IS NULL"
    )


def _005_question_language(db: Database) -> None:
    """Questions remember the language the asker was answered in, so that the later "it has
    been identified" message is in that language too, even if they never chose one."""
    db.execute("ALTER TABLE questions ADD COLUMN language TEXT")


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


def _012_shared_bot_state(db: Database) -> None:
    """What several bot processes behind one webhook must share, so any of them can take the
    next update: the /add dialogues in progress (``step`` counts the answers taken, a
    compare-and-set between processes), the per-person request buckets (``updated_at`` in
    seconds since the epoch: hosts share the wall clock, not a monotonic one), secrets made
    once for all of them (the webhook's), and the update ids already taken (Telegram sends an
    update again when it got no answer in time, perhaps to another host).
    """
    db.execute(
        """
        CREATE TABLE bot_dialogues (
            chat_id BIGINT NOT NULL,
            user_id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            step INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, user_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE bot_rate_limits (
            user_id BIGINT PRIMARY KEY,
            tokens DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE bot_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE bot_updates (
            update_id BIGINT PRIMARY KEY,
            received_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX bot_updates_received_at ON bot_updates(received_at)")


def _013_send_pauses(db: Database) -> None:
    """A 429's "retry after", shared by every process sending with one bot (storage.sendpause)."""
    db.execute(
        """
        CREATE TABLE bot_send_pauses (
            bot_id BIGINT PRIMARY KEY,
            not_before TEXT NOT NULL
        )
        """
    )


# When a change was logged, ISO 8601 UTC to the second like every *_at column, in each dialect.
_NOW = {
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')",
    "postgresql": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
}
_LOGGED = (  # trigger name, event, table, media id, kind: what moves a replica's indexes
    ("clips_changed_insert", "INSERT", "clips", "NEW.media_id", "'added'"),
    ("clips_changed_delete", "DELETE", "clips", "OLD.media_id", "'removed'"),
    (
        "clips_changed_benign",
        "UPDATE OF benign",
        "clips",
        "NEW.media_id",
        "CASE WHEN NEW.benign = 1 THEN 'benign' ELSE 'not_benign' END",
    ),
    ("sightings_changed_insert", "INSERT", "sightings", "NEW.media_id", "'sighted'"),
)


def _014_library_changes(db: Database) -> None:
    """Every change of what a match can find is logged, so index replicas apply only the new
    ones instead of re-reading the library (``oldclip.replica``).

    ``library_changes`` is append-only: one row per clip added, removed or marked (not) benign,
    media sighted, or media given a signal's data (``storage.mark_library_changed``).  Its id
    *is* the ``library_state.version`` the change moved to, taken under that row's lock: ids
    are gapless and, on PostgreSQL too, given in commit order, so a reader that saw id n has
    seen every id below it.  Old rows are pruned (``storage.prune_library_changes``); a replica
    whose last id is older than the oldest kept row re-reads the library.  Sightings now move
    the version too: another worker's sighted media are searchable without a restart.
    """
    integer = "INTEGER" if db.dialect == "sqlite" else "BIGINT"
    db.execute(
        f"""
        CREATE TABLE library_changes (
            id {integer} PRIMARY KEY,
            media_id {integer} NOT NULL,
            kind TEXT NOT NULL CHECK (
                kind IN ('added', 'removed', 'benign', 'not_benign', 'sighted', 'signals')
            ),
            at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX library_changes_at ON library_changes(at)")
    from .pgschema import translate

    for name, event, table, media_id, kind in _LOGGED:
        sql = (
            f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
            "UPDATE library_state SET version = version + 1 WHERE id = 1; "
            "INSERT INTO library_changes (id, media_id, kind, at) "
            f"SELECT version, {media_id}, {kind}, {_NOW[db.dialect]} "
            "FROM library_state WHERE id = 1; END"
        )
        if db.dialect == "sqlite":
            db.execute(f"DROP TRIGGER IF EXISTS {name}")
            db.execute(sql)
        else:
            db.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            db.execute(f"DROP FUNCTION IF EXISTS {name}_fn()")
            for statement in translate("trigger", sql):
                db.execute(statement)


def _015_replicas(db: Database) -> None:
    """Each process holding an index replica (``oldclip worker``, ``run``, ``bot``) says here
    how it follows the library, so ``oldclip status`` can tell, from any host, whether every
    one is in step (``storage.replicas``).

    One row per process (host and pid), written at every catch-up and at least every 15 s:
    the library version its indexes applied, how far behind it was, its ``refresh_s`` (its
    own bound is twice that), when it last caught up and when it last reported (ISO 8601 UTC
    to the millisecond, from the host's clock).  A process that stops cleanly deletes its
    row; rows not heard from for long are pruned by the others.
    """
    sql = """
        CREATE TABLE replicas (
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            role TEXT NOT NULL,
            started_at TEXT NOT NULL,
            refresh_s REAL NOT NULL,
            version INTEGER,
            behind_s REAL NOT NULL,
            applied INTEGER NOT NULL DEFAULT 0,
            full_reads INTEGER NOT NULL DEFAULT 0,
            caught_up_at TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (host, pid)
        )
        """
    from .pgschema import translate

    for statement in [sql] if db.dialect == "sqlite" else translate("table", sql):
        db.execute(statement)


# Position i holds the migration that produces schema version i + 1.
MIGRATIONS: tuple[Migration, ...] = (
    _001_initial,
    _002_sightings,
    _003_watch,
    _004_bot,
    _005_question_language,
    _006_provenance,
    _007_clip_ids,
    _008_skipped_items,
    _009_date_signals,
    _010_outgoing,
    _011_media_signals,
    _012_shared_bot_state,
    _013_send_pauses,
    _014_library_changes,
    _015_replicas,
)
if len(MIGRATIONS) != CURRENT_VERSION:
    raise ImportError(
        f"{len(MIGRATIONS)} migrations but CURRENT_VERSION {CURRENT_VERSION}: "
        "set it in storage/versions.py"
    )
