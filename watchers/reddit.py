"""Subreddits through their Atom feed, https://www.reddit.com/r/NAME/new/.rss.

Reddit's JSON API is blocked without OAuth since 2026-05 (see the pitfalls doc); the Atom feed
still works but is rate-limited hard (poll gently, expect 429s).  The feed does not carry media
fields: each entry's HTML body has a "[link]" anchor to the submitted URL and an <img> (also in
media:thumbnail) with the preview.  Direct i.redd.it images/GIFs become photos/GIFs, v.redd.it
and known video hosts become "video" (fetched later with yt-dlp); anything else (galleries,
articles) keeps only its thumbnail, and post_url (the comments page) leads to the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from watchers.errors import FeedError
from watchers.feedxml import parse_feed_bytes
from watchers.htmltree import Element, parse_html
from watchers.mediakind import is_http_url, kind_from_url
from watchers.post import MediaRef, Post
from watchers.timeutil import from_struct_time

KIND = "reddit"
VIDEO_HOSTS = frozenset(
    {"v.redd.it", "youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be",
     "streamable.com", "vimeo.com"}
)  # fmt: skip
log = logging.getLogger(__name__)


def feed_url(target: str) -> str:
    """ "r/NAME", "/r/NAME" or "NAME" -> the subreddit's /new/.rss; a full URL unchanged."""
    raw = target.strip()
    if raw.lower().startswith(("http://", "https://")):
        return raw
    name = raw.strip("/").removeprefix("r/").strip("/")
    if not name or len(name) > 100 or not all(c.isalnum() or c in "_+" for c in name):
        raise FeedError(
            target, f"{target!r} is not a subreddit name", 'use "r/NAME", e.g. "r/worldnews"'
        )
    return f"https://www.reddit.com/r/{name}/new/.rss"


def _submitted_link(body: Element, base: str) -> str | None:
    for anchor in body.find_all("a"):
        if anchor.text().strip() == "[link]":
            href = urljoin(base, (anchor.get("href") or "").strip())
            return href if is_http_url(href) else None
    return None


def _thumbnail(entry: Mapping[str, Any], body: Element) -> str | None:
    candidates = [t.get("url") for t in entry.get("media_thumbnail") or []]
    candidates += [img.get("src") for img in body.find_all("img")]
    return next((c for c in candidates if is_http_url(c)), None)


def link_media(link: str | None, thumb: str | None, post_url: str) -> tuple[MediaRef, ...]:
    """Classify the submitted link (see module docstring)."""
    if link and link.rstrip("/") != post_url.rstrip("/"):
        host = (urlsplit(link).hostname or "").lower()
        kind = kind_from_url(link)
        if host in VIDEO_HOSTS:
            return (MediaRef(url=link, kind="video", thumbnail_url=thumb),)
        if kind in ("photo", "gif"):
            return (MediaRef(url=link, kind=kind, thumbnail_url=thumb if kind == "gif" else None),)
        if kind == "video":
            return (MediaRef(url=link, kind="video", thumbnail_url=thumb),)
    if thumb:
        return (MediaRef(url=thumb, kind="thumbnail"),)
    return ()


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of a subreddit feed, newest first."""
    parsed = parse_feed_bytes(body, feed_url)
    posts: list[Post] = []
    for entry in parsed.entries:
        try:
            post_url = urljoin(feed_url, entry.get("link") or "")
            if not is_http_url(post_url):
                continue
            contents = entry.get("content") or []
            html_body = parse_html((contents[0].get("value") if contents else "") or "")
            selftext = html_body.find("div", "md")
            title = entry.get("title") or ""
            text = f"{title}\n{selftext.text()}" if selftext is not None else title
            author = (entry.get("author") or "").strip().removeprefix("/u/") or None
            posts.append(
                Post(
                    source=KIND,
                    feed_url=feed_url,
                    post_url=post_url,
                    external_id=str(entry.get("id") or post_url),
                    author=author,
                    published=from_struct_time(
                        entry.get("published_parsed") or entry.get("updated_parsed")
                    ),
                    text=text.strip(),
                    media=link_media(
                        _submitted_link(html_body, post_url),
                        _thumbnail(entry, html_body),
                        post_url,
                    ),
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("skipping an unreadable entry of %s: %s", feed_url, exc)
    return posts
