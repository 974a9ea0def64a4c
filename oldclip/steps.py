"""What the pipeline's parts share, and nothing more: the library and the settings, and how
a step runs.

Storage steps go through ``store`` and steps on the in-memory indexes through ``on_index``: on
a worker's PostgreSQL (``storage.threads``) they run in storage threads, so a statement
waiting for a lock holds up its own item only; the index steps also hold the library's lock,
so the indexes are never changed by two threads at once.  On SQLite both run right here, on
the loop.  Feed polling (``oldclip.feedpoll``) and the media steps (``oldclip.mediasteps``)
each take one ``Steps``, besides what only they use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from storage.threads import run_step

if TYPE_CHECKING:
    from storage.engine import Database

    from .config import Config, WatchSettings
    from .library import Library

T = TypeVar("T")


@dataclass(frozen=True)
class Steps:
    """The library the steps read and write, and the configuration they follow."""

    library: Library
    config: Config

    @property
    def db(self) -> Database:
        """The library's database, as it is now (a worker swaps in a threaded one)."""
        return self.library.db

    @property
    def watch(self) -> WatchSettings:
        return self.config.watch

    async def store(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A storage step: in a storage thread when the database has them, else here."""
        return await run_step(self.library.db, fn, *args, **kwargs)

    async def on_index(self, fn: Callable[..., T], *args: Any) -> T:
        """A step on the library's in-memory indexes: a storage step under the library's lock."""
        return await self.store(self.library.locked, fn, *args)
