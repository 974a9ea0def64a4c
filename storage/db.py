"""Open the library database, SQLite or PostgreSQL, configured the one way oldclip expects.

A plain path or ``sqlite:///relative/path`` / ``sqlite:////absolute/path`` (SQLAlchemy's
spelling) is a SQLite file; ``postgresql://user@host:port/dbname`` is a PostgreSQL database.

SQLite: WAL lets the bot answer lookups while a watcher or an import is writing;
``busy_timeout`` makes a writer wait for another rather than fail at once; foreign keys are
per-connection in SQLite and off by default, so the ON DELETE CASCADE in the schema only works
if we turn them on.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .engine import Database, PostgresDatabase, SQLiteDatabase, first_line
from .errors import StorageError
from .schema import migrate, newer_schema_message, schema_version
from .versions import CURRENT_VERSION

BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 10
POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_url(target: str | Path) -> bool:
    """Whether ``target`` names a database by URL rather than by file path."""
    return isinstance(target, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target) is not None


def sqlite_path(target: str | Path) -> Path | None:
    """The file a path or ``sqlite://`` URL names; None for any other URL."""
    if not is_url(target):
        return Path(target)
    text = str(target)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    return None


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def open_db(target: str | Path) -> Database:
    """Open (creating if needed) the database ``target`` names and bring its schema up to date.

    Raises StorageError, in one line naming the database (never its password), if it cannot be
    reached, is not a database, or was written by a newer oldclip.  Refusing the newer schema
    matters: an old binary writing to it could silently drop data the newer code relies on.
    """
    path = sqlite_path(target)
    if path is not None:
        return _open_sqlite(path)
    url = str(target)
    if url.split("://", 1)[0].lower() in POSTGRES_SCHEMES:
        return _open_postgres(url)
    raise StorageError(
        f"unsupported database URL {safe_url(url)}: use a file path, sqlite:///path "
        "or postgresql://user@host/dbname"
    )


def _open_sqlite(path: Path) -> Database:
    name = str(path)
    if name in ("", "."):
        raise StorageError("the sqlite:/// URL names no file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder for database {name}: {exc}") from exc

    db: SQLiteDatabase | None = None
    try:
        # Autocommit at the driver: storage opens its own transactions (see storage.engine).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db = SQLiteDatabase(conn, name)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        # Reading the version first is what touches the file, so a non-database fails here,
        # before we try to switch its journal mode.
        version = schema_version(db)
        if version > CURRENT_VERSION:
            raise StorageError(newer_schema_message(name, version))
        db.enable_wal(BUSY_TIMEOUT_MS / 1000)
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


def connect_postgres(url: str) -> PostgresDatabase:
    """A connection to the PostgreSQL database at ``url``, schema untouched.

    psycopg's own messages can be several lines long (one per address tried, hints); the
    StorageError keeps the first line that says what failed, and never the password.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = safe_url(url)
    try:
        conninfo_to_dict(url)
        urlsplit(url).port  # noqa: B018 - libpq would only say so once connecting
    except (psycopg.ProgrammingError, ValueError) as exc:
        raise StorageError(f"malformed PostgreSQL URL {name}: {_first_line(exc, url)}") from None

    def connect() -> Any:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    try:
        conn = connect()
    except psycopg.ProgrammingError as exc:  # libpq could not parse the URL
        raise StorageError(f"malformed PostgreSQL URL {name}: {_first_line(exc, url)}") from None
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to {name}: {_first_line(exc, url)}") from None
    return PostgresDatabase(conn, name, connect)


def _first_line(exc: Exception, url: str) -> str:
    text = first_line(exc)
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _open_postgres(url: str) -> Database:
    import psycopg

    db = connect_postgres(url)
    try:
        migrate(db, name=db.name)
    except StorageError:
        db.close()
        raise
    except psycopg.Error as exc:
        db.close()
        raise StorageError(f"database {db.name}: {_first_line(exc, url)}") from None
    return db
