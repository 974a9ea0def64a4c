"""What the bot needs from the rest of oldclip, as plain values and one small protocol.

The bot never imports the watchers or the library service: ``oldclip run`` hands it a
``Checker`` (fingerprint a file, match it, say what is known) and the database, and the bot
meets the watchers only in the database's outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from storage import Feed, Question


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
    rating: str | None = None  # an existing fact-check's verdict, e.g. "Misleading"
    claim: str | None = None  # the false claim that fact-check reviewed
    ref_path: str | None = None  # a copy of the library's media, for the evidence picture
    # What agreed: "picture", "picture_and_sound" or "sound_only" (the picture differs: never
    # called old footage).  See fingerprint.signal.agreement.
    agreement: str = "picture"


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

    async def add_clip(
        self,
        path: Path,
        *,
        title: str,
        first_seen: str,
        source: str,
        description: str | None,
        verdict_url: str | None,
        added_by: str,
    ) -> tuple[int, bool]:
        """Add a file to the library as a known old clip: (clip id, whether it is new).

        Raises ValueError for refused provenance and fingerprint.MediaError for unreadable
        media.
        """
        ...

    async def askers_of(self, clip_id: int) -> list[Question]:
        """Open questions (askers not told yet) about media that would now match the clip."""
        ...

    def remove_clip(self, clip_id: int) -> bool:
        """Remove a clip (and stop it matching); False if there was none."""
        ...

    async def key_frames(self, path: Path) -> list[bytes]:
        """JPEGs of a few telling frames of the file, to search for; [] if none can be read.

        Decoding happens away from the bot's process (see ``bot.evidence.key_frames``)."""
        ...

    async def side_by_side(
        self,
        query: Path,
        query_at: float,
        query_label: str,
        ref: Path,
        ref_at: float,
        ref_label: str,
        lang: str = "en",
    ) -> bytes | None:
        """The evidence picture (``bot.evidence.compare``): the query's frame at ``query_at``
        beside the reference's at ``ref_at``; None when either frame cannot be read."""
        ...


class Feeds(Protocol):
    """The watched feeds, for the admin commands (``oldclip run`` implements it)."""

    def add(self, kind: str, target: str, every: str | None) -> tuple[int, bool]:
        """Watch a feed: (feed id, whether it is new).  ``every`` is a duration such as "10m"
        (None: the configured default).  Raises ValueError, with a message for people, for an
        unknown kind, a bad target or a bad duration."""
        ...

    def remove(self, feed_id: int) -> bool:
        """Stop watching a feed; False if there was none."""
        ...

    def list(self) -> list[Feed]:
        """Every feed with its health, oldest first."""
        ...


class LinkError(Exception):
    """A link could not be turned into a local file; ``str(exc)`` says why, for people."""


class UnsupportedLink(LinkError):
    """No supported site handles this link (raw URLs to arbitrary hosts included)."""


class LinkFetcher(Protocol):
    """Downloads the video behind a post's link (``oldclip run`` implements it with yt-dlp)."""

    def supports(self, url: str) -> bool:
        """Whether a supported site handles this URL (no network)."""
        ...

    async def fetch(self, url: str, folder: Path) -> Path:
        """Download into ``folder`` within the size and duration caps, off the event loop.

        Raises UnsupportedLink, or LinkError with the reason."""
        ...
