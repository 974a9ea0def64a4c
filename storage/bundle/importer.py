"""import_bundle: a bundle into the library, all or nothing, or in batches for a service."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import Database
from ..txn import immediate
from .reader import Reader
from .spec import BundleError
from .store import Store

IMPORT_CACHE_KIB = 64 * 1024  # SQLite page cache while importing
READ_AHEAD_BATCH = 256  # clips validated ahead are handed to the writer this many at a time
READ_AHEAD_DEPTH = 4  # batches waiting at most (bounds memory)


@dataclass(frozen=True)
class ImportReport:
    path: Path
    publisher: str
    contact: str | None
    created_at: str
    clips: int  # clips in the bundle
    new: int  # clips the library did not have
    merged: int  # clips it had, to which the bundle added something (a source, a date, a tag)
    unchanged: int  # clips it already knew all about
    unsafe_links: int = 0  # javascript:, file: ... links left out (see parse_clip)

    def summary(self) -> str:
        """One line for people: who the bundle is from and what it changed."""
        contact = f" <{self.contact}>" if self.contact else ""
        unsafe = (
            f"; {self.unsafe_links} links that were not web links left out"
            if self.unsafe_links
            else ""
        )
        return (
            f"bundle from {self.publisher}{contact}, written {self.created_at}: "
            f"{self.clips} clip{'' if self.clips == 1 else 's'}, {self.new} new, "
            f"{self.merged} merged, {self.unchanged} already known{unsafe}"
        )


def import_bundle(
    db: Database,
    path: str | os.PathLike[str],
    *,
    via: str | None = None,
    in_batches: bool = False,
) -> ImportReport:
    """Add a bundle's clips to the library, merging those it already has; all or nothing.

    ``via`` is recorded as who told the library about each new clip and source; by default
    ``"bundle from <publisher>"``.  Raises BundleError (and changes nothing) if the bundle is
    damaged, incomplete, of a newer version or another fingerprint algorithm, or malformed.

    ``in_batches`` is for a running service: one transaction over 100k clips would hold the
    write lock for tens of seconds, and the bot and watchers would fail to write meanwhile.
    The whole bundle is checked first (read-only), then written READ_AHEAD_BATCH clips per
    transaction.  An interruption then leaves part of it imported; since imports are
    idempotent, importing it again completes it.
    """
    path = Path(path)
    if via is not None and (not isinstance(via, str) or not via.strip()):
        raise ValueError("via must be a non-empty string")
    with Reader(path) as reader:
        header = reader.header()
        label = via or f"bundle from {header.publisher}"
        store = Store(db, label)
        if in_batches:
            with Reader(path) as check:
                for _ in check.clips(check.header()):
                    pass  # validation and the checksum, before anything is written
        whole = contextlib.nullcontext() if in_batches else immediate(db)
        try:
            with _import_cache(db), whole, _ReadAhead(reader.clips(header)) as batches:
                for batch in batches:
                    with immediate(db):  # a savepoint inside ``whole``
                        for clip in batch:
                            store.add(clip)
        except db.operational_error as exc:  # locked, disk full, read-only, server gone...
            raise BundleError(
                f"cannot import bundle {path.name} into the library: {exc}. Nothing was "
                "imported; if another oldclip is writing, try again in a moment."
            ) from None
        store.compact()
    return ImportReport(
        path,
        header.publisher,
        header.contact,
        header.created_at,
        header.clips,
        store.new,
        store.merged,
        store.unchanged,
        store.unsafe_links,
    )


@contextlib.contextmanager
def _import_cache(db: Database) -> Iterator[None]:
    """A bigger page cache while importing: the unique indexes (sha256, source URLs) take
    random inserts, and SQLite's default 2 MB cache makes each one a read at 100k clips."""
    if db.dialect != "sqlite":
        yield
        return
    (before,) = db.execute("PRAGMA cache_size").fetchone()
    db.execute(f"PRAGMA cache_size = {min(int(before), -IMPORT_CACHE_KIB)}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {int(before)}")


class _ReadAhead:
    """Batches of an iterator's items, produced by a background thread.

    Parsing and validating lines is Python (it holds the GIL); storing them is mostly SQLite,
    which releases the GIL, so on two cores reading the next lines overlaps with writing these.
    The queue is bounded (memory stays flat) and an error on either side stops both: the
    reader's is raised here, and leaving the block early stops and joins the thread.
    """

    def __init__(self, items: Iterator[Any]):
        self._items, self._batch, depth = items, READ_AHEAD_BATCH, READ_AHEAD_DEPTH
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="bundle-reader", daemon=True)

    def __enter__(self) -> Iterator[list[Any]]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _consume(self) -> Iterator[list[Any]]:
        while True:
            kind, value = self._queue.get()
            if kind == "error":
                raise value
            if kind == "end":
                return
            yield value

    def _produce(self) -> None:
        try:
            chunk: list[Any] = []
            for item in self._items:
                chunk.append(item)
                if len(chunk) == self._batch:
                    if not self._put("items", chunk):
                        return
                    chunk = []
            if chunk and not self._put("items", chunk):
                return
            self._put("end", None)
        except BaseException as exc:  # handed to the importing thread, which raises it
            self._put("error", exc)

    def _put(self, kind: str, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
