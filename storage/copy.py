"""Copy a whole library from one database into an empty one (SQLite into PostgreSQL).

``oldclip migrate-db --to postgresql://...`` uses it when a newsroom outgrows one machine.
Every table is copied with its ids, so ids written in tickets and alerts keep meaning the same
clip; the identity sequences then continue after the highest id copied.  The copy is one
transaction on the target: a failure leaves it empty, and it can simply be run again.
A target that already holds a library is refused rather than merged into (ids would clash;
merging libraries is what hash bundles are for).
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Database
from .errors import StorageError
from .schema import schema_version
from .versions import CURRENT_VERSION

BATCH = 1000
# Rows every migrated database has from the start (one-row state, the schema version), and
# the change log the target's triggers fill while clips are copied: replaced by the source's.
STATE_TABLES = ("library_state", "id_watermarks", "library_changes")
OWN_TABLES = ("oldclip_schema",)
# Which processes follow the source library (``storage.replicas``): not the library itself, so
# never copied, and a target's (its processes started early) does not make it "not empty".
LIVE_TABLES = ("replicas",)


@dataclass(frozen=True)
class CopyReport:
    rows: dict[str, int]  # rows copied, by table, in copy order

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def tables_in_order(db: Database) -> list[str]:
    """The library's tables, each after the tables it references (their creation order)."""
    if db.dialect != "sqlite":
        raise StorageError("the source of a copy must be a SQLite library")
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid"
    )
    return [name for (name,) in rows]


def copy_library(source: Database, target: Database) -> CopyReport:
    """Copy every row of ``source`` (SQLite) into ``target`` (empty, same schema version)."""
    for db in (source, target):
        version = schema_version(db)
        if version != CURRENT_VERSION:
            raise StorageError(f"database {db.name} is at schema {version}, not {CURRENT_VERSION}")
    tables = [t for t in tables_in_order(source) if t not in LIVE_TABLES]
    rows: dict[str, int] = {}
    with source.atomic(), target.immediate():  # one snapshot read, one write
        filled = [t for t in tables if t not in STATE_TABLES and _count(target, t)]
        if filled:
            raise StorageError(
                f"database {target.name} is not empty ({', '.join(filled)} hold rows): "
                "migrate into a new, empty database"
            )
        for table in tables:
            if table in STATE_TABLES:
                target.execute(f"DELETE FROM {table}")
            rows[table] = _copy_table(source, target, table)
        for table in tables:
            _restart_identity(target, table)
    return CopyReport(rows)


def _count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _copy_table(source: Database, target: Database, table: str) -> int:
    cursor = source.execute(f"SELECT * FROM {table} ORDER BY rowid")
    columns = [d[0] for d in cursor.description]
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )
    copied = 0
    while batch := cursor.fetchmany(BATCH):
        target.executemany(insert, batch)
        copied += len(batch)
    return copied


def _restart_identity(db: Database, table: str) -> None:
    """Make new rows of ``table`` take ids after the copied ones (PostgreSQL identities do not
    move when ids are given explicitly)."""
    if db.dialect != "postgresql":
        return
    identity = db.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? AND column_name = 'id' AND is_identity = 'YES'",
        [table],
    ).fetchone()
    if identity is None:
        return
    sequence = db.execute("SELECT pg_get_serial_sequence(?, 'id')", [table]).fetchone()
    db.execute(
        "SELECT setval(?, COALESCE((SELECT max(id) FROM " + table + "), 0) + 1, false)",
        [sequence[0]],
    )
