"""Bluesky accounts through the public AppView, no login:
https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=HANDLE&filter=posts_with_media

Embeds (the "#view" forms of the AppView): app.bsky.embed.images#view (fullsize + thumb per
image), app.bsky.embed.video#view (an HLS .m3u8 playlist + thumbnail; the downloader must treat
it as HLS, never hand the playlist to FFmpeg unrestricted - see the pitfalls doc), and
app.bsky.embed.recordWithMedia#view (a quote post with its own media).  Post search is
login-only on the public AppView, so only author feeds are watched.
Reposts: post_url/text/media are the original's; author and published are the repost's (who
shared it, when it appeared here); forwarded_from is the original post's URL.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from watchers.errors import FeedError
from watchers.jsonbody import expect, load_json
from watchers.mediakind import is_http_url
from watchers.post import MediaRef, Post
from watchers.timeutil import parse_iso

KIND = "bluesky"
APPVIEW = "https://public.api.bsky.app"
HLS_MIME = "application/vnd.apple.mpegurl"
log = logging.getLogger(__name__)


def feed_url(target: str) -> str:
    """ "handle.bsky.social", "@handle" or "did:plc:..." -> getAuthorFeed URL; full URL as-is."""
    raw = target.strip()
    if raw.lower().startswith(("http://", "https://")):
        return raw
    actor = raw.removeprefix("@")
    if not actor or any(c in actor for c in "/?# ") or ("." not in actor and ":" not in actor):
        raise FeedError(
            target,
            f"{target!r} is not a Bluesky handle or DID",
            "use a handle like name.bsky.social or a did:plc:... identifier",
        )
    return (
        f"{APPVIEW}/xrpc/app.bsky.feed.getAuthorFeed?actor={quote(actor, safe=':')}"
        "&filter=posts_with_media&limit=100"
    )


def post_web_url(uri: str, handle_or_did: str) -> str:
    """at://did/app.bsky.feed.post/RKEY -> https://bsky.app/profile/HANDLE/post/RKEY."""
    rkey = uri.rstrip("/").rsplit("/", 1)[-1]
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def embed_media(embed: Any) -> tuple[MediaRef, ...]:
    """MediaRefs of one embed view (images, video, or the media part of recordWithMedia)."""
    if not isinstance(embed, dict):
        return ()
    kind = str(embed.get("$type") or "")
    if kind.startswith("app.bsky.embed.images"):
        refs = []
        for image in embed.get("images") or []:
            if not isinstance(image, dict):
                continue
            full, thumb = image.get("fullsize"), image.get("thumb")
            url = full if is_http_url(full) else thumb
            if is_http_url(url):
                refs.append(
                    MediaRef(url=url, kind="photo", thumbnail_url=thumb if url != thumb else None)
                )
        return tuple(refs)
    if kind.startswith("app.bsky.embed.video"):
        playlist, thumb = embed.get("playlist"), embed.get("thumbnail")
        if not is_http_url(playlist):
            return ()
        return (
            MediaRef(
                url=playlist,
                kind="video",
                mime=HLS_MIME,
                thumbnail_url=thumb if is_http_url(thumb) else None,
            ),
        )
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return embed_media(embed.get("media"))
    return ()  # external link cards, plain quote posts


def _item_post(item: dict[str, Any], feed_url: str) -> Post | None:
    post = item.get("post")
    if not isinstance(post, dict) or not post.get("uri"):
        return None
    author = post.get("author") if isinstance(post.get("author"), dict) else {}
    handle = author.get("handle") or author.get("did") or ""
    record = post.get("record") if isinstance(post.get("record"), dict) else {}
    web_url = post_web_url(post["uri"], handle or post["uri"].split("/")[2])
    reason = item.get("reason") if isinstance(item.get("reason"), dict) else None
    is_repost = bool(reason) and "reasonRepost" in str(reason.get("$type"))
    if is_repost:
        by = reason.get("by") if isinstance(reason.get("by"), dict) else {}
        who = by.get("handle") or by.get("did")
        when = parse_iso(reason.get("indexedAt"))
    else:
        who = handle or None
        when = parse_iso(record.get("createdAt")) or parse_iso(post.get("indexedAt"))
    return Post(
        source=KIND,
        feed_url=feed_url,
        post_url=web_url,
        external_id=str(post["uri"]),
        author=who,
        published=when,
        text=str(record.get("text") or ""),
        media=embed_media(post.get("embed")),
        forwarded_from=web_url if is_repost else None,
    )


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of a getAuthorFeed answer, newest first.  Use next_cursor() for older pages."""
    data = expect(load_json(body, feed_url), dict, "a feed object", feed_url)
    items = expect(data.get("feed"), list, 'a "feed" list', feed_url)
    posts: list[Post] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            post = _item_post(item, feed_url)
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            log.warning("skipping an unreadable item of %s: %s", feed_url, exc)
            continue
        if post is not None:
            posts.append(post)
    return posts


def next_cursor(body: bytes, feed_url: str) -> str | None:
    """The "cursor" for the next (older) page, None at the end."""
    data = load_json(body, feed_url)
    cursor = data.get("cursor") if isinstance(data, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None
