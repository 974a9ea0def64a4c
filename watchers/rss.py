"""RSS and Atom feeds (news sites, blogs, any feed URL).

Media come from enclosures (<enclosure>, Atom rel="enclosure"), Media RSS <media:content> and
<media:thumbnail>.  Items that only link to an article keep that link as post_url;
article_url(post) tells the pipeline to fetch the page and call parse_article_media() on it
(og:video / og:image / <video>), which is re-exported here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urldefrag, urljoin

from yarl import URL

from watchers.article import parse_article_media
from watchers.errors import FeedError
from watchers.feedxml import own_links, parse_feed_bytes
from watchers.htmltree import html_to_text
from watchers.mediakind import guess_kind, is_http_url
from watchers.post import MediaRef, Post
from watchers.timeutil import from_struct_time

__all__ = ["KIND", "article_url", "entry_media", "feed_url", "parse", "parse_article_media"]

KIND = "rss"
log = logging.getLogger(__name__)


def feed_url(target: str) -> str:
    """An RSS/Atom source is its URL; "example.org/feed" gets https:// added."""
    target = target.strip()
    if not target:
        raise FeedError(target, "no feed URL given", "give the full URL of the RSS/Atom feed")
    url = target if "://" in target else "https://" + target
    try:
        host = URL(url).host or ""
    except ValueError:
        host = ""
    # A host name has a dot ("example.org"); a lone word is a typo, not a feed to poll forever.
    if not host or not ("." in host or ":" in host or host == "localhost"):
        raise FeedError(
            target,
            f"{target!r} is not a feed address",
            "give the full URL of the RSS/Atom feed, e.g. https://example.org/feed.xml",
        )
    return url


def _thumbnail(entry: Mapping[str, Any], base: str) -> str | None:
    for thumb in entry.get("media_thumbnail") or []:
        url = urljoin(base, (thumb.get("url") or "").strip())
        if is_http_url(url):
            return url
    return None


def entry_media(entry: Mapping[str, Any], base: str) -> tuple[MediaRef, ...]:
    """MediaRefs of one feedparser entry: enclosures + media:content, thumbnail attached to
    the first video; a thumbnail alone becomes a kind="thumbnail" ref."""
    candidates: list[tuple[str, str | None, str | None]] = []
    for enc in entry.get("enclosures") or []:
        candidates.append((enc.get("href") or enc.get("url") or "", enc.get("type"), None))
    for content in entry.get("media_content") or []:
        candidates.append((content.get("url") or "", content.get("type"), content.get("medium")))

    thumb = _thumbnail(entry, base)
    media: list[MediaRef] = []
    seen: set[str] = set()
    for raw, mime, medium in candidates:
        # Links that are not http(s) (file:, data:) are passed on: the pipeline records
        # them as refused, with the reason, rather than they vanish without a word.
        url = urljoin(base, raw.strip())
        if not url or url in seen:
            continue
        kind = guess_kind(url, mime, medium)
        if kind is None:
            continue
        seen.add(url)
        media.append(MediaRef(url=url, kind=kind, mime=mime or None))
    if thumb:
        for i, ref in enumerate(media):
            if ref.kind in ("video", "gif"):
                media[i] = MediaRef(ref.url, ref.kind, ref.mime, ref.too_big, thumb)
                break
        else:
            if not media:
                media.append(MediaRef(url=thumb, kind="thumbnail"))
    return tuple(media)


def entry_text(entry: Mapping[str, Any]) -> str:
    """Title and body as plain text (HTML removed), for keyword filters and alerts."""
    title = html_to_text(entry.get("title") or "")
    contents = entry.get("content") or []
    body_html = (contents[0].get("value") if contents else None) or entry.get("summary") or ""
    body = html_to_text(body_html)
    if body and body != title:
        return f"{title}\n{body}" if title else body
    return title


def _external_id(entry: Mapping[str, Any], link: str) -> str:
    ident = entry.get("id") or link
    if ident:
        return str(ident)
    digest = hashlib.sha256((entry.get("title") or "").encode()).hexdigest()[:16]
    return f"sha256:{digest}"


def _entry_link(entry: Mapping[str, Any], own: str | None, feed_url: str) -> str:
    """The entry's own article URL (checked where posts are stored), or "" when it has none.

    `own` is the item's direct <link> child (see feedxml.own_links) and wins over feedparser's
    pick.  An item without a link (a podcast's guid isPermaLink="false") has no article: its
    URL must not become the feed's own URL, or the feed would be fetched as the article.  A
    link that is not http(s) (``javascript:``) is kept: storing the post refuses it and records
    the skipped item on its feed, where `feeds list` shows it (dropping it here hid it).
    """
    raw = (own if own is not None else entry.get("link") or "").strip()
    return urljoin(feed_url, raw) if raw else ""


def _date_field(entry: Mapping[str, Any]) -> str | None:
    """Which field dated the entry: its publication date, or only its last update."""
    if entry.get("published_parsed"):
        return "published"
    return "updated" if entry.get("updated_parsed") else None


def _linkless_url(feed_url: str, external_id: str, media: tuple[MediaRef, ...]) -> str:
    """A post URL for an item without a link: its media file (a podcast episode is its
    enclosure), else the feed's URL marked with the item's id, which article_url() knows is
    not an article to fetch."""
    first = next((m.url for m in media if m.kind != "thumbnail"), None)
    return first or f"{feed_url}#item={quote(external_id, safe='')}"


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of an RSS/Atom feed, in feed order.  Raises FeedError if `body` is not a feed."""
    parsed = parse_feed_bytes(body, feed_url)
    links = own_links(body)
    if links is not None and len(links) != len(parsed.entries):
        links = None  # the two parsers disagree on the items: trust feedparser alone
    posts: list[Post] = []
    for n, entry in enumerate(parsed.entries):
        try:
            link = _entry_link(entry, links[n] if links else None, feed_url)
            if not link and not entry.get("id"):
                continue
            media = entry_media(entry, link if is_http_url(link) else feed_url)
            external_id = _external_id(entry, link)
            posts.append(
                Post(
                    source=KIND,
                    feed_url=feed_url,
                    # A bad link (javascript:) is checked where posts are stored, and recorded.
                    post_url=link or _linkless_url(feed_url, external_id, media),
                    external_id=external_id,
                    author=entry.get("author") or None,
                    published=from_struct_time(
                        entry.get("published_parsed") or entry.get("updated_parsed")
                    ),
                    published_from=_date_field(entry),
                    text=entry_text(entry),
                    media=media,
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("skipping an unreadable entry of %s: %s", feed_url, exc)
    return posts


def article_url(post: Post) -> str | None:
    """The page to scan with parse_article_media() when the post itself carries no video,
    photo or GIF (only a link, or only a thumbnail); None otherwise."""
    if any(m.kind != "thumbnail" for m in post.media):
        return None
    if not is_http_url(post.post_url):
        return None
    if urldefrag(post.post_url)[0] == urldefrag(post.feed_url)[0]:
        return None  # never fetch the feed itself as if it were the article
    return post.post_url
