"""The bundle format's constants and the publisher fields that export and import both check."""

from __future__ import annotations

import unicodedata

import numpy as np

from fingerprint.types import INDEXED_VARIANTS, VARIANT_DENSE

from ..errors import StorageError

FORMAT = "oldclip-bundle"
VERSION = 1
MAX_LINE_BYTES = 32 * 1024 * 1024  # a 3-hour video's fingerprint is about 5 MB of base64
# The stored variants matching reads (see storage.bundle's docstring); the others stay home.
EXPORTED_VARIANTS = tuple(sorted(INDEXED_VARIANTS))
KNOWN_VARIANTS = VARIANT_DENSE  # codes 0..5 exist
TIMES = np.dtype("<f4")


class BundleError(StorageError):
    """A bundle cannot be written or imported; the message says where, what and what to do."""


def publisher_name(value: object, what: str, error: type[Exception] = ValueError) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error(f"{what} must be a non-empty name, e.g. the newsroom's")
    if len(value) > 200 or not printable(value):
        raise error(f"{what} must be one line of at most 200 printable characters")
    return value.strip()


def publisher_contact(value: object, error: type[Exception] = ValueError) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 200 or not printable(value):
        raise error("publisher contact must be one line of at most 200 printable characters")
    return value.strip()


def printable(text: str) -> bool:
    """No control characters (a name is printed on terminals) and valid UTF-8."""
    return utf8(text) and not any(unicodedata.category(ch) == "Cc" for ch in text)


def utf8(text: str) -> bool:
    """False for strings JSON can carry but UTF-8 cannot (lone surrogates from \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
