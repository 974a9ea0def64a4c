"""Versioned schema changes, the steps: one description of the schema for SQLite and PostgreSQL.

Each migration is a function that takes the database from version N-1 to N; storage.schema
runs them in order, each in its own write transaction together with the version bump.  Never
edit a released migration: append a new one (to storage.migrations.both_engines).  The steps
are kept in one module per era: the first schema (1-5), the later SQLite-only steps (6-11)
and the steps both engines run (12 on).

SQLite runs every step, as it always has.  PostgreSQL starts from the schema these steps leave
at ``PG_BASELINE`` (storage.pgschema translates it), so the SQLite steps stay the one
description of the schema; the steps after the baseline run on both, written in SQL both
engines accept (``db.dialect`` where they cannot).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine import Database
from ..versions import CURRENT_VERSION, PG_BASELINE
from . import both_engines, first_schema, sqlite_only

__all__ = ["CURRENT_VERSION", "MIGRATIONS", "PG_BASELINE", "Migration"]

Migration = Callable[[Database], None]

# Position i holds the migration that produces schema version i + 1.
MIGRATIONS: tuple[Migration, ...] = (*first_schema.STEPS, *sqlite_only.STEPS, *both_engines.STEPS)
if len(MIGRATIONS) != CURRENT_VERSION:
    raise ImportError(
        f"{len(MIGRATIONS)} migrations but CURRENT_VERSION {CURRENT_VERSION}: "
        "set it in storage/versions.py"
    )
