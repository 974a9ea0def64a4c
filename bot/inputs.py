"""Strict parsing of what people type and what their clients send: ids, buttons, scores, names.

Everything here comes from outside (a command's arguments, a button's callback data, a file name
chosen by whoever sent the document), so each parser accepts one plain form and answers None
for anything else; the handler then tells the person what to send.  Python's own conversions are
too lenient for that: ``int()`` takes "²" and "١٢", ``float()`` takes "nan" and "inf", and an
id past SQLite's signed 64-bit range overflows in the database driver.
"""

from __future__ import annotations

import math
import mimetypes
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_SQLITE_INT = 2**63 - 1
ID_RE = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also accepts "²"
BUTTON_RE = re.compile(r"(?:lang:(?P<lang>[a-z]{2,3})|fb:(?P<alert>[0-9]{1,19}):(?P<code>[a-z]))")
NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_STEM = 60

# What a media file sent as a document may be called on disk (anything else gets no extension).
MEDIA_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".mpg", ".mpeg", ".ts", ".flv"}
    | {".gif", ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".heic"}
)


def parse_id(text: str | None) -> int | None:
    """A database id typed by a person: ASCII digits (an optional leading '#'), 1..2**63-1."""
    raw = (text or "").strip().removeprefix("#")
    if not ID_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_SQLITE_INT else None


def parse_score(text: str) -> float | None:
    """A score threshold such as ``0.6``: a finite number from 0 to 1, else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


@dataclass(frozen=True)
class Button:
    """A pressed inline button, parsed: ``kind`` is "lang" (``value`` a language code) or
    "fb" (``alert_id`` and the one-letter verdict ``value``)."""

    kind: str
    value: str
    alert_id: int | None = None


def parse_button(data: object) -> Button | None:
    """The button behind callback data, or None when the data is missing or not one of ours.

    Callback data comes from clients and may be anything (or nothing at all, for a game
    button); only the exact shapes the bot itself puts on buttons are accepted.
    """
    if not isinstance(data, str):
        return None
    match = BUTTON_RE.fullmatch(data)
    if match is None:
        return None
    if match["lang"]:
        return Button("lang", match["lang"])
    alert_id = parse_id(match["alert"])
    return Button("fb", match["code"], alert_id) if alert_id is not None else None


def safe_file_name(name: str | None, mime_type: str | None = None, default: str = "file") -> str:
    """A name that is safe to join to a folder, for a file named by a stranger.

    No separators, NUL, dots-only names or control characters survive: the stem keeps only
    ASCII letters, digits, '_' and '-', and the extension is kept only when it is a media one
    (from the name, else from the MIME type).  ``..``, ``.``, ``a\\0b.mp4`` and
    ``../../etc/passwd`` all become plain names inside the folder.
    """
    base = (name or "").replace("\\", "/").replace("\0", "")
    last = PurePosixPath(base).name if base else ""
    stem, dot, suffix = last.rpartition(".")
    if not dot:
        stem, suffix = last, ""
    extension = f".{suffix.lower()}" if suffix else ""
    if extension not in MEDIA_EXTENSIONS:
        guessed = mimetypes.guess_extension(mime_type or "") or ""
        extension = guessed if guessed in MEDIA_EXTENSIONS else ""
    clean = NAME_RE.sub("_", stem).strip("_-")[:MAX_STEM]
    return (clean or default) + extension
