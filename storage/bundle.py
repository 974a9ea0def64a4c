"""Hash bundles: share the library between newsrooms as fingerprints and provenance, no media.

A newsroom exports its clips (``export_bundle``); another imports them (``import_bundle``) and
from then on recognises that footage too, with the first newsroom's provenance.  A bundle
carries no picture or sound, only the perceptual hashes matching needs and what is known about
each clip, so it can be shared where the footage itself could not.

Bundle format, version 1
========================

A bundle is a UTF-8 text file of JSON Lines: one JSON object per line, each line ended by
``\\n`` (LF).  It may be gzip-compressed as a whole; readers recognise gzip by its magic bytes
``1f 8b`` (not by the name), and oldclip writes gzip when the file name ends in ``.gz``.
Everything below, the checksum included, is about the uncompressed bytes.  Readers ignore
object keys they do not know (a later version 1 writer may add some); a change that an older
reader must not misread bumps ``version``.  No line may be longer than ``MAX_LINE_BYTES``
(32 MiB), ``\\n`` included.

Line 1, the header::

    {"format": "oldclip-bundle", "version": 1,
     "publisher": {"name": "Example Newsroom", "contact": "desk@example.org"},
     "created_at": "2026-11-23T18:04:55+00:00", "algorithm": "pdq-v1", "clips": 2}

- ``format`` (string): exactly ``"oldclip-bundle"``.
- ``version`` (integer): 1.  A reader refuses a version it does not know.
- ``publisher.name`` (non-empty string, no control characters): who made the bundle; the
  importer records ``"bundle from <name>"`` as who told its library about each new clip and
  source.  ``publisher.contact`` (string or null): how to reach them (e-mail, URL).
- ``created_at`` (string): when the bundle was written, ISO 8601 (oldclip writes UTC, to the
  second).
- ``algorithm`` (string): the fingerprint algorithm of every clip, ``"pdq-v1"``: PDQ, 256-bit
  hashes of frames sampled as oldclip's ``fingerprint`` package does.  A reader refuses an
  algorithm it does not use, since hashes of another algorithm would never match.
- ``clips`` (integer >= 0): the number of clip lines that follow.

Then one line per clip::

    {"sha256": "fec6434f...", "kind": "video", "duration": 22.43, "width": 480, "height": 720,
     "size": 2591827,
     "fingerprint": {"frames": 225, "hashes": "<base64>", "times": "<base64>",
                     "variants": "<base64>"},
     "clip": {"title": "...", "description": null, "first_seen": "2017-06-20",
              "source": "https://...", "verdict_url": null, "language": null, "tags": ["..."],
              "claim": null, "rating": null, "benign": false},
     "sources": [{"url": "https://...", "first_seen": "2017-06-20", "kind": "publication",
                  "title": null}]}

- ``sha256`` (string): 64 hex digits, the SHA-256 of the media file's bytes: the identity of the
  media (two bundles, or a bundle and a library, agree on a clip by it).  Lower case when
  written; any case is read.
- ``kind``: ``"video"`` or ``"photo"``.  ``duration`` (number >= 0, seconds, or null),
  ``width``, ``height``, ``size`` (integers >= 0 or null; size in bytes): as the file was.
- ``fingerprint.frames`` (integer >= 1): N, the number of hashed frame pictures.  ``hashes``,
  ``times`` and ``variants`` are standard base64 (RFC 4648 section 4, with ``=`` padding, no
  line breaks) of, respectively:

  - ``hashes``: N*32 bytes, the N PDQ hashes one after the other, 32 bytes each: bit i of the
    256-bit vector ``pdqhash.compute`` returns is bit ``7 - i % 8`` (most significant first)
    of byte ``i // 8`` (``numpy.packbits`` order);
  - ``times``: N*4 bytes, N little-endian IEEE 754 float32: the second of the media each
    picture was taken at (finite, >= 0; 0.0 for a photo);
  - ``variants``: N bytes, one unsigned byte per picture saying what was hashed (see
    ``fingerprint.types``): 0 an anchor frame whole, 1 its centre 80%, 2 mirrored,
    3 rotated/flipped (photos), 4 a close-up (9:16 centre cut), 5 a frame between anchors,
    whole.  Other codes are refused.

  The three arrays are in the same order (row i of each describes picture i), time order.
  oldclip writes only variants 0, 1, 4 and 5: the mirrored and turned pictures (2, 3) are
  computed for queries and never read from stored media (``fingerprint.match.verify`` looks
  at the stored side only through ``REFERENCE_VIEWS``, the index only at ``INDEXED_VARIANTS``),
  so omitting them saves about 37% of a video's bytes and 70% of a photo's and matches
  exactly the same (``tests/test_bundle.py`` checks both libraries' matches agree, mirrored
  reposts included).  (A fingerprint with none of those variants would be written whole.)
- ``signals`` (object, optional): the data of the signals other than PDQ (local features,
  sound: ``fingerprint.signal``), ``{"<name>": {"version": <int>, "data": "<base64>"}}``,
  each ``data`` the bytes that signal's ``dumps`` wrote.  Absent in bundles written before
  signals were plug-ins (they import as they always did, PDQ only).  A reader leaves out a
  signal it does not know or of another version, and refuses data its signal cannot read.
  A writer leaves out the largest signals of a clip whose line would pass ``MAX_LINE_BYTES``
  (local features of a video over an hour or so).
- ``clip``: what the publisher knows about the footage.  ``title`` (non-empty string),
  ``first_seen`` (``YYYY-MM-DD``, a real date: the earliest known publication) and ``source``
  (non-empty string: where that was) are required; ``description`` (what it really shows),
  ``verdict_url`` (a fact-check), ``language``, ``claim`` (the false claim a fact-check
  reviewed) and ``rating`` (its verdict) are strings or null; ``tags`` a list of strings;
  ``benign`` a boolean (a channel intro, logo or test card: never reported as old footage).
- ``sources``: every place the footage is known to have been published or fact-checked,
  earliest first: ``url`` (non-empty string), ``first_seen`` (``YYYY-MM-DD``), ``kind``
  (``"publication"`` or ``"factcheck"``), ``title`` (string or null).  The clip's own
  ``source`` is normally one of them.

Who at the publisher added a clip or a source (``added_by``/``via`` in their library) is not
exported: those are often people's accounts, and the bundle speaks for the publisher.

The last line, the trailer::

    {"end": true, "clips": 2, "sha256": "<64 hex digits>"}

- ``clips``: the number of clip lines again; it must equal the header's and the count read.
- ``sha256``: the lower-case hex SHA-256 of every byte before the trailer line (the header and
  every clip line, each with its ``\\n``).  A bundle without a trailer is incomplete.  Nothing
  may follow the trailer (its own final ``\\n`` is optional).

The checksum catches damage (a truncated download, a flipped bit, an edit), not forgery:
anyone can recompute it.  Trust a bundle as much as you trust the channel it came by.

Why JSON Lines and not a SQLite file: any language reads it with its standard library, it
streams in both directions with constant memory, ``zcat | head`` shows what is in it, and
opening a SQLite file from a stranger is an attack surface of its own (its schema, triggers
and page structure are the stranger's), while a JSON line is only data.  What a SQLite bundle
would save is small: on ``bench/bundle.py``'s 100,000 clips, reading and decoding the JSON
takes 2.3 s and base64 about 2 s of an import's 23 s of CPU, the rest being validation (which
an untrusted file needs in any format) and the library's own writes.  Base64 makes a bundle a
third bigger than its bytes; gzip wins most of it back (772 MB plain, 478 MB ``.gz``).

Importing
=========

``import_bundle`` reads the bundle as a stream in one write transaction and commits only once
the trailer's count and checksum agree, so a damaged, truncated or hostile bundle is refused
with a ``BundleError`` naming the line, what is wrong and what to do, and the database is left
exactly as it was.  Media are matched by sha256 (a library's own fingerprint of a file wins
over the bundle's); clips merge as ``storage.add_clip`` merges: every source is kept, the
earliest ``first_seen`` wins, empty fields are filled, tags added, the benign flag carried,
nothing already known is overwritten.  Importing the same bundle again changes nothing.

While it runs, an import holds the database's write lock: readers (the bot answering lookups)
go on, other writers wait up to their ``busy_timeout`` (5 s) and then fail with "database is
locked".  100,000 clips hold it for 20 to 40 s on a 2-core machine, so import large bundles
when the watchers are idle.  Parsing runs in a background thread, one batch ahead of the
writes (SQLite releases the GIL while it writes), and the page cache is raised to 64 MiB for
the import; memory stays flat whatever the bundle's size.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import json
import math
import os
import queue
import re
import sqlite3
import tempfile
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from fingerprint.types import ALGORITHM, HASH_BYTES, INDEXED_VARIANTS, VARIANT_DENSE

from .engine import Database
from .errors import StorageError
from .library import NEXT_CLIP_ID, SOURCE_KINDS, _check_first_seen, add_clip, add_clip_source
from .signals import insert_signals, signals_from_json, signals_json
from .txn import immediate
from .urls import UnsafeURLError, is_web_url, reference

FORMAT = "oldclip-bundle"
VERSION = 1
MAX_LINE_BYTES = 32 * 1024 * 1024  # a 3-hour video's fingerprint is about 5 MB of base64
MAX_CLIPS = 100_000_000
# A gzip bundle may inflate to this many times its size (plus the allowance): bundles are
# mostly base64 of random-looking hashes, which compresses by well under 2:1, so anything
# far beyond is a decompression bomb.
MAX_INFLATE_RATIO = 20
INFLATE_ALLOWANCE = 256 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# The stored variants matching reads (see the module docstring); the others stay home.
EXPORTED_VARIANTS = tuple(sorted(INDEXED_VARIANTS))
KNOWN_VARIANTS = VARIANT_DENSE  # codes 0..5 exist
_KNOWN_VARIANT_BYTES = bytes(range(KNOWN_VARIANTS + 1))
_MAX_INT = 2**63 - 1  # SQLite's INTEGER
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_READ_BUFFER = 1024 * 1024
_WRITE_BUFFER = 1024 * 1024
GZIP_LEVEL = 6
IMPORT_CACHE_KIB = 64 * 1024  # SQLite page cache while importing
READ_AHEAD_BATCH = 256  # clips validated ahead are handed to the writer this many at a time
READ_AHEAD_DEPTH = 4  # batches waiting at most (bounds memory)
_TIMES = np.dtype("<f4")


class BundleError(StorageError):
    """A bundle cannot be written or imported; the message says where, what and what to do."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    publisher: str
    contact: str | None
    created_at: str
    clips: int  # clip lines written
    skipped: int  # clips without a fingerprint of the bundle's algorithm (cannot be matched)
    bytes: int  # size of the file written
    signals_left_out: int = 0  # signals' data too big for a bundle line (see signals_json)


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
    unsafe_links: int = 0  # javascript:, file: ... links left out (see _clip)

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


# --- export -----------------------------------------------------------------------------------


def export_bundle(
    db: Database,
    path: str | os.PathLike[str],
    *,
    publisher: str,
    contact: str | None = None,
) -> ExportReport:
    """Write every clip that has a fingerprint to a bundle at ``path`` (gzip if it ends .gz).

    Rows are streamed from one read snapshot, so memory stays flat whatever the library's size
    and clips added meanwhile are either wholly in or out.  The file is written beside
    ``path`` under a temporary name and renamed when complete: ``path`` is never a half bundle.
    """
    path = Path(path)
    publisher = _publisher_name(publisher, "publisher")
    contact = _publisher_contact(contact)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    if path.is_dir():
        raise BundleError(f"cannot write bundle {path}: it is a folder; give a file name")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise BundleError(f"cannot write bundle {path}: {exc.strerror or exc}") from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as handle, _snapshot(db):
            if path.name.endswith(".gz"):
                # No file name or time in the gzip header: the bundle's bytes are its content.
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=handle, compresslevel=GZIP_LEVEL, mtime=0
                ) as packed:
                    clips, skipped, left_out = _write_bundle(
                        db, packed, publisher, contact, created_at
                    )
            else:
                clips, skipped, left_out = _write_bundle(db, handle, publisher, contact, created_at)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # a file meant to be shared; mkstemp makes it owner-only
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BundleError(f"cannot write bundle {path}: {exc.strerror or exc}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return ExportReport(
        path, publisher, contact, created_at, clips, skipped, path.stat().st_size, left_out
    )


@contextlib.contextmanager
def _snapshot(db: Database) -> Iterator[None]:
    """One read transaction (a consistent snapshot in WAL mode), unless one is already open."""
    if db.in_transaction:
        yield
        return
    with db.atomic():
        if db.dialect == "postgresql":  # its default, READ COMMITTED, sees later commits
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _write_bundle(
    db: Database, out: IO[bytes], publisher: str, contact: str | None, created: str
) -> tuple[int, int, int]:
    (total,) = db.execute("SELECT count(*) FROM clips").fetchone()
    (count,) = db.execute(
        "SELECT count(*) FROM clips c JOIN fingerprints f ON f.media_id = c.media_id "
        "WHERE f.algorithm = ?",
        [ALGORITHM],
    ).fetchone()
    checksum = hashlib.sha256()

    def write(obj: dict[str, Any]) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        checksum.update(data)
        out.write(data)

    write(
        {
            "format": FORMAT,
            "version": VERSION,
            "publisher": {"name": publisher, "contact": contact},
            "created_at": created,
            "algorithm": ALGORITHM,
            "clips": count,
        }
    )
    sources = _SourcesByClip(db)
    written = signals_left_out = 0
    rows = db.execute(
        "SELECT c.id, c.title, c.description, c.first_seen, c.source, c.verdict_url, "
        "c.language, c.tags, c.claim, c.rating, c.benign, m.sha256, m.kind, m.duration, "
        "m.width, m.height, m.size, f.frame_count, f.hashes, f.times, f.variants, m.id "
        "FROM clips c JOIN media m ON m.id = c.media_id "
        "JOIN fingerprints f ON f.media_id = c.media_id WHERE f.algorithm = ? ORDER BY c.id",
        [ALGORITHM],
    )
    for (
        clip_id, title, description, first_seen, source, verdict_url, language, tags, claim,
        rating, benign, sha, kind, duration, width, height, size, frames, hashes, times, variants,
        media_id,
    ) in rows:  # fmt: skip
        line = {
            "sha256": sha.lower(),
            "kind": kind,
            "duration": duration,
            "width": width,
            "height": height,
            "size": size,
            "fingerprint": _fingerprint_json(clip_id, frames, hashes, times, variants),
            "clip": {
                "title": title,
                "description": description,
                "first_seen": first_seen,
                "source": source,
                "verdict_url": verdict_url,
                "language": language,
                "tags": json.loads(tags or "[]"),
                "claim": claim,
                "rating": rating,
                "benign": bool(benign),
            },
            "sources": sources.of(clip_id),
        }
        room = MAX_LINE_BYTES - len(json.dumps(line, ensure_ascii=False).encode()) - 64
        extra, left_out = signals_json(db, media_id, room)
        signals_left_out += left_out
        if extra:
            line["signals"] = extra
        write(line)
        written += 1
    rows.close()
    sources.close()
    if written != count:  # cannot happen inside one snapshot; never write a lying header
        raise BundleError(f"the library changed during the export ({written} != {count})")
    trailer = {"end": True, "clips": written, "sha256": checksum.hexdigest()}
    out.write(json.dumps(trailer, separators=(",", ":")).encode() + b"\n")
    return written, total - written, signals_left_out


class _SourcesByClip:
    """Each clip's sources, for ascending clip ids: one cursor over every source in clip
    order, merged with the clip cursor, instead of one query per clip."""

    def __init__(self, db: Database):
        self._cursor = db.execute(
            "SELECT clip_id, url, first_seen, kind, title FROM clip_sources "
            "ORDER BY clip_id, first_seen, id"
        )
        self._pending = self._cursor.fetchone()

    def of(self, clip_id: int) -> list[dict[str, Any]]:
        found = []
        while self._pending is not None and self._pending[0] < clip_id:
            self._pending = self._cursor.fetchone()
        while self._pending is not None and self._pending[0] == clip_id:
            _, url, first_seen, kind, title = self._pending
            found.append({"url": url, "first_seen": first_seen, "kind": kind, "title": title})
            self._pending = self._cursor.fetchone()
        return found

    def close(self) -> None:
        self._cursor.close()


def _fingerprint_json(
    clip_id: int, frames: int, hashes: bytes, times: bytes, variants: bytes
) -> dict[str, Any]:
    if len(hashes) != frames * HASH_BYTES or len(times) != frames * 4 or len(variants) != frames:
        raise BundleError(
            f"the fingerprint of clip {clip_id} is damaged (its lengths disagree with its "
            f"{frames} frames); remove and re-add that clip, then export again"
        )
    codes = np.frombuffer(variants, dtype=np.uint8)
    keep = np.isin(codes, EXPORTED_VARIANTS)
    if keep.any() and not keep.all():
        frames = int(keep.sum())
        hashes = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)[keep].tobytes()
        times = np.frombuffer(times, dtype=_TIMES)[keep].tobytes()
        variants = codes[keep].tobytes()
    return {
        "frames": frames,
        "hashes": base64.b64encode(hashes).decode("ascii"),
        "times": base64.b64encode(times).decode("ascii"),
        "variants": base64.b64encode(variants).decode("ascii"),
    }


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every system can fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    publisher: str
    contact: str | None
    created_at: str
    clips: int


@dataclass(frozen=True)
class _Clip:
    """One validated clip line, ready to store."""

    sha256: str
    kind: str
    duration: float | None
    width: int | None
    height: int | None
    size: int | None
    frames: int
    hashes: bytes
    times: bytes
    variants: bytes
    title: str
    description: str | None
    first_seen: str
    source: str
    verdict_url: str | None
    language: str | None
    tags: list[str]
    claim: str | None
    rating: str | None
    benign: bool
    sources: list[tuple[str, str, str, str | None]]  # (url, first_seen, kind, title)
    unsafe_links: int = 0  # links of the line left out: not web links
    signals: tuple[tuple[str, int, bytes], ...] = ()  # (name, version, data): storage.signals


class _Problem(Exception):
    """What is wrong with one line; the reader adds the file, the line and the advice."""

    def __init__(self, message: str, advice: str | None = None):
        super().__init__(message)
        self.advice = advice


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
    with _Reader(path) as reader:
        header = reader.header()
        label = via or f"bundle from {header.publisher}"
        store = _Store(db, label)
        if in_batches:
            with _Reader(path) as check:
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


class _Reader:
    """Lines of a bundle, bounded in length and (for gzip) in inflated size, with checksum."""

    def __init__(self, path: Path):
        self.path = path
        self.line = 0
        self.publisher: str | None = None
        try:
            self._raw = open(path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115 (closed in close)
        except OSError as exc:
            raise BundleError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
        self._stream: IO[bytes] = self._raw
        self._limit: int | None = None
        self._read = 0
        try:
            if self._raw.peek(2)[:2] == GZIP_MAGIC:
                size = os.fstat(self._raw.fileno()).st_size
                self._limit = INFLATE_ALLOWANCE + MAX_INFLATE_RATIO * size
                self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
        except OSError as exc:
            self._raw.close()
            raise BundleError(f"cannot read bundle {path}: {exc.strerror or exc}") from None

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.close()

    def fail(self, problem: str, advice: str | None = None, line: int | None = None) -> BundleError:
        where = self.line if line is None else line
        at = f", line {where}" if where else ""
        if advice is None:
            who = self.publisher or "whoever sent it"
            advice = f"The file is damaged or was edited: ask {who} for a fresh copy."
        return BundleError(
            f"bundle {self.path.name}{at}: {problem}. Nothing was imported. {advice}"
        )

    def next_line(self) -> bytes | None:
        """The next line (with its LF), or None at the end of the file."""
        try:
            data = self._stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile is an OSError; a cut gzip stream raises EOFError.
            raise self.fail(
                f"the gzip compression is damaged or cut short ({exc})", line=self.line + 1
            ) from None
        if not data:
            return None
        self.line += 1
        if len(data) > MAX_LINE_BYTES:
            raise self.fail(f"the line is longer than the {MAX_LINE_BYTES // 2**20} MiB allowed")
        self._read += len(data)
        if self._limit is not None and self._read > self._limit:
            raise self.fail(
                f"it inflates to more than {MAX_INFLATE_RATIO} times its compressed size, "
                "which no real bundle does (a decompression bomb?)"
            )
        return data

    def parse(self, data: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            if not data.endswith(b"\n"):
                raise self.fail(
                    "the file ends in the middle of this line, so it is incomplete "
                    "(an interrupted copy or download?)",
                    f"Get the whole file again from {self.publisher or 'whoever sent it'}.",
                ) from None
            if isinstance(exc, UnicodeDecodeError):
                raise self.fail("it is not UTF-8 text") from None
            if isinstance(exc, json.JSONDecodeError):
                problem = f"it is not valid JSON ({exc.msg} at character {exc.pos + 1})"
                raise self.fail(problem) from None
            raise self.fail(f"it is not valid JSON ({_short(exc)})") from None
        if not isinstance(obj, dict):
            raise self.fail(f"expected a JSON object, found {_json_type(obj)}")
        return obj

    def header(self) -> _Header:
        data = self.next_line()
        if data is None:
            raise self.fail("the file is empty", _NOT_A_BUNDLE, line=0)
        self.checksum = hashlib.sha256(data)
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise self.fail("it does not start with a bundle header", _NOT_A_BUNDLE) from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise self.fail(
                f'it does not start with a {{"format": "{FORMAT}"}} header', _NOT_A_BUNDLE
            )
        version = obj.get("version")
        if not _is_int(version) or version < 1:
            raise self.fail(f"the header's version {version!r} is not a bundle version")
        if version > VERSION:
            raise self.fail(
                f"it is a version {version} bundle, newer than this oldclip reads "
                f"(up to version {VERSION})",
                "Upgrade oldclip to import it.",
            )
        try:
            publisher = obj.get("publisher")
            if not isinstance(publisher, dict):
                raise _Problem("publisher must be an object with a name")
            name = _publisher_name(publisher.get("name"), "publisher.name", _Problem)
            contact = _publisher_contact(publisher.get("contact"), _Problem)
            self.publisher = name
            created_at = obj.get("created_at")
            if not isinstance(created_at, str) or not _is_datetime(created_at):
                raise _Problem(f"created_at {created_at!r} is not an ISO 8601 date-time")
            algorithm = obj.get("algorithm")
            if algorithm != ALGORITHM:
                raise _Problem(
                    f"its fingerprints were made with algorithm {algorithm!r}, "
                    f"which this oldclip does not use (it uses {ALGORITHM!r})",
                    f"Ask {name} for a bundle of {ALGORITHM} fingerprints, or upgrade oldclip.",
                )
            clips = obj.get("clips")
            if not _is_int(clips) or not 0 <= clips <= MAX_CLIPS:
                raise _Problem(f"clips {clips!r} is not a count of clips")
        except _Problem as exc:
            raise self.fail(f"bad header: {exc}", exc.advice) from None
        return _Header(name, contact, created_at, clips)

    def clips(self, header: _Header) -> Iterator[_Clip]:
        """Each clip line, validated; then the trailer is checked against what was read."""
        count = 0
        while True:
            data = self.next_line()
            if data is None:
                raise self.fail(
                    f"the file ends after {count} of {header.clips} clips without its end line, "
                    "so it is incomplete (an interrupted copy or download?)",
                    f"Get the whole file again from {header.publisher}.",
                    line=self.line,
                )
            obj = self.parse(data)
            if "end" in obj:
                break
            count += 1
            if count > header.clips:
                raise self.fail(f"there are more clip lines than the {header.clips} announced")
            self.checksum.update(data)
            try:
                if b"\\ud" in data or b"\\uD" in data:  # a \ud800 escape: maybe a lone surrogate
                    _check_strings(obj)
                clip = _clip(obj)
            except _Problem as exc:
                raise self.fail(str(exc), exc.advice) from None
            yield clip
        self._trailer(obj, count, header)

    def _trailer(self, obj: dict[str, Any], count: int, header: _Header) -> None:
        if obj.get("end") is not True:
            raise self.fail('the end line must say "end": true')
        if obj.get("clips") != count or count != header.clips:
            raise self.fail(
                f"the end line says {obj.get('clips')!r} clips and the header {header.clips}, "
                f"but the file holds {count}"
            )
        digest = obj.get("sha256")
        if not isinstance(digest, str) or digest.lower() != self.checksum.hexdigest():
            raise self.fail(
                "its checksum does not match its contents, so it was changed or damaged after "
                "it was written"
            )
        end = self.line
        if self.next_line() is not None:
            raise self.fail(f"there is more data after the end line (line {end})")


def _clip(obj: dict[str, Any]) -> _Clip:
    """Validate one clip line; raise _Problem saying which field is wrong and how."""
    sha = obj.get("sha256")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise _Problem(f"sha256 must be 64 hex digits, got {_brief(sha)}")
    kind = obj.get("kind")
    if kind not in ("video", "photo"):
        raise _Problem(f'kind must be "video" or "photo", got {_brief(kind)}')
    duration = obj.get("duration")
    if duration is not None and not (
        isinstance(duration, (int, float))
        and not isinstance(duration, bool)
        and math.isfinite(duration)
        and duration >= 0
    ):
        raise _Problem(f"duration must be a number of seconds >= 0 or null, got {_brief(duration)}")
    measures = [_count(obj, key) for key in ("width", "height", "size")]

    fp = obj.get("fingerprint")
    if not isinstance(fp, dict):
        raise _Problem("fingerprint must be an object with frames, hashes, times and variants")
    frames = fp.get("frames")
    if not _is_int(frames) or frames < 0:
        raise _Problem(f"fingerprint.frames must be a whole number >= 0, got {_brief(frames)}")
    hashes = _bytes(fp, "hashes", frames * HASH_BYTES, f"{frames} frames x {HASH_BYTES}")
    times = _bytes(fp, "times", frames * 4, f"{frames} frames x 4")
    variants = _bytes(fp, "variants", frames, f"{frames} frames x 1")
    t = np.frombuffer(times, dtype=_TIMES)
    if frames and not (t.min() >= 0 and t.max() < np.inf):  # NaN fails both
        raise _Problem("fingerprint.times holds a time that is not a finite number >= 0")
    if unknown := variants.translate(None, _KNOWN_VARIANT_BYTES):
        raise _Problem(f"fingerprint.variants holds an unknown variant code {unknown[0]}")

    try:
        signals = tuple(signals_from_json(obj.get("signals")))
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    if not frames and not signals:  # a flat picture is matched by its other signals only
        raise _Problem("fingerprint.frames is 0 and there are no signals: nothing to match by")

    clip = obj.get("clip")
    if not isinstance(clip, dict):
        raise _Problem("clip must be an object with title, first_seen and source")
    title = _text(clip, "clip.title", required=True)
    first_seen = _date(clip.get("first_seen"), "clip.first_seen")
    source = _text(clip, "clip.source", required=True)
    optional = {
        key: _text(clip, f"clip.{key}")
        for key in ("description", "verdict_url", "language", "claim", "rating")
    }
    tags = clip.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Problem("clip.tags must be a list of strings")
    benign = clip.get("benign", False)
    if not isinstance(benign, bool):
        raise _Problem(f"clip.benign must be true or false, got {_brief(benign)}")

    # A link that is not a web link (javascript:, file:) is left out, not stored: it would
    # be shown to the public as a link.  The rest of the line, and of the bundle, is fine.
    unsafe = 0
    if optional["verdict_url"] is not None and not is_web_url(optional["verdict_url"]):
        optional["verdict_url"], unsafe = None, unsafe + 1
    sources = obj.get("sources", [])
    if not isinstance(sources, list):
        raise _Problem("sources must be a list")
    found = []
    for number, item in enumerate(sources, start=1):
        where = f"sources[{number}]"
        if not isinstance(item, dict):
            raise _Problem(f"{where} must be an object with url, first_seen and kind")
        kind_of = item.get("kind", "publication")
        if kind_of not in SOURCE_KINDS:
            raise _Problem(f"{where}.kind must be one of {', '.join(SOURCE_KINDS)}")
        url = _text(item, f"{where}.url", key="url", required=True)
        if not _is_reference(url):
            unsafe += 1
            continue
        found.append(
            (
                url,
                _date(item.get("first_seen"), f"{where}.first_seen"),
                kind_of,
                _text(item, f"{where}.title", key="title"),
            )
        )
    if not _is_reference(source):
        if not found:
            raise _Problem(
                f"clip.source {_brief(source)} is not a web link and no other source is given"
            )
        unsafe += 1
        source, first_seen = min(found, key=lambda s: s[1])[:2]
    width, height, size = measures
    return _Clip(
        sha256=sha.lower(),
        kind=kind,
        duration=None if duration is None else float(duration),
        width=width,
        height=height,
        size=size,
        frames=frames,
        hashes=hashes,
        times=times,
        variants=variants,
        title=title,
        first_seen=first_seen,
        source=source,
        tags=list(tags),
        benign=benign,
        sources=found,
        unsafe_links=unsafe,
        signals=signals,
        **optional,
    )


class _Store:
    """Writes validated clips: new media with plain inserts, known media through add_clip."""

    def __init__(self, db: Database, via: str):
        self.db, self.via = db, via
        self.now = datetime.now(UTC).isoformat(timespec="seconds")
        self.new = self.merged = self.unchanged = self.unsafe_links = 0
        self.bytes = 0

    def add(self, c: _Clip) -> None:
        self.bytes += len(c.hashes)
        self.unsafe_links += c.unsafe_links
        # New media (the usual case) in one statement; known media return no row.
        row = self.db.execute(
            "INSERT INTO media (sha256, kind, duration, width, height, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id",
            [c.sha256, c.kind, c.duration, c.width, c.height, c.size, self.now],
        ).fetchone()
        if row is not None:
            self._insert(row[0], c)
            self.new += 1
            return
        (media_id,) = self.db.execute(
            "SELECT id FROM media WHERE sha256 = ?", [c.sha256]
        ).fetchone()
        insert_signals(self.db, media_id, c.signals)  # where the library has none of its own
        if self._known(media_id, c):
            self.unchanged += 1
            return
        before = self.db.changes
        self._fingerprint(media_id, c, known_media=True)
        own = next((s for s in c.sources if s[0] == c.source), None)
        clip_id, created = add_clip(
            self.db,
            media_id,
            title=c.title,
            first_seen=c.first_seen,
            source=c.source,
            description=c.description,
            verdict_url=c.verdict_url,
            language=c.language,
            tags=c.tags,
            added_by=self.via,
            claim=c.claim,
            rating=c.rating,
            benign=c.benign,
            source_kind=own[2] if own else "publication",
            source_title=own[3] if own else None,
        )
        for url, first_seen, kind, title in c.sources:
            if url != c.source or first_seen < c.first_seen:
                add_clip_source(
                    self.db, clip_id, url=url, first_seen=first_seen, kind=kind, title=title,
                    via=self.via,
                )  # fmt: skip
        if created:
            self.new += 1
        elif self.db.changes != before:
            self.merged += 1
        else:
            self.unchanged += 1

    def _known(self, media_id: int, c: _Clip) -> bool:
        """Whether the library already knows all the line says, so add_clip would write nothing.

        The test mirrors add_clip's merge exactly (a fingerprint is there; the clip exists; no
        empty field would be filled, no tag or benign flag added; every source is recorded
        with this date or an earlier one; the clip is dated by its earliest source), and is
        what makes importing a known bundle again cheap.
        """
        conn = self.db
        if conn.execute("SELECT 1 FROM fingerprints WHERE media_id = ?", [media_id]).fetchone():
            row = conn.execute(
                "SELECT id, first_seen, description, verdict_url, language, claim, rating, "
                "tags, benign FROM clips WHERE media_id = ? ORDER BY id LIMIT 1",
                [media_id],
            ).fetchone()
        else:
            row = None
        if row is None:
            return False
        clip_id, first_seen, *fields, tags, benign = row
        new = (c.description, c.verdict_url, c.language, c.claim, c.rating)
        if any(have is None and value is not None for have, value in zip(fields, new, strict=True)):
            return False
        if (c.benign and not benign) or (
            c.tags and not set(c.tags) <= set(json.loads(tags or "[]"))
        ):
            return False
        dates = dict(
            conn.execute("SELECT url, first_seen FROM clip_sources WHERE clip_id = ?", [clip_id])
        )
        if not dates or min(dates.values()) < first_seen:
            return False
        wanted = [(c.source, c.first_seen), *((url, date) for url, date, _, _ in c.sources)]
        return all(url in dates and dates[url] <= date for url, date in wanted)

    def _insert(self, media_id: int, c: _Clip) -> None:
        """A clip on media new to the library: the rows add_media + add_clip would write."""
        self._fingerprint(media_id, c, known_media=False)
        insert_signals(self.db, media_id, c.signals)
        # add_clip's merge of the sources, done here: each URL once with its earliest date,
        # the clip's own source first, the clip dated by the earliest (first listed on a tie).
        own = next((s for s in c.sources if s[0] == c.source), None)
        merged: dict[str, list] = {
            c.source: [c.first_seen, *(own[2:] if own else ("publication", None))]
        }
        for url, first_seen, kind, title in c.sources:
            known = merged.setdefault(url, [first_seen, kind, title])
            known[0] = min(known[0], first_seen)
        first_seen, source = c.first_seen, c.source
        for url, (date, _, _) in merged.items():
            if date < first_seen:
                first_seen, source = date, url
        clip_id = self.db.execute(
            "INSERT INTO clips (id, media_id, title, description, first_seen, source, "
            "verdict_url, language, tags, added_by, added_at, claim, rating, benign) "
            f"VALUES ({NEXT_CLIP_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                media_id,
                c.title,
                c.description,
                first_seen,
                source,
                c.verdict_url,
                c.language,
                json.dumps(c.tags, ensure_ascii=False),
                self.via,
                self.now,
                c.claim,
                c.rating,
                int(c.benign),
            ],
        ).fetchone()[0]
        self.db.executemany(
            "INSERT INTO clip_sources (clip_id, url, first_seen, kind, title, via, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (clip_id, url, date, kind, title, self.via, self.now)
                for url, (date, kind, title) in merged.items()
            ],
        )

    def _fingerprint(self, media_id: int, c: _Clip, *, known_media: bool) -> None:
        """The line's fingerprint; media the library knew keep theirs if they have one."""
        keep = " ON CONFLICT DO NOTHING" if known_media else ""
        self.db.execute(
            "INSERT INTO fingerprints (media_id, algorithm, frame_count, hashes, times, "
            f"variants) VALUES (?, ?, ?, ?, ?, ?){keep}",
            [media_id, ALGORITHM, c.frames, c.hashes, c.times, c.variants],
        )

    def compact(self) -> None:
        """After a big import, give the write-ahead log's disk space back, if no reader is in
        the way: with busy_timeout 0 the checkpoint never waits, so no writer waits on it."""
        if self.bytes < 64 * 1024 * 1024 or self.db.in_transaction or self.db.dialect != "sqlite":
            return
        (timeout,) = self.db.execute("PRAGMA busy_timeout").fetchone()
        try:
            self.db.execute("PRAGMA busy_timeout = 0")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # busy: the log is reused and truncated at a later checkpoint
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout)}")


# --- validation helpers -----------------------------------------------------------------------

_NOT_A_BUNDLE = "Is this the right file? Bundles are written by `oldclip export`."


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _brief(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True) if value is not None else "null"
    return text if len(text) <= 40 else text[:37] + "..."


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."


def _utf8(text: str) -> bool:
    """False for strings JSON can carry but UTF-8 cannot (lone surrogates from \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_strings(value: object) -> None:
    """Refuse a line whose strings UTF-8 cannot store (a lone surrogate from "\\ud800")."""
    if isinstance(value, str):
        if not _utf8(value):
            raise _Problem("a string holds an invalid \\u escape (a lone surrogate)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def _count(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is not None and not (_is_int(value) and 0 <= value <= _MAX_INT):
        raise _Problem(f"{key} must be a whole number >= 0 or null, got {_brief(value)}")
    return value


def _bytes(fp: dict[str, Any], key: str, expected: int, layout: str) -> bytes:
    value = fp.get(key)
    if not isinstance(value, str):
        raise _Problem(f"fingerprint.{key} must be a base64 string")
    try:
        data = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _Problem(f"fingerprint.{key} is not valid base64") from None
    if len(data) != expected:
        raise _Problem(f"fingerprint.{key} is {len(data)} bytes, expected {expected} ({layout})")
    return data


def _text(
    obj: dict[str, Any], name: str, *, key: str | None = None, required: bool = False
) -> str | None:
    value = obj.get(key or name.rsplit(".", 1)[-1])
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        wanted = "a non-empty string" if required else "a string or null"
        raise _Problem(f"{name} must be {wanted}, got {_brief(value)}")
    return value


def _is_reference(value: str) -> bool:
    try:
        reference(value, "source")
    except UnsafeURLError:
        return False
    return True


def _date(value: object, name: str) -> str:
    try:
        _check_first_seen(value)  # type: ignore[arg-type]
    except ValueError:
        raise _Problem(f"{name} {_brief(value)} is not a real date written YYYY-MM-DD") from None
    return value  # type: ignore[return-value]


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _publisher_name(value: object, what: str, error: type[Exception] = ValueError) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error(f"{what} must be a non-empty name, e.g. the newsroom's")
    if len(value) > 200 or not _printable(value):
        raise error(f"{what} must be one line of at most 200 printable characters")
    return value.strip()


def _publisher_contact(value: object, error: type[Exception] = ValueError) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 200 or not _printable(value):
        raise error("publisher contact must be one line of at most 200 printable characters")
    return value.strip()


def _printable(text: str) -> bool:
    """No control characters (a name is printed on terminals) and valid UTF-8."""
    return _utf8(text) and not any(unicodedata.category(ch) == "Cc" for ch in text)
