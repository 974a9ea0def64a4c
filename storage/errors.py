"""The one exception storage/ raises for problems a person must fix (wrong file, old oldclip).

Kept separate so callers can catch it without importing sqlite3 or sqlite-utils.
"""

from __future__ import annotations


class StorageError(Exception):
    """The database cannot be used as it is: the message says which file and what to do."""
