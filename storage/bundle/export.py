"""Writing a library's fingerprinted clips to a bundle file (see storage.bundle for the format)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from fingerprint.types import ALGORITHM, HASH_BYTES

from ..engine import Database
from ..signals import signals_json
from . import spec
from .spec import (
    EXPORTED_VARIANTS,
    FORMAT,
    TIMES,
    VERSION,
    BundleError,
    publisher_contact,
    publisher_name,
)

_WRITE_BUFFER = 1024 * 1024
GZIP_LEVEL = 6


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
    publisher = publisher_name(publisher, "publisher")
    contact = publisher_contact(contact)
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
    rows = db.stream(
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
        room = spec.MAX_LINE_BYTES - len(json.dumps(line, ensure_ascii=False).encode()) - 64
        extra, left_out = signals_json(db, media_id, room)
        signals_left_out += left_out
        if extra:
            line["signals"] = extra
        write(line)
        written += 1
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
        self._rows = db.stream(
            "SELECT clip_id, url, first_seen, kind, title FROM clip_sources "
            "ORDER BY clip_id, first_seen, id"
        )
        self._pending = next(self._rows, None)

    def of(self, clip_id: int) -> list[dict[str, Any]]:
        found = []
        while self._pending is not None and self._pending[0] < clip_id:
            self._pending = next(self._rows, None)
        while self._pending is not None and self._pending[0] == clip_id:
            _, url, first_seen, kind, title = self._pending
            found.append({"url": url, "first_seen": first_seen, "kind": kind, "title": title})
            self._pending = next(self._rows, None)
        return found

    def close(self) -> None:
        self._rows.close()


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
        times = np.frombuffer(times, dtype=TIMES)[keep].tobytes()
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
