"""Schema versions 12 on: the steps after ``PG_BASELINE``, run on SQLite and PostgreSQL alike.

Each is written in SQL both engines accept, or branches on ``db.dialect`` (or has
storage.pgschema translate its SQLite statement) where they cannot.  A new step is appended
here, to ``STEPS``, with its number in ``CURRENT_VERSION`` (storage.versions).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine import Database


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
    from ..pgschema import translate

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
    from ..pgschema import translate

    for statement in [sql] if db.dialect == "sqlite" else translate("table", sql):
        db.execute(statement)


# Schema versions 12 to 15, in order.
STEPS: tuple[Callable[[Database], None], ...] = (
    _012_shared_bot_state,
    _013_send_pauses,
    _014_library_changes,
    _015_replicas,
)
