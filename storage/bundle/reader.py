"""Reading a bundle file: its lines (bounded, gzip or not), header, clip lines and trailer."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fingerprint.types import ALGORITHM

from . import spec
from .spec import FORMAT, VERSION, BundleError, publisher_contact, publisher_name
from .validate import (
    ClipLine,
    Problem,
    check_strings,
    is_datetime,
    is_int,
    json_type,
    no_constant,
    parse_clip,
    short,
)

MAX_CLIPS = 100_000_000
# A gzip bundle may inflate to this many times its size (plus the allowance): bundles are
# mostly base64 of random-looking hashes, which compresses by well under 2:1, so anything
# far beyond is a decompression bomb.
MAX_INFLATE_RATIO = 20
INFLATE_ALLOWANCE = 256 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_READ_BUFFER = 1024 * 1024
NOT_A_BUNDLE = "Is this the right file? Bundles are written by `oldclip export`."


@dataclass(frozen=True)
class Header:
    publisher: str
    contact: str | None
    created_at: str
    clips: int


class Reader:
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

    def __enter__(self) -> Reader:
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
            data = self._stream.readline(spec.MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile is an OSError; a cut gzip stream raises EOFError.
            raise self.fail(
                f"the gzip compression is damaged or cut short ({exc})", line=self.line + 1
            ) from None
        if not data:
            return None
        self.line += 1
        if len(data) > spec.MAX_LINE_BYTES:
            raise self.fail(
                f"the line is longer than the {spec.MAX_LINE_BYTES // 2**20} MiB allowed"
            )
        self._read += len(data)
        if self._limit is not None and self._read > self._limit:
            raise self.fail(
                f"it inflates to more than {MAX_INFLATE_RATIO} times its compressed size, "
                "which no real bundle does (a decompression bomb?)"
            )
        return data

    def parse(self, data: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=no_constant)
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
            raise self.fail(f"it is not valid JSON ({short(exc)})") from None
        if not isinstance(obj, dict):
            raise self.fail(f"expected a JSON object, found {json_type(obj)}")
        return obj

    def header(self) -> Header:
        data = self.next_line()
        if data is None:
            raise self.fail("the file is empty", NOT_A_BUNDLE, line=0)
        self.checksum = hashlib.sha256(data)
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=no_constant)
        except (ValueError, RecursionError):
            raise self.fail("it does not start with a bundle header", NOT_A_BUNDLE) from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise self.fail(
                f'it does not start with a {{"format": "{FORMAT}"}} header', NOT_A_BUNDLE
            )
        version = obj.get("version")
        if not is_int(version) or version < 1:
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
                raise Problem("publisher must be an object with a name")
            name = publisher_name(publisher.get("name"), "publisher.name", Problem)
            contact = publisher_contact(publisher.get("contact"), Problem)
            self.publisher = name
            created_at = obj.get("created_at")
            if not isinstance(created_at, str) or not is_datetime(created_at):
                raise Problem(f"created_at {created_at!r} is not an ISO 8601 date-time")
            algorithm = obj.get("algorithm")
            if algorithm != ALGORITHM:
                raise Problem(
                    f"its fingerprints were made with algorithm {algorithm!r}, "
                    f"which this oldclip does not use (it uses {ALGORITHM!r})",
                    f"Ask {name} for a bundle of {ALGORITHM} fingerprints, or upgrade oldclip.",
                )
            clips = obj.get("clips")
            if not is_int(clips) or not 0 <= clips <= MAX_CLIPS:
                raise Problem(f"clips {clips!r} is not a count of clips")
        except Problem as exc:
            raise self.fail(f"bad header: {exc}", exc.advice) from None
        return Header(name, contact, created_at, clips)

    def clips(self, header: Header) -> Iterator[ClipLine]:
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
                    check_strings(obj)
                clip = parse_clip(obj)
            except Problem as exc:
                raise self.fail(str(exc), exc.advice) from None
            yield clip
        self._trailer(obj, count, header)

    def _trailer(self, obj: dict[str, Any], count: int, header: Header) -> None:
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
