"""One small connection facade that every storage function talks to, over SQLite or PostgreSQL.

Storage functions are written once, in SQL both engines run unchanged (``?`` placeholders,
``RETURNING id``, ``ON CONFLICT ... DO NOTHING``, times computed in Python); only this module
knows which engine is underneath.  Both connections run in autocommit mode and open every
transaction themselves, so a statement outside ``atomic``/``immediate`` commits at once on
either engine (what sqlite-utils did before).

``immediate`` is the read-then-decide write transaction (is this post new? is there an open
alert to append to?).  SQLite gives it with ``BEGIN IMMEDIATE``: one writer at a time, from its
first read.  PostgreSQL gives the same meaning with a transaction-level advisory lock taken as
the first statement: every ``immediate`` block on the database runs one after another, while
plain reads and the other writes go on concurrently.  SERIALIZABLE would also be correct but
turns every conflict into a retry of the caller's whole block, which these blocks (they call
back into Python between statements) cannot replay; the lock makes them wait instead.
"""

from __future__ import annotations

import abc
import contextlib
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal

from .errors import DatabaseLost, WriteLockTimeout

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | None

# pg_advisory_xact_lock keys (any bigint; these spell "oldclip" and the lock's use).
WRITE_LOCK = 0x6F6C64636C_0001
MIGRATE_LOCK = 0x6F6C64636C_0002
LOCK_WAIT_S = 30.0  # see PostgresDatabase.lock_wait_s


class Database(abc.ABC):
    """What storage functions may do with a database, on either engine.

    Abstract, so that a wrapper lacking one of these (a worker's threaded connection once
    lacked ``stream``, and every media job failed) cannot even be made.

    ``execute`` returns a DB-API cursor (``fetchone``, ``fetchall``, iteration, ``rowcount``);
    ``query`` yields each row as a dict.  ``changes`` counts the rows written through this
    connection so far, so a caller can tell whether a block wrote anything.
    """

    dialect: Dialect
    name: str  # for messages: a file path, or the URL without its password
    conn: Any
    # What the engine raises when the database, not the statement, is at fault (locked,
    # disk full, read-only, connection lost).
    operational_error: type[Exception]

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = None) -> Any: ...

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def stream(
        self, sql: str, params: Params = None, batch: int = 100
    ) -> Generator[Sequence[Any], None, None]:
        """The rows of a query that may be larger than memory (every stored fingerprint or
        local feature), ``batch`` rows at a time from the server.  Other statements may run
        on this connection while it is read.  Close it (or read it to the end) promptly."""
        ...

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row, strict=True))

    @abc.abstractmethod
    def atomic(self) -> contextlib.AbstractContextManager[Database]:
        """One transaction; a savepoint inside an outer one."""
        ...

    @abc.abstractmethod
    def immediate(self) -> contextlib.AbstractContextManager[Database]:
        """A write transaction that excludes every other ``immediate`` from its first read."""
        ...

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool: ...

    @property
    @abc.abstractmethod
    def changes(self) -> int: ...

    @abc.abstractmethod
    def table_names(self) -> list[str]: ...

    def close(self) -> None:
        self.conn.close()


class SQLiteDatabase(Database):
    dialect: Dialect = "sqlite"
    operational_error = sqlite3.OperationalError

    def __init__(self, conn: sqlite3.Connection, name: str):
        self.conn, self.name = conn, name
        # A trigger's own writes fire triggers too, as they always have here (sqlite-utils,
        # which wrapped this connection before, turned it on).
        self.execute("PRAGMA recursive_triggers = ON")

    def execute(self, sql: str, params: Params = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or ())

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def stream(
        self, sql: str, params: Params = None, batch: int = 100
    ) -> Generator[Sequence[Any], None, None]:
        # SQLite's cursor already steps through the result as it is read.
        cursor = self.execute(sql, params)
        try:
            yield from cursor
        finally:
            cursor.close()

    def atomic(self) -> contextlib.AbstractContextManager[Database]:
        return self._scope("BEGIN")

    def immediate(self) -> contextlib.AbstractContextManager[Database]:
        return self._scope("BEGIN IMMEDIATE")

    @contextlib.contextmanager
    def _scope(self, begin: str) -> Iterator[Database]:
        """A transaction opened with ``begin``; a savepoint inside an outer one."""
        if self.conn.in_transaction:
            with self._savepoint():
                yield self
            return
        with self._transaction(begin):
            yield self

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        self.conn.execute(begin)
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        name = f"sp_{secrets.token_hex(8)}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            # An error may already have ended the whole transaction, savepoint included.
            if self.conn.in_transaction:
                self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.conn.execute(f"RELEASE SAVEPOINT {name}")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @property
    def changes(self) -> int:
        return self.conn.total_changes

    def table_names(self) -> list[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [name for (name,) in rows]

    def enable_wal(self, wait_s: float) -> None:
        """Write-ahead logging: readers (other processes too) never wait for the writer.

        The switch needs the file to itself, and SQLite answers "database is locked" at once,
        without calling the busy handler, while another connection reads it: processes
        starting together on a new database failed so (1 in 300 openings of 4 at once).  So
        it is tried again for up to ``wait_s``, as a busy timeout would."""
        deadline = time.monotonic() + wait_s
        while self.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


class PostgresDatabase(Database):
    """The facade over one psycopg connection, which it opens again after losing it.

    A server restart, a network cut or ``pg_terminate_backend`` kills the connection: the
    statement (and transaction) in flight fails with ``DatabaseLost``, one line naming the
    database, and the next use outside a transaction connects again.  A long-running process
    (worker, scheduler) thus sees one failed job, retried by the queue, instead of dying or
    failing every job after.  A statement is never replayed by itself: it may have committed
    before the answer was lost.
    """

    dialect: Dialect = "postgresql"
    # How long an ``immediate`` waits for the write lock before giving up (WriteLockTimeout):
    # a holder that died unseen (host off the network) would otherwise block every writer
    # until TCP keepalive notices, which by default takes over two hours.
    lock_wait_s: float = LOCK_WAIT_S

    def __init__(self, conn: Any, name: str, connect: Callable[[], Any] | None = None):
        """``connect`` opens a new connection like ``conn``, to replace it once it is lost."""
        import psycopg

        self.conn, self.name, self._connect = conn, name, connect
        self.operational_error = psycopg.OperationalError
        self._changes = 0
        self._depth = 0  # open atomic/immediate blocks: no reconnecting inside one

    def execute(self, sql: str, params: Params = None) -> Any:
        with self._guard():
            cursor = self._live().cursor()
            # Always pass a sequence: psycopg then reads %% as %, which _pg_sql relies on.
            cursor.execute(_pg_sql(sql), list(params or ()))
        self._count(cursor)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._guard():
            cursor = self._live().cursor()
            cursor.executemany(_pg_sql(sql), [list(row) for row in rows])
        self._count(cursor)

    def stream(
        self, sql: str, params: Params = None, batch: int = 100
    ) -> Generator[Sequence[Any], None, None]:
        """A server-side cursor: psycopg's plain one holds the whole result in this process
        (every stored local feature of a large library: gigabytes).  Outside a transaction it
        is declared WITH HOLD, so no transaction stays open on the connection while the
        caller reads (a write made meanwhile commits at once, as everywhere else); the server
        keeps the result of the one snapshot the query saw."""
        with self._guard():
            cursor = self._live().cursor(
                f"oldclip_{secrets.token_hex(6)}", withhold=not self.in_transaction
            )
            cursor.itersize = batch
            cursor.execute(_pg_sql(sql), list(params or ()))
        try:
            while True:
                with self._guard():
                    rows = cursor.fetchmany(batch)
                if not rows:
                    return
                yield from rows
        finally:
            if not self.conn.closed:
                import psycopg

                with contextlib.suppress(psycopg.Error):  # an aborted transaction took it
                    cursor.close()

    def _count(self, cursor: Any) -> None:
        verb = (cursor.statusmessage or "").split(" ", 1)[0]
        if verb in ("INSERT", "UPDATE", "DELETE", "MERGE") and cursor.rowcount > 0:
            self._changes += cursor.rowcount

    def _live(self) -> Any:
        """The connection, a new one if the last was lost and no transaction is open on it."""
        if self.conn.closed and self._depth == 0 and self._connect is not None:
            self.conn = self._connect()
        return self.conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """psycopg's errors for a lost server or a lock wait given up, as one-line ones."""
        import psycopg

        try:
            yield
        except psycopg.errors.LockNotAvailable:
            raise WriteLockTimeout(
                f"gave up after {self.lock_wait_s:g} s waiting for the write lock of "
                f"{self.name}: another process holds it (perhaps one that died and the "
                "server has not noticed yet); try again"
            ) from None
        except psycopg.OperationalError as exc:
            if not self.conn.closed:
                raise  # the statement, not the connection, failed (e.g. statement timeout)
            raise lost(self.name, exc) from None

    def atomic(self) -> contextlib.AbstractContextManager[Database]:
        return self._transaction(lock=False)

    def immediate(self) -> contextlib.AbstractContextManager[Database]:
        return self._transaction(lock=True)

    @contextlib.contextmanager
    def _transaction(self, *, lock: bool) -> Iterator[Database]:
        """A transaction (a savepoint when nested); ``lock``: the write lock first, waited
        for at most ``lock_wait_s`` (lock_timeout is set for this transaction only)."""
        with self._guard():
            conn = self._live()
            self._depth += 1
            try:
                with conn.transaction():
                    if lock:
                        conn.execute(
                            "SELECT set_config('lock_timeout', %s, true), "
                            "pg_advisory_xact_lock(%s)",
                            [f"{round(self.lock_wait_s * 1000)}ms", WRITE_LOCK],
                        )
                    yield self
            finally:
                self._depth -= 1

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0  # the connection is in autocommit outside these blocks

    @property
    def changes(self) -> int:
        return self._changes

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        return [name for (name,) in rows]


def lost(name: str, exc: Exception) -> DatabaseLost:
    """The one-line error for the server at ``name`` gone or unreachable."""
    return DatabaseLost(
        f"the database at {name} stopped answering: {first_line(exc)}; "
        "check that PostgreSQL is running and try again"
    )


def first_line(exc: Exception) -> str:
    """The first non-empty line of a driver message (psycopg's run to several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# A quoted string, a quoted identifier, or one character: placeholders are only looked for
# outside quotes.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|.", re.DOTALL)


@lru_cache(maxsize=1024)
def _pg_sql(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders as psycopg's ``%s`` (and ``%`` escaped)."""
    out = []
    for token in _TOKENS.findall(sql):
        token = token.replace("%", "%%")
        out.append("%s" if token == "?" else token)
    return "".join(out)
