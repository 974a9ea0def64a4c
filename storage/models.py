"""Plain records read back from the database.

They are frozen so that nobody mistakes changing a field for saving it: writes go through
the query modules (storage.library, storage.media, storage.sightings...), the only places
that know the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Media:
    """One stored media file, identified by the sha256 of its bytes."""

    id: int
    sha256: str
    kind: str  # "video" or "photo"
    duration: float | None
    width: int | None
    height: int | None
    size: int | None
    created_at: str  # ISO 8601 UTC, when this row was written
    path: str | None = None  # where a copy of the file is kept (evidence pictures), if anywhere


@dataclass(frozen=True)
class Clip:
    """A piece of known old footage: the media plus what fact-checkers know about it."""

    id: int
    media_id: int
    title: str
    description: str | None
    first_seen: str  # YYYY-MM-DD, the earliest date the footage is known to have been published
    source: str  # where that earliest publication is (URL or archive reference)
    verdict_url: str | None
    language: str | None
    tags: list[str]
    added_by: str | None
    added_at: str  # ISO 8601 UTC, when the clip was added to the library
    claim: str | None = None  # the false claim a fact-check reviewed, when one did
    rating: str | None = None  # that fact-check's verdict, e.g. "Misleading"
    benign: bool = False  # channel intro, logo, test card: never reported, ignored in matching


@dataclass(frozen=True)
class ClipSource:
    """One place the footage was published or fact-checked; a clip keeps all of them."""

    id: int
    clip_id: int
    url: str
    first_seen: str  # YYYY-MM-DD, when this source showed it
    kind: str  # "publication" or "factcheck"
    title: str | None
    via: str | None  # who told the library: a person, a page import, a bundle's publisher
    added_at: str
    date_from: str | None = None  # the signal first_seen came from (see migration 9)


@dataclass(frozen=True)
class Sighting:
    """One time the media was seen reposted somewhere, e.g. by a watcher."""

    id: int
    media_id: int
    url: str
    source: str
    post_url: str | None
    seen_at: str  # ISO 8601
