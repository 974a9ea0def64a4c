"""The exceptions storage/ raises for problems a person must fix (wrong file, old oldclip,
server gone).

Kept separate so callers can catch them without importing sqlite3 or psycopg.
"""

from __future__ import annotations


class StorageError(Exception):
    """The database cannot be used as it is: the message says which file and what to do."""


class DatabaseUnavailable(StorageError):
    """A moment's trouble with the database server, not with the data: trying the same work
    again later is the cure (a job is retried; the pipeline lets it through rather than
    recording the item or feed as failed)."""


class DatabaseLost(DatabaseUnavailable):
    """The PostgreSQL server dropped the connection (restart, network, killed session).

    What was in flight is lost (a transaction rolled back); the next use of the same
    ``Database`` connects again, so a long-running process survives a server restart: a job
    fails and is retried, a command says so in one line.
    """


class WriteLockTimeout(DatabaseUnavailable):
    """An ``immediate`` block waited too long for the write lock (see storage.engine).

    A session holding it may have died without the server noticing yet (a host gone off the
    network keeps its session until TCP gives up): rather than wait for ever, the writer fails
    and is tried again later (a job by the queue, a command by the person).
    """
