"""YouTube channels and playlists through their public Atom feeds, no API key:
https://www.youtube.com/feeds/videos.xml?channel_id=UC... (or ?playlist_id=...).

Each entry has yt:videoId, a watch (or /shorts/) link and a media:group thumbnail; the feed
holds the ~15 newest uploads.  The video itself is fetched later by the downloader (yt-dlp);
the watcher hands on the watch URL with the thumbnail, which is already enough for a first
photo-level match.  Handles (@name) cannot be mapped to a channel id without fetching the
channel page, so they are refused with a hint instead of guessed.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from watchers.errors import FeedError
from watchers.feedxml import parse_feed_bytes
from watchers.htmltree import html_to_text
from watchers.mediakind import is_http_url
from watchers.post import MediaRef, Post
from watchers.timeutil import from_struct_time

KIND = "youtube"
FEEDS = "https://www.youtube.com/feeds/videos.xml"
PLAYLIST_PREFIXES = ("PL", "UU", "LL", "FL", "OL", "RD")
log = logging.getLogger(__name__)


def feed_url(target: str) -> str:
    """ "UC…" channel id -> channel feed; "PL…"/"UU…" playlist id -> playlist feed;
    "channel/UC…" accepted; a full URL is returned unchanged."""
    raw = target.strip()
    if raw.lower().startswith(("http://", "https://")):
        return raw
    ident = raw.removeprefix("channel/").strip("/")
    safe = ident and all(c.isalnum() or c in "-_" for c in ident)
    if safe and ident.startswith("UC") and len(ident) == 24:
        return f"{FEEDS}?channel_id={quote(ident)}"
    if safe and ident.startswith(PLAYLIST_PREFIXES):
        return f"{FEEDS}?playlist_id={quote(ident)}"
    raise FeedError(
        target,
        f"{target!r} is not a YouTube channel id (UC…) or playlist id (PL…)",
        "open the channel page, copy the channel id from its 'Share channel' menu",
    )


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of a channel/playlist feed, newest first; one "video" MediaRef each."""
    parsed = parse_feed_bytes(body, feed_url)
    posts: list[Post] = []
    for entry in parsed.entries:
        try:
            video_id = entry.get("yt_videoid")
            link = entry.get("link") or (
                f"https://www.youtube.com/watch?v={video_id}" if video_id else ""
            )
            if not is_http_url(link):
                continue
            thumbs = [t.get("url") for t in entry.get("media_thumbnail") or []]
            thumb = next((t for t in thumbs if is_http_url(t)), None)
            title = entry.get("title") or ""
            description = html_to_text(entry.get("summary") or "")
            posts.append(
                Post(
                    source=KIND,
                    feed_url=feed_url,
                    post_url=link,
                    external_id=str(entry.get("id") or f"yt:video:{video_id}"),
                    author=entry.get("author") or None,
                    published=from_struct_time(
                        entry.get("published_parsed") or entry.get("updated_parsed")
                    ),
                    text=f"{title}\n{description}".strip(),
                    media=(MediaRef(url=link, kind="video", thumbnail_url=thumb),),
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("skipping an unreadable entry of %s: %s", feed_url, exc)
    return posts
