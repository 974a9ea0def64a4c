"""Checks of the ids callers pass to the bot's tables, shared by the modules that own them
(storage.botusers, .deliveries, .feedback, .questions, .botshared), so that each refuses a bad
id with the same one-line message before it reaches SQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .engine import Database


def telegram_id(name: str, value: Any) -> int:
    """Telegram ids are ints (chat ids of groups are negative); refuse anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer Telegram id, got {value!r}")
    return value


def id_list(name: str, values: Iterable[int]) -> list[int]:
    """Distinct integer ids in the order given (a bare int or string is refused)."""
    if isinstance(values, int | str):
        raise TypeError(f"{name} must be a list of integer ids, not a single value")
    ids = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must hold integer ids, got {value!r}")
        ids.append(value)
    return list(dict.fromkeys(ids))


def require_alert(db: Database, outbox_id: int) -> None:
    """Raise ValueError unless the outbox holds this alert."""
    if db.execute("SELECT 1 FROM outbox WHERE id = ?", [outbox_id]).fetchone() is None:
        raise ValueError(f"no alert with outbox id {outbox_id}")


def require_media(db: Database, media_id: int) -> None:
    """Raise ValueError unless this media is stored (its clip may have been removed)."""
    if db.execute("SELECT 1 FROM media WHERE id = ?", [media_id]).fetchone() is None:
        raise ValueError(f"no media with id {media_id} (was its clip removed?)")
