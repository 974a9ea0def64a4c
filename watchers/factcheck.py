"""Fact-checkers' RSS/Atom feeds (Misbar, AFP Fact Check, Full Fact, Snopes, Fatabyyano...).

A fact-check that debunked recycled footage is the best provenance there is: it names the
claim, gives the verdict and is the link to send people to.  The feed is read like any RSS
feed; each entry's page is then read for its schema.org ClaimReview and its media
(watchers.pages), and the post carries that as its ``provenance``, so the pipeline adds its
media to the library instead of checking them against it.
"""

from __future__ import annotations

from dataclasses import replace

from watchers import rss
from watchers.pages import PageInfo
from watchers.post import MediaRef, Post
from watchers.provenance import NoDateError, from_page

KIND = "factcheck"
PAGE_MEDIA_KINDS = {"video": "video", "photo": "photo"}  # embedded players are not fetched here

feed_url = rss.feed_url


def parse(body: bytes, feed_url: str) -> list[Post]:
    """The feed's entries as posts of this kind; their media come from their pages later."""
    return [replace(post, source=KIND) for post in rss.parse(body, feed_url)]


def with_page(post: Post, page: PageInfo) -> Post | None:
    """The post with its page's media and provenance; None when the page gives no date
    (the entry's own date stands in when the feed has one)."""
    try:
        provenance = from_page(
            page,
            fallback_date=post.published.date() if post.published else None,
            fallback_from="feed",
        )
    except NoDateError:
        return None
    media = tuple(
        MediaRef(url=m.url, kind=PAGE_MEDIA_KINDS[m.kind])
        for m in page.media
        if m.kind in PAGE_MEDIA_KINDS
    )
    return replace(post, media=media or post.media, provenance=provenance)
