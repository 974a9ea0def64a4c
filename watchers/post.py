"""The values a watcher hands to the pipeline: one post and the media it links to.

Frozen dataclasses so that a post can be used as a set/dict key for de-duplication and cannot
be changed by accident between the watcher and the downloader.  They carry URLs only: the
watcher never downloads media, the pipeline does (with its own size and time limits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MEDIA_KINDS = frozenset({"video", "photo", "gif", "thumbnail"})
# What each date signal means, in the words a fact-checker reads in a report; the weak ones
# (running text, the address, a feed entry) ask for confirmation.
DATE_SIGNALS = {
    "json-ld": "the page's JSON-LD datePublished",
    "meta": "the page's published-time meta tag",
    "time": "the byline's <time>",
    "text": "from the page text, please confirm",
    "url": "from the date in the page's address, please confirm",
    "claimreview": "the fact-check's ClaimReview date",
    "feed": "the feed entry's date, please confirm",
    "given": "given by hand",
}


@dataclass(frozen=True)
class MediaRef:
    """One media item of a post.

    kind: "video" | "photo" | "gif" | "thumbnail" ("thumbnail" = only a preview image is known,
    e.g. a link to a page whose real media must be found later).
    too_big: the source itself said the file is too big to preview (Telegram "Media is too
    big"); `url` then points to the post and `thumbnail_url` is the only image we have.
    """

    url: str
    kind: str
    mime: str | None = None
    too_big: bool = False
    thumbnail_url: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            allowed = ", ".join(sorted(MEDIA_KINDS))
            raise ValueError(f"MediaRef.kind must be one of {allowed}, not {self.kind!r}")


@dataclass(frozen=True)
class Provenance:
    """Where and when footage was published, and what a fact-check said of it.

    ``source`` is the page itself, of ``source_kind`` "publication" or "factcheck", dated
    ``source_date``.  ``appearances`` are other dated places the page names (a fact-check's
    ``itemReviewed`` appearances).  The clip's first-seen date is the earliest of all of them.
    """

    title: str
    source: str
    source_date: str  # YYYY-MM-DD
    source_kind: str = "publication"
    description: str | None = None
    language: str | None = None
    claim: str | None = None
    rating: str | None = None
    verdict_url: str | None = None
    appearances: tuple[tuple[str, str], ...] = ()  # (url, YYYY-MM-DD)
    # Why source_date is believed: the page signal that gave it ("json-ld", "meta", "time",
    # "text", "url", "claimreview"), "feed" (the feed entry's date) or "given" (typed in).
    date_from: str | None = None

    @property
    def first_seen(self) -> str:
        return min([self.source_date, *(when for _, when in self.appearances)])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        fields = {**data, "appearances": tuple(tuple(a) for a in data.get("appearances", ()))}
        return cls(**fields)


@dataclass(frozen=True)
class Post:
    """One post seen on a source.

    source: the source kind ("rss", "telegram", ...). published: tz-aware UTC, None if the
    source gave no date.  forwarded_from: where the content came from when this post is a
    forward/boost/repost (the original's URL when known, else its name): the original is often
    the oldest sighting, which is what a fact-checker needs.  provenance: a fact-check's post
    (the `factcheck` kind) whose media go into the library with what the page says of them.
    """

    source: str
    feed_url: str
    post_url: str
    external_id: str
    author: str | None
    published: datetime | None
    text: str
    media: tuple[MediaRef, ...]
    forwarded_from: str | None = None
    provenance: Provenance | None = None  # set when the post's media are library material
    # The source field `published` came from ("pubDate", "updated", "created_at", "time"...):
    # an RSS item dated only by its last update is weaker evidence than its publication date.
    published_from: str | None = None
