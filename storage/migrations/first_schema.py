"""Schema versions 1 to 5, the first releases: the library (media, clips, sightings), the
watch pipeline (feeds, posts, their media, reposts, the outbox) and the Telegram bot's tables.

Released: never edit these steps (tests/data/sqlite_schema_v11.json holds what they make).
SQLite runs them; PostgreSQL starts from their result (storage.pgschema).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine import Database


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


# Schema versions 1 to 5, in order.
STEPS: tuple[Callable[[Database], None], ...] = (
    _001_initial,
    _002_sightings,
    _003_watch,
    _004_bot,
    _005_question_language,
)
