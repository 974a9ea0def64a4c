"""The values a watcher hands to the pipeline: one post and the media it links to.

Frozen dataclasses so that a post can be used as a set/dict key for de-duplication and cannot
be changed by accident between the watcher and the downloader.  They carry URLs only: the
watcher never downloads media, the pipeline does (with its own size and time limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MEDIA_KINDS = frozenset({"video", "photo", "gif", "thumbnail"})


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
class Post:
    """One post seen on a source.

    source: the source kind ("rss", "telegram", ...). published: tz-aware UTC, None if the
    source gave no date.  forwarded_from: where the content came from when this post is a
    forward/boost/repost (the original's URL when known, else its name): the original is often
    the oldest sighting, which is what a fact-checker needs.
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
