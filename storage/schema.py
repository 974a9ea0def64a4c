"""A database's schema version, and bringing it up to date with the steps of storage.migrations.

The steps run in order, each in its own write transaction together with the version bump, so a
crash leaves the database at a whole version and two processes opening a fresh database at once
cannot both apply the same step.  SQLite tracks the version in ``PRAGMA user_version``;
PostgreSQL in the ``oldclip_schema`` table, and builds the schema at ``PG_BASELINE`` in one go
(storage.pgschema) before running the later steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import MIGRATE_LOCK, Database
from .errors import StorageError
from .versions import CURRENT_VERSION, PG_BASELINE

if TYPE_CHECKING:
    from .migrations import Migration


def schema_version(db: Database) -> int:
    """The version this database's schema is at (0 for a fresh one)."""
    if db.dialect == "sqlite":
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    if db.execute("SELECT to_regclass('oldclip_schema')").fetchone()[0] is None:
        return 0
    row = db.execute("SELECT version FROM oldclip_schema").fetchone()
    return 0 if row is None else int(row[0])


def _set_version(db: Database, version: int) -> None:
    if db.dialect == "sqlite":
        # PRAGMA takes no parameters; the value is our own int.
        db.execute(f"PRAGMA user_version = {int(version)}")
    else:
        db.execute("UPDATE oldclip_schema SET version = ?", [version])


def newer_schema_message(name: str, version: int) -> str:
    """The words used whenever a database is ahead of this code, so every path says the same."""
    return (
        f"database {name} was written by a newer oldclip "
        f"(schema {version} > {CURRENT_VERSION}); upgrade oldclip"
    )


def _step(db: Database, version: int) -> tuple[str, Migration | None]:
    """The name and function taking ``db`` from ``version`` to the next one (None: the
    PostgreSQL baseline, built in one go)."""
    if db.dialect == "postgresql" and version < PG_BASELINE:
        return "baseline", None
    from .migrations import MIGRATIONS  # only when a step is due (storage.versions)

    step = MIGRATIONS[version]
    return step.__name__, step


def _begin_migration(db: Database) -> None:
    """First statement of each migration transaction: only one process migrates at a time.

    SQLite's ``BEGIN IMMEDIATE`` already excludes other writers; PostgreSQL takes an advisory
    lock, and a second process waits on it, then reads the version the first one left.
    """
    if db.dialect == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATE_LOCK])
        db.execute("CREATE TABLE IF NOT EXISTS oldclip_schema (version INTEGER NOT NULL)")
        db.execute(
            "INSERT INTO oldclip_schema (version) SELECT 0 "
            "WHERE NOT EXISTS (SELECT 1 FROM oldclip_schema)"
        )


def migrate(db: Database, target: int | None = None, name: str = "") -> int:
    """Apply pending migrations up to ``target`` (default: current) and return the new version.

    ``target`` exists so tests can build a database as an older oldclip would have left it
    (SQLite only below ``PG_BASELINE``).  ``name`` only labels error messages.
    """
    target = CURRENT_VERSION if target is None else target
    if not 0 <= target <= CURRENT_VERSION:
        raise ValueError(f"target schema version must be 0..{CURRENT_VERSION}, got {target}")
    label = name or "(unnamed)"
    # Up to date already (every open but the first after an upgrade): no lock to wait for, so
    # a process frozen while holding the write lock does not hold up `oldclip status` (nor any
    # command that only reads).
    if schema_version(db) == target == CURRENT_VERSION:
        return target
    while True:
        # The lock is taken before reading the version, so a concurrent opener waits and then
        # sees our bump instead of re-running the same step.
        with db.immediate():
            _begin_migration(db)
            version = schema_version(db)
            if version > CURRENT_VERSION:
                raise StorageError(newer_schema_message(label, version))
            if version >= target:
                return version
            step_name, step = _step(db, version)
            try:
                if step is None:
                    from .pgschema import create_baseline

                    create_baseline(db)
                else:
                    step(db)
            except Exception as exc:
                raise StorageError(
                    f"database {label}: migration to schema {version + 1} "
                    f"({step_name}) failed: {exc}"
                ) from exc
            _set_version(db, PG_BASELINE if step is None else version + 1)
