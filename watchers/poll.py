"""One poll of one feed: fetch (conditionally), parse, and say what changed.

Kept free of storage: the caller passes what it remembers of the feed (validators, cursor) in a
``FeedState`` and stores what comes back in a ``PollResult``.  Every failure is a ``FetchError``
or ``FeedError`` with a message for the feed's health record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import aiohttp

from watchers import factcheck, mastodon, rss
from watchers.article import parse_article_media
from watchers.errors import FeedError
from watchers.http import FetchError, fetch
from watchers.mediakind import is_direct_file
from watchers.pages import PageError, read_page
from watchers.post import MediaRef, Post
from watchers.registry import KINDS, keyword_filter

FEED_MAX_BYTES = 5 * 1024 * 1024  # a feed page bigger than this is hostile or broken
FEED_TIMEOUT_S = 30.0
ARTICLES_PER_POLL = 10  # article pages read per poll for feeds that only link to them

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedState:
    kind: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class PollResult:
    posts: list[Post] = field(default_factory=list)  # kept by the filters, with media
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    url: str | None = None  # a better URL to poll from now on (Mastodon account lookups)
    not_modified: bool = False


async def poll(
    session: aiohttp.ClientSession,
    feed: FeedState,
    *,
    max_bytes: int = FEED_MAX_BYTES,
    timeout_s: float = FEED_TIMEOUT_S,
) -> PollResult:
    """Fetch and parse one feed; only posts that carry media and pass the filters come back."""
    source = KINDS[feed.kind]
    url, resolved = feed.url, None
    if feed.kind == "mastodon" and mastodon.is_lookup_url(url):
        # "@user@instance" needs the account id once; from then on the statuses URL is polled.
        lookup = await fetch(session, url, max_bytes=max_bytes, timeout_s=timeout_s)
        url = resolved = mastodon.account_statuses_url(lookup.body, url)
    page = mastodon.page_url(url, feed.cursor) if feed.kind == "mastodon" else url
    result = await fetch(
        session,
        page,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
        etag=feed.etag,
        last_modified=feed.last_modified,
    )
    if result.not_modified:
        return PollResult(
            etag=feed.etag,
            last_modified=feed.last_modified,
            cursor=feed.cursor,
            url=resolved,
            not_modified=True,
        )
    posts = source.parse(result.body, url)
    if feed.kind == "rss":
        posts = await _with_article_media(session, posts, timeout_s)
    elif feed.kind == factcheck.KIND:
        posts = await _with_factcheck_pages(session, posts, timeout_s)
    cursor = feed.cursor
    if feed.kind == "mastodon":
        cursor = mastodon.cursor(posts) or feed.cursor
    kept = []
    for post in posts:
        post = replace(post, media=downloadable(post.media))
        if post.media and keyword_filter(post, list(feed.include), list(feed.exclude)):
            kept.append(post)
    return PollResult(
        posts=kept,
        etag=result.etag,
        last_modified=result.last_modified,
        cursor=cursor,
        url=resolved,
    )


async def _read_article(
    session: aiohttp.ClientSession, url: str, timeout_s: float
) -> tuple[bytes, str] | None:
    """An article page's HTML and final URL; None (logged) when it cannot be read, so one bad
    link never fails the feed."""
    try:
        result = await fetch(
            session,
            url,
            max_bytes=FEED_MAX_BYTES,
            timeout_s=timeout_s,
            accept_types=("text/html", "application/xhtml+xml"),
        )
    except (FetchError, FeedError) as exc:
        log.info("article not read: %s", exc)
        return None
    return result.body, result.final_url


async def _with_article_media(
    session: aiohttp.ClientSession, posts: list[Post], timeout_s: float
) -> list[Post]:
    """Posts that only link to an article get the article's og:video / og:image / <video>."""
    found, budget = [], ARTICLES_PER_POLL
    for post in posts:
        page = rss.article_url(post)
        if page and budget:
            budget -= 1
            article = await _read_article(session, page, timeout_s)
            media = parse_article_media(*article) if article else []
            if media:
                post = replace(post, media=tuple(media))
        found.append(post)
    return found


async def _with_factcheck_pages(
    session: aiohttp.ClientSession, posts: list[Post], timeout_s: float
) -> list[Post]:
    """Fact-check entries with their page's media and provenance; entries whose page cannot
    be read or dated are left out (and read again next poll)."""
    found = []
    for post in posts[:ARTICLES_PER_POLL]:
        article = await _read_article(session, post.post_url, timeout_s) if post.post_url else None
        if article is None:
            continue
        html, url = article
        try:
            ready = factcheck.with_page(post, read_page(html, url))
        except PageError as exc:
            log.info("fact-check %s: %s", post.post_url, exc)
            continue
        if ready is None:
            log.info("fact-check %s: no date on the page or in the feed; skipped", post.post_url)
            continue
        found.append(ready)
    return found


def downloadable(media: tuple[MediaRef, ...]) -> tuple[MediaRef, ...]:
    """The media the pipeline can download: pages and HLS streams give way to their thumbnail.

    Bluesky videos are HLS playlists; FFmpeg would follow the playlist's links wherever they
    point, past the SSRF guard, so their thumbnail is taken instead.
    """
    kept = []
    for ref in media:
        if ref.too_big or is_direct_file(ref.url, ref.mime):
            kept.append(ref)
        elif ref.thumbnail_url:
            kept.append(MediaRef(ref.thumbnail_url, "thumbnail"))
    return tuple(kept)
