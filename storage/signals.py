"""The stored data of the signals other than PDQ (table ``media_signals``, migration 11).

Each row is one signal's blob for one media item, written by the signal's own ``dumps`` and
read by its ``loads`` (``fingerprint.signal``), with the signal's version at extraction.  What
cannot be used is left out when read, never an error: a signal this oldclip does not know
(written by a newer one), data of another version (extracted before the signal changed), or a
damaged blob (logged).  Matching then goes on with the signals that remain, as it did before
the signal existed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fingerprint import signal
from fingerprint.types import PDQ

from .engine import Database

log = logging.getLogger(__name__)


def stored_signal_names() -> list[str]:
    """The registered signals whose data live in ``media_signals`` (all but PDQ)."""
    return [name for name in signal.PLUGINS if name != PDQ]


def store_signals(db: Database, media_id: int, signals: Mapping[str, object]) -> list[str]:
    """Store the data of each signal (replacing what was stored: the same file, extracted
    again); returns the names stored.  A signal whose data cannot be written is skipped with a
    warning."""
    stored = []
    for name, data in signals.items():
        if name == PDQ or name not in signal.PLUGINS:
            continue
        plugin = signal.get(name)
        try:
            blob = plugin.dumps(data)
        except Exception as exc:  # noqa: BLE001 - one signal's bug must not lose the media
            log.warning("media %s: signal %s not stored: %s", media_id, name, exc)
            continue
        db.execute(
            "INSERT INTO media_signals (media_id, signal, version, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (media_id, signal) DO UPDATE SET version = excluded.version, "
            "data = excluded.data",
            [media_id, name, plugin.version, blob],
        )
        stored.append(name)
    return stored


def load_signals(db: Database, media_id: int) -> dict[str, object]:
    """The usable signal data of one media item, by signal name."""
    rows = db.execute(
        "SELECT signal, version, data FROM media_signals WHERE media_id = ?", [media_id]
    )
    found = {}
    for name, version, blob in rows:
        data = _decoded(media_id, name, version, blob)
        if data is not None:
            found[name] = data
    return found


def signals_of(db: Database, media_ids: list[int]) -> dict[int, dict[str, object]]:
    """``load_signals`` of many media at once (in batches), for media that have any."""
    found: dict[int, dict[str, object]] = {}
    for start in range(0, len(media_ids), 500):
        chunk = media_ids[start : start + 500]
        rows = db.execute(
            "SELECT media_id, signal, version, data FROM media_signals "
            f"WHERE media_id IN ({', '.join('?' for _ in chunk)})",
            chunk,
        )
        for media_id, name, version, blob in rows:
            data = _decoded(media_id, name, version, blob)
            if data is not None:
                found.setdefault(int(media_id), {})[name] = data
    return found


def iter_signal_rows(db: Database, name: str) -> Iterator[tuple[int, object]]:
    """(media id, data) of every media item with usable data of signal ``name``, by id."""
    if name not in signal.PLUGINS:
        return
    version = signal.get(name).version
    rows = db.stream(
        "SELECT media_id, data FROM media_signals WHERE signal = ? AND version = ? "
        "ORDER BY media_id",
        [name, version],
        batch=20,  # a local-feature row is ~150 KB
    )
    for media_id, blob in rows:
        data = _decoded(media_id, name, version, blob)
        if data is not None:
            yield int(media_id), data


def signal_media_ids(db: Database, name: str) -> set[int]:
    """Media with data of signal ``name`` at its current version (none if it is unknown)."""
    if name not in signal.PLUGINS:
        return set()
    rows = db.execute(
        "SELECT media_id FROM media_signals WHERE signal = ? AND version = ?",
        [name, signal.get(name).version],
    )
    return {int(m) for (m,) in rows}


def media_missing_signals(db: Database, names: Iterable[str]) -> list[tuple[int, str, list[str]]]:
    """(media id, kept file, names missing) of media whose file is kept (``media.path``) and
    that lack data of one of ``names`` at its current version: what ``refingerprint`` does."""
    names = [n for n in names if n in signal.PLUGINS and n != PDQ]
    if not names:
        return []
    have: dict[int, set[str]] = {}
    for name in names:
        for media_id in signal_media_ids(db, name):
            have.setdefault(media_id, set()).add(name)
    found = []
    for media_id, path in db.execute(
        "SELECT id, path FROM media WHERE path IS NOT NULL AND path != '' ORDER BY id"
    ):
        missing = [n for n in names if n not in have.get(media_id, ())]
        if missing:
            found.append((int(media_id), str(path), missing))
    return found


def _decoded(media_id: int, name: str, version: int, blob: bytes) -> object | None:
    if name not in signal.PLUGINS:
        return None  # written by an oldclip that knew a signal this one does not
    plugin = signal.get(name)
    if version != plugin.version:
        return None  # extracted before the signal changed meaning: refingerprint renews it
    try:
        return plugin.loads(bytes(blob))
    except ValueError as exc:
        log.warning(
            "media %s: stored %s data is damaged (%s): ignored, it matches by its other signals",
            media_id,
            name,
            exc,
        )
        return None


# --- in bundles (storage.bundle) --------------------------------------------------------------

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def signals_json(db: Database, media_id: int, room: int) -> tuple[dict[str, dict[str, Any]], int]:
    """A clip line's ``signals`` object, ``{name: {"version": int, "data": base64}}``, within
    ``room`` bytes of JSON; and how many signals did not fit.

    The smallest go first: a bundle line has a size limit that a long video's local features
    can pass (about 6-9 KB a second), and a clip without one signal still matches by the
    others, while a line over the limit would make the whole bundle unreadable.
    """
    rows = db.execute(
        "SELECT signal, version, data FROM media_signals WHERE media_id = ? "
        "ORDER BY length(data), signal",
        [media_id],
    )
    found, left_out = {}, 0
    for name, version, blob in rows:
        item = {"version": version, "data": base64.b64encode(bytes(blob)).decode("ascii")}
        size = len(name) + len(item["data"]) + 40  # the JSON around them
        if size > room:
            left_out += 1
            continue
        found[name], room = item, room - size
    return dict(sorted(found.items())), left_out


def signals_from_json(value: object) -> list[tuple[str, int, bytes]]:
    """The (name, version, blob) a clip line's ``signals`` carries that this oldclip can use.

    Signals it does not know, or of another version, are left out (they would be ignored when
    read); a known one whose data its ``loads`` refuses is an error (ValueError saying which),
    like any other damaged field of a bundle.
    """
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ValueError("signals must be an object of {name: {version, data}}")
    found = []
    for name, item in value.items():
        if not isinstance(item, dict) or not _NAME.fullmatch(name):
            raise ValueError(f"signals.{name[:40]!r} must be an object with version and data")
        version, text = item.get("version"), item.get("data")
        if type(version) is not int or not isinstance(text, str):
            raise ValueError(f"signals.{name} needs a whole-number version and base64 data")
        if name == PDQ or name not in signal.PLUGINS or version != signal.get(name).version:
            continue
        try:
            blob = binascii.a2b_base64(text, strict_mode=True)
            signal.get(name).loads(blob)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"signals.{name} is damaged: {exc}") from None
        found.append((name, version, blob))
    return found


def insert_signals(db: Database, media_id: int, rows: Iterable[tuple[str, int, bytes]]) -> None:
    """Add a bundle's signal data where the library has none (its own extraction wins)."""
    db.executemany(
        "INSERT INTO media_signals (media_id, signal, version, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [(media_id, name, version, blob) for name, version, blob in rows],
    )
