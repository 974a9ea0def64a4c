"""Storage steps off the event loop: PostgreSQL from storage threads, each on its own connection.

psycopg's calls are synchronous: made on the event loop, a statement that waits (for a row
lock, for the write lock of ``immediate``, up to ``LOCK_WAIT_S``) holds up every other job of
the process and procrastinate's heartbeat with it.  A worker therefore wraps its database in
``ThreadedPostgres``: ``run(fn, ...)`` calls ``fn`` in one of a bounded number of threads, and
while it runs, every use of the database from that thread goes over a connection of its own,
borrowed from a pool (psycopg_pool) exactly as large as the threads.  Storage functions and
the ``Library`` keep taking a plain ``Database``: which connection they talk over is the
thread's business, so the same code runs on the loop (SQLite, ``run_step`` calls it right
there) and in a storage thread.

Outside ``run`` (the loop's thread, start-up) the process's own connection serves, as before.
SQLite stays on the loop: one file, one writer, and its connection is shared with the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .db import CONNECT_TIMEOUT_S
from .engine import Database, Params, PostgresDatabase, lost

T = TypeVar("T")


class ThreadedPostgres(Database):
    """``main`` for the loop's thread, a pooled connection of its own for each storage thread.

    ``size`` bounds both the threads and the pool, so a storage step never waits for a
    connection behind another step.
    """

    dialect = "postgresql"

    def __init__(self, main: PostgresDatabase, url: str, size: int):
        from psycopg_pool import ConnectionPool

        self.main, self.name = main, main.name
        self.operational_error = main.operational_error
        self._local = threading.local()
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="oldclip-storage")
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=CONNECT_TIMEOUT_S,
            # Tried before each step (one round trip): a connection that died while idle in
            # the pool (a server restart) is replaced, not given to a job to fail on.
            check=ConnectionPool.check_connection,
            name="oldclip-storage",
            open=True,
        )

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a storage thread, the database its own connection there."""
        call = functools.partial(self._borrowing, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def _borrowing(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from psycopg_pool import PoolTimeout

        try:
            conn = self._pool.getconn()
        except PoolTimeout as exc:  # every connection attempt failed for CONNECT_TIMEOUT_S
            raise lost(self.name, exc) from None
        db = PostgresDatabase(conn, self.name)
        db.lock_wait_s = self.main.lock_wait_s
        self._local.db = db
        try:
            return fn(*args, **kwargs)
        finally:
            self._local.db = None
            # A connection lost meanwhile (its statement failed with DatabaseLost) is dropped
            # here by the pool, which opens another for a later step.
            self._pool.putconn(conn)

    @property
    def current(self) -> PostgresDatabase:
        """The database facade of this thread: its borrowed connection, else the main one."""
        return getattr(self._local, "db", None) or self.main

    @property
    def conn(self) -> Any:  # type: ignore[override]
        return self.current.conn

    def execute(self, sql: str, params: Params = None) -> Any:
        return self.current.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.current.executemany(sql, rows)

    def stream(
        self, sql: str, params: Params = None, batch: int = 100
    ) -> Generator[Sequence[Any], None, None]:
        return self.current.stream(sql, params, batch)  # read on this thread's connection

    def atomic(self) -> contextlib.AbstractContextManager[Database]:
        return self.current.atomic()

    def immediate(self) -> contextlib.AbstractContextManager[Database]:
        return self.current.immediate()

    @property
    def in_transaction(self) -> bool:
        return self.current.in_transaction

    @property
    def changes(self) -> int:
        return self.current.changes

    def table_names(self) -> list[str]:
        return self.current.table_names()

    def close_threads(self) -> None:
        """Wait for the steps in hand, then close the threads' connections (not ``main``)."""
        self._threads.shutdown(wait=True)
        self._pool.close()

    def close(self) -> None:
        self.close_threads()
        self.main.close()


async def run_step(db: Database, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``: in a storage thread when ``db`` has them, else right here."""
    if isinstance(db, ThreadedPostgres):
        return await db.run(fn, *args, **kwargs)
    return fn(*args, **kwargs)
