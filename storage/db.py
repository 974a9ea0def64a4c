"""Open the library database, configured the one way the rest of oldclip expects.

WAL lets the bot answer lookups while a watcher or an import is writing; ``busy_timeout``
makes a writer wait for another rather than fail at once; foreign keys are per-connection in
SQLite and off by default, so the ON DELETE CASCADE in the schema only works if we turn them on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from .errors import StorageError
from .migrations import CURRENT_VERSION, migrate, newer_schema_message, schema_version

BUSY_TIMEOUT_MS = 5000


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    Raises StorageError, naming the file, if it is not a SQLite database or was written by a
    newer oldclip.  Refusing the newer schema matters: an old binary writing to it could
    silently drop data the newer code relies on.
    """
    path = Path(path)
    name = str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder for database {name}: {exc}") from exc

    db: sqlite_utils.Database | None = None
    try:
        db = sqlite_utils.Database(path)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        # Reading the version first is what touches the file, so a non-database fails here,
        # before we try to switch its journal mode.
        version = schema_version(db)
        if version > CURRENT_VERSION:
            raise StorageError(newer_schema_message(name, version))
        db.enable_wal()
        # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits,
        # which the pipeline redoes (its steps are idempotent).  FULL would fsync every post.
        db.execute("PRAGMA synchronous = NORMAL")
        migrate(db, name=name)
    except StorageError:
        if db is not None:
            db.close()
        raise
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        if "not a database" in str(exc):
            raise StorageError(f"{name} is not a SQLite database ({exc})") from exc
        raise StorageError(f"cannot open database {name}: {exc}") from exc
    return db
