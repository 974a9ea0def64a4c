"""Indexes saved to files, so a command does not rebuild them from the database each time.

One file holds named arrays and the caller's ``meta``.  Layout: an 8-byte magic, the length of
a JSON header, the header (each array's name, dtype, shape and checksum, and ``meta``), then
each array, 64-byte aligned, in the header's order.  Arrays are memory-mapped, not read:
several processes share one copy in the page cache, and opening costs a checksum pass (the
first time only, see below) instead of a rebuild.  The checksum is the sum of the array's
64-bit words (modulo 2**64): it catches what a damaged file holds (a changed byte, a zeroed
block) at memory speed, ~7 GB/s here, where CRC-32 (format 2) ran at ~1 GB/s, a second of
every `check` at 1M frame hashes, whose local-feature index holds ~25M descriptors (~1 GB).
Files of format 2 are stale caches: rebuilt, quietly.  The PDQ search index (``HashIndex``:
its codes, first rows and media ids) is one such file; every other signal's index is another
(``SignalIndex.to_arrays``).

A file is never trusted blindly: a short file, a wrong magic or format, inconsistent sizes or
a checksum that does not match raise ``IndexFileError`` and the caller rebuilds.  The header,
format and sizes are checked at every open; the sums (a pass over every byte: 0.15 CPU s of
every `check` at 25M descriptors, and the page faults of mapping all of it) once per file: a
file whose sums matched gets a stamp beside it (``.<name>.checked``: device, inode, size,
mtime and ctime, from the open file), and a file whose stamp still matches is not summed
again.  A signal's index checks what its arrays say (the orb index: every id a row, 0.09-0.12
CPU s at 25M descriptors) before its file is stamped (``open_arrays``), and not again after.
Any write to the file, or a new file renamed over it, moves its ctime (which no user can set
back) or its inode; a file changed less than ``SETTLED_S`` before it was summed is not
stamped (ctime ticks are coarse: a write within the same tick would keep it), so it is summed
again next time.  What the stamp does not cover is damage no write makes (a disk returning
other bytes after the check): left to the disk's own checks, as for the database beside it.

Saving writes a temporary file beside the target, syncs it and renames it over the target, so
readers see the old file or the new one, never half of one; a process that has the old one
mapped keeps reading it.  The folder is not synced: the file is a cache, so a crash that loses the
rename costs one rebuild, and a file that did not reach the disk whole fails its checksum
(its stamp, if any, is of the file before: another inode).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .index import HashIndex
from .types import HASH_BYTES

MAGIC = b"OCHIDX\x00\x03"  # oldclip index, file format 3 (named arrays, 64-bit sums)
OLDER = (b"OCHIDX\x00\x02",)  # formats of earlier versions: caches to rebuild, not damage
ALIGN = 64
SUM_STEP = 1 << 24  # words summed at a time (128 MB): no copy of the whole array
DTYPES = ("|u1", "<u2", "<u4", "<i4", "<i8", "<f4")  # what an array may hold (no objects)
SETTLED_S = 2.0  # a file changed this recently when summed is not stamped (see the docstring)


class IndexFileError(ValueError):
    """The saved index cannot be used (truncated, corrupt, another format): rebuild it."""


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and ``meta`` to ``path``, atomically."""
    path = Path(path)
    stored = {name: _portable(array) for name, array in arrays.items()}
    header = json.dumps(
        {
            "arrays": [[name, a.dtype.str, list(a.shape), _sum(a)] for name, a in stored.items()],
            "meta": meta,
        }
    ).encode()
    head = MAGIC + struct.pack("<I", len(header)) + header
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as fh:
            fh.write(head)
            written = len(head)
            for array in stored.values():
                fh.write(b"\0" * (-written % ALIGN))
                written += -written % ALIGN
                fh.write(array.data)
                written += array.nbytes
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict] | None:
    """(arrays, meta) from ``path``, memory-mapped and checked; None if there is no such file
    or one an earlier version of oldclip saved.

    Raises ``IndexFileError`` saying what is wrong when the file cannot be trusted.
    """
    opened = open_arrays(path, vouches="sums")
    if opened is None:
        return None
    opened.mark_checked()
    return opened.arrays, opened.meta


@dataclass(frozen=True)
class Opened:
    """A file's arrays (memory-mapped) and meta, its header and sizes checked, and its sums
    unless ``checked``: the file was checked whole before (its stamp matched).  The caller
    checks what the arrays say (an index's ids all rows...) when not ``checked``, then marks
    the file checked: the stamp vouches for the sums and for the caller's checks, so neither
    reads every byte again at the next open."""

    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict
    checked: bool
    status: os.stat_result
    vouches: str  # what the stamp says was checked (``open_arrays``)

    def mark_checked(self) -> None:
        """Stamp the file as checked whole (when it was not already, and has settled)."""
        if not self.checked:
            _write_stamp(self.path, self.status, self.vouches)


def open_arrays(path: str | Path, vouches: str) -> Opened | None:
    """The arrays and meta of ``path``, summed unless its stamp says they were (``Opened``);
    None if there is no such file or one an earlier version of oldclip saved.

    ``vouches`` names what a stamp of the caller's covers ("sums"; a signal's index: "rows",
    its sums and its own checks of what the arrays say): a stamp written for less (by another
    caller, or by a release whose stamps covered the sums alone) does not spare the checks.

    Raises ``IndexFileError`` saying what is wrong when the file cannot be trusted.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below; the map outlives it)
    except FileNotFoundError:
        return None
    with fh:
        # Header, size and arrays all from this one open file: another process may rename a
        # new file over ``path`` meanwhile, and arrays mapped by path could come from it.
        status = os.fstat(fh.fileno())
        size = status.st_size
        start = fh.read(len(MAGIC) + 4)
        if start[: len(MAGIC)] in OLDER:
            return None
        if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
            raise IndexFileError("not an oldclip index file of this version")
        (length,) = struct.unpack("<I", start[len(MAGIC) :])
        raw = fh.read(length)
        checked = _stamp(status, vouches) == _read_stamp(path)
        arrays, meta = _checked(fh, size, raw, len(MAGIC) + 4 + length, not checked)
    return Opened(Path(path), arrays, meta, checked, status, vouches)


def _stamp(status: os.stat_result, vouches: str) -> list[int | str]:
    """What changes whenever a file's bytes do (or another file takes its name), after what
    the stamp vouches for."""
    return [
        vouches,
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    ]


def _stamp_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.checked")


def _read_stamp(path: str | Path) -> list[int | str] | None:
    """The stamp of the file at ``path`` when its sums last matched; None if there is none."""
    try:
        stamp = json.loads(_stamp_path(path).read_bytes())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, list) else None


def _write_stamp(path: str | Path, status: os.stat_result, vouches: str) -> None:
    """Record that the file ``status`` describes (just opened from ``path``) matched its sums,
    when it has not changed for ``SETTLED_S`` and still is the file at ``path``.  Atomically;
    a folder that cannot be written to only costs the next open a pass over the sums."""
    settled = time.time_ns() - max(status.st_mtime_ns, status.st_ctime_ns) > SETTLED_S * 1e9
    target = _stamp_path(path)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        if settled and _stamp(os.stat(path), vouches) == _stamp(status, vouches):
            temporary.write_text(json.dumps(_stamp(status, vouches)))
            os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _checked(
    fh, size: int, raw: bytes, offset: int, summed: bool = True
) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays the header ``raw`` describes, mapped from the open file ``fh`` (``size``
    bytes; the arrays start at ``offset``), each checked against its sum when ``summed``."""
    try:
        header = json.loads(raw)
        meta = dict(header["meta"])
        layout = [
            (str(name), np.dtype(dtype), tuple(int(n) for n in shape), crc)
            for name, dtype, shape, crc in header["arrays"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFileError(f"unreadable header ({exc})") from None
    places = []
    for name, dtype, shape, _ in layout:
        if dtype.str not in DTYPES or any(n < 0 for n in shape):
            raise IndexFileError(f"array {name} of an unknown type or shape")
        offset += -offset % ALIGN
        places.append(offset)
        offset += dtype.itemsize * math.prod(shape)  # Python ints: a huge shape cannot wrap
    if size != offset:
        raise IndexFileError(f"{size} bytes where the header promises {offset}")
    arrays = {}
    for (name, dtype, shape, checksum), at in zip(layout, places, strict=True):
        array = (
            np.memmap(fh, dtype=dtype, mode="r", offset=at, shape=shape)
            if math.prod(shape)
            else np.zeros(shape, dtype)
        )
        if summed and _sum(array) != checksum:
            raise IndexFileError(f"checksum mismatch in {name}")
        arrays[name] = array
    return arrays, meta


def save_index(path: str | Path, index: HashIndex, meta: dict) -> None:
    """Write the PDQ search index (its live media only) and ``meta`` to ``path``."""
    codes, starts, media = index.live_arrays()
    save_arrays(path, {"media": media, "starts": starts, "codes": codes}, meta)


def load_index(path: str | Path) -> tuple[HashIndex, dict] | None:
    """(PDQ search index, meta) from ``path``; None if there is no such file.

    Raises ``IndexFileError`` when the file cannot be trusted or is not a search index.
    """
    loaded = load_arrays(path)
    if loaded is None:
        return None
    arrays, meta = loaded
    try:
        media, starts, codes = (arrays[k] for k in ("media", "starts", "codes"))
    except KeyError:
        raise IndexFileError("not a search index") from None
    rows, count = len(codes), len(media)
    if codes.ndim != 2 or codes.shape[1] != HASH_BYTES or starts.shape != media.shape:
        raise IndexFileError("not a search index")
    if count and (
        starts[0] != 0
        or (np.diff(starts) <= 0).any()
        or starts[-1] >= rows
        or len(np.unique(media)) != count
    ):
        raise IndexFileError("inconsistent media table")
    media, starts = np.asarray(media, np.int64), np.asarray(starts, np.int64)
    # A plain view of the map (no copy): slicing a np.memmap costs ~6 us more a slice, 0.02
    # CPU s of every `check` over the 5,000 media of a 1M-hash library (``IndexSet.build``).
    return HashIndex.from_arrays(np.asarray(codes), starts, media), meta


def _portable(array: np.ndarray) -> np.ndarray:
    """``array`` as contiguous little-endian data of a type a file may hold."""
    array = np.ascontiguousarray(array)
    little = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    array = array.astype(little, copy=False)
    if array.dtype.str not in DTYPES:
        raise TypeError(f"cannot save an array of {array.dtype}")
    return array


def _sum(array: np.ndarray) -> int:
    """The sum of ``array``'s bytes read as little-endian 64-bit words (the last one padded
    with zeros), modulo 2**64."""
    flat = np.asarray(array).reshape(-1).view(np.uint8)
    whole = len(flat) // 8 * 8
    words = flat[:whole].view("<u8")
    total = np.uint64(0)
    with np.errstate(over="ignore"):
        for start in range(0, len(words), SUM_STEP):
            total += np.add.reduce(words[start : start + SUM_STEP], dtype=np.uint64)
        tail = np.zeros(8, np.uint8)
        tail[: len(flat) - whole] = flat[whole:]
        total += tail.view("<u8")[0]
    return int(total)
