"""A HashIndex saved to one file, so a command does not rebuild it from the database each time.

Layout: an 8-byte magic, the length of a JSON header, the header (row and media counts, CRC-32
checksums, and the caller's ``meta``), then, 64-byte aligned, the media ids and first rows
(int64 each) and the codes (rows x 32 bytes).  The codes are memory-mapped, not read: several
processes share one copy in the page cache, and opening costs a checksum pass instead of a
rebuild.

A file is never trusted blindly: a short file, a wrong magic or format, inconsistent counts or
a checksum that does not match raise ``IndexFileError`` and the caller rebuilds.  Saving
writes a temporary file beside the target, syncs it and renames it over the target, so readers
see the old file or the new one, never half of one; a process that has the old one mapped
keeps reading it.  The folder is not synced: the file is a cache, so a crash that loses the
rename costs one rebuild, and a file that did not reach the disk whole fails its checksum.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .index import HashIndex
from .types import HASH_BYTES

MAGIC = b"OCHIDX\x00\x01"  # oldclip hash index, file format 1
ALIGN = 64
CRC_STEP = 1 << 26  # checksum the codes 64 MB at a time


class IndexFileError(ValueError):
    """The saved index cannot be used (truncated, corrupt, another format): rebuild it."""


def save_index(path: str | Path, index: HashIndex, meta: dict) -> None:
    """Write ``index`` (its live media only) and ``meta`` to ``path``, atomically."""
    path = Path(path)
    codes, starts, media = index.live_arrays()
    table = media.astype("<i8").tobytes() + starts.astype("<i8").tobytes()
    header = json.dumps(
        {
            "rows": len(codes),
            "media": len(media),
            "crc_table": zlib.crc32(table),
            "crc_codes": _crc(codes),
            "meta": meta,
        }
    ).encode()
    head = MAGIC + struct.pack("<I", len(header)) + header
    head += b"\0" * (-len(head) % ALIGN)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as fh:
            fh.write(head)
            fh.write(table)
            fh.write(b"\0" * (-len(table) % ALIGN))
            fh.write(np.ascontiguousarray(codes).data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_index(path: str | Path) -> tuple[HashIndex, dict] | None:
    """(index, meta) from ``path``; None if there is no such file.

    Raises ``IndexFileError`` saying what is wrong when the file cannot be trusted.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            start = fh.read(len(MAGIC) + 4)
            if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
                raise IndexFileError("not an oldclip index file of this version")
            (length,) = struct.unpack("<I", start[len(MAGIC) :])
            raw = fh.read(length)
            try:
                header = json.loads(raw)
                rows, count = int(header["rows"]), int(header["media"])
                meta = dict(header["meta"])
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexFileError(f"unreadable header ({exc})") from None
            offset = _aligned(len(MAGIC) + 4 + length)
            table_bytes = 16 * count
            fh.seek(offset)
            table = fh.read(table_bytes)
    except FileNotFoundError:
        return None
    codes_at = _aligned(offset + table_bytes)
    if rows < 0 or count < 0 or size != codes_at + rows * HASH_BYTES:
        raise IndexFileError(f"{size} bytes where the header promises a different size")
    if zlib.crc32(table) != header.get("crc_table"):
        raise IndexFileError("checksum mismatch in the media table")
    media = np.frombuffer(table[: 8 * count], dtype="<i8").astype(np.int64)
    starts = np.frombuffer(table[8 * count :], dtype="<i8").astype(np.int64)
    if count and (
        starts[0] != 0
        or (np.diff(starts) <= 0).any()
        or starts[-1] >= rows
        or len(np.unique(media)) != count
    ):
        raise IndexFileError("inconsistent media table")
    codes = (
        np.memmap(path, dtype=np.uint8, mode="r", offset=codes_at, shape=(rows, HASH_BYTES))
        if rows
        else np.zeros((0, HASH_BYTES), dtype=np.uint8)
    )
    if _crc(codes) != header.get("crc_codes"):
        raise IndexFileError("checksum mismatch in the hashes")
    return HashIndex.from_arrays(codes, starts, media), meta


def _crc(codes: np.ndarray) -> int:
    flat = np.asarray(codes).reshape(-1)
    crc = 0
    for start in range(0, len(flat), CRC_STEP):
        crc = zlib.crc32(flat[start : start + CRC_STEP], crc)
    return crc


def _aligned(offset: int) -> int:
    return offset + (-offset % ALIGN)
