"""What the bot needs from the rest of oldclip, as plain values and one small protocol.

The bot never imports the watchers or the library service: ``oldclip run`` hands it a
``Checker`` (fingerprint a file, match it, say what is known) and the database, and the bot
meets the watchers only in the database's outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Finding:
    """One known item a checked file matches, with what a person needs to judge it."""

    media_id: int
    score: float
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    frames: int
    mirrored: bool
    best_pair: tuple[float, float]  # (query second, library second) of the closest frames
    clip_id: int | None = None
    title: str | None = None
    description: str | None = None
    first_seen: str | None = None  # the clip's first publication, or the earliest sighting
    source: str | None = None
    verdict_url: str | None = None
    ref_path: str | None = None  # a copy of the library's media, for the evidence picture


@dataclass(frozen=True)
class CheckOutcome:
    findings: list[Finding]
    library_size: int
    media_id: int | None = None  # the checked file as stored (to tell the asker later)
    notes: list[str] = field(default_factory=list)


class Checker(Protocol):
    async def check(self, path: Path, *, keep: bool) -> CheckOutcome:
        """Fingerprint and match a file; ``keep`` stores it so later clips can be matched."""
        ...
