"""Public Telegram channels through their web preview, https://t.me/s/CHANNEL.

No API key or account is needed; the page lists the newest ~20 posts, newest last.  Layout
(see docs/sources-and-pitfalls.md §2): each post is div.tgme_widget_message[data-post="chan/ID"];
photos are background-image URLs of a.tgme_widget_message_photo_wrap; videos are <video src> in
a.tgme_widget_message_video_player (class "gif", or no .message_video_play marker = a GIF;
.blured <video> tags are low-res previews and skipped); round videos sit in
.tgme_widget_message_roundvideo_player; an album is several of those in
.tgme_widget_message_grouped_wrap.  Every player carries the browser fallback
.message_media_not_supported ("This media is not supported in your browser"); only a player
without <video src> whose label says "Media is too big" (class not_supported) withholds the
file and shows a thumbnail.  Link previews show the linked page's picture, not the post's.
CDN URLs are signed and expire within hours:
download promptly.  There is no "newer than" paging: poll the first page and stop at the last
seen id (post_number()).
"""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime

from watchers.errors import FeedError
from watchers.htmltree import Element, parse_html
from watchers.mediakind import is_http_url
from watchers.post import MediaRef, Post
from watchers.timeutil import parse_iso

KIND = "telegram"
log = logging.getLogger(__name__)

_BACKGROUND_URL = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", re.I)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def feed_url(target: str) -> str:
    """ "@name", "name", "t.me/name" or "t.me/s/name" -> "https://t.me/s/name".

    A full http(s) URL is returned unchanged (tests point it at a local server).
    """
    raw = target.strip()
    if raw.lower().startswith(("http://", "https://")):
        return raw
    name = raw.removeprefix("@")
    for prefix in ("telegram.me/", "t.me/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :].removeprefix("s/")
    name = name.split("/", 1)[0].split("?", 1)[0]
    if not name or not set(name) <= _NAME_CHARS or len(name) > 64:
        raise FeedError(
            target,
            f"{target!r} is not a Telegram channel name",
            "use the public @username of the channel, e.g. @durov",
        )
    return f"https://t.me/s/{name}"


def _clean_url(raw: str | None) -> str | None:
    """Make a media URL usable: protocol-relative -> https, double-escaped &amp; undone."""
    if not raw:
        return None
    url = raw.strip()
    if "&amp;" in url:  # t.me double-escapes ampersands since 2024-04
        url = html.unescape(url)
    if url.startswith("//"):
        url = "https:" + url
    return url if is_http_url(url) else None


def _background_url(el: Element | None) -> str | None:
    if el is None:
        return None
    match = _BACKGROUND_URL.search(el.get("style") or "")
    return _clean_url(match.group(1)) if match else None


def _playable_src(player: Element) -> str | None:
    """The first <video src> that plays the file itself (.blured ones are low-res previews)."""
    for video in player.find_all("video"):
        if not video.has_class("blured"):
            src = _clean_url(video.get("src"))
            if src:
                return src
    return None


def _says_too_big(player: Element) -> bool:
    """Only the "Media is too big" player withholds the file.

    Every real player also carries the browser fallback block .message_media_not_supported
    ("This media is not supported in your browser / VIEW IN TELEGRAM") next to its <video>,
    so that block alone says nothing about the file.
    """
    if player.has_class("not_supported"):
        return True
    label = player.find(cls="message_media_not_supported_label")
    return label is not None and "too big" in label.text().lower()


def _video_media(player: Element, post_url: str) -> MediaRef | None:
    thumb = _background_url(player.find(cls="tgme_widget_message_video_thumb"))
    src = _playable_src(player)
    if src is None and _says_too_big(player):
        link = _clean_url(player.get("href")) or post_url
        return MediaRef(url=link, kind="video", too_big=True, thumbnail_url=thumb)
    if src is None:  # no playable preview (e.g. only a blurred one): keep what we can see
        return MediaRef(url=thumb, kind="thumbnail") if thumb else None
    # GIFs are marked "gif" and loop without a play button.
    is_gif = player.has_class("gif") or player.find(cls="message_video_play") is None
    return MediaRef(
        url=src,
        kind="gif" if is_gif else "video",
        mime="video/mp4",
        thumbnail_url=thumb,
    )


def _round_video_media(player: Element) -> MediaRef | None:
    thumb = _background_url(player.find(cls="tgme_widget_message_roundvideo_thumb"))
    src = _playable_src(player)
    if src is None:
        return MediaRef(url=thumb, kind="thumbnail") if thumb else None
    return MediaRef(url=src, kind="video", mime="video/mp4", thumbnail_url=thumb)


def _media(message: Element, post_url: str) -> tuple[MediaRef, ...]:
    """Photos, videos, GIFs and round videos of the post, album order kept.

    A link preview's picture belongs to the linked page, which may be years older than the
    post: it is not this post's footage (the page itself is read by import-page), so
    anything inside .tgme_widget_message_link_preview is left out, as are reply quotes.
    """
    found: list[MediaRef] = []
    for el in message.iter():
        if el.has_ancestor("tgme_widget_message_link_preview", stop=message) or (
            el.has_ancestor("tgme_widget_message_reply", stop=message)
        ):
            continue
        ref: MediaRef | None = None
        if el.has_class("tgme_widget_message_photo_wrap"):
            url = _background_url(el)
            ref = MediaRef(url=url, kind="photo", mime="image/jpeg") if url else None
        elif el.has_class("tgme_widget_message_video_player"):
            ref = _video_media(el, post_url)
        elif el.has_class("tgme_widget_message_roundvideo_player"):
            ref = _round_video_media(el)
        if ref is not None and all(ref.url != seen.url for seen in found):
            found.append(ref)
    return tuple(found)


def _text(message: Element) -> str:
    for el in message.find_all(cls="tgme_widget_message_text"):
        if not el.has_ancestor("tgme_widget_message_reply", stop=message):
            return el.text()
    return ""


def _forwarded_from(message: Element) -> str | None:
    box = message.find(cls="tgme_widget_message_forwarded_from")
    if box is None:
        return None
    name = box.find(cls="tgme_widget_message_forwarded_from_name")
    if name is not None:
        href = _clean_url(name.get("href"))
        return href or name.text() or None
    return box.text().removeprefix("Forwarded from").strip() or None


def _published(message: Element) -> datetime | None:
    date_link = message.find("a", "tgme_widget_message_date")
    scope = date_link if date_link is not None else message
    for time_el in scope.find_all("time"):
        parsed = parse_iso(time_el.get("datetime"))
        if parsed is not None:
            return parsed
    return None


def _is_service(message: Element) -> bool:
    """Joins, pins, title changes: t.me marks them service_message (older pages show only a
    "Service message" fallback label)."""
    if message.has_class("service_message"):
        return True
    label = message.find(cls="message_media_not_supported_label")
    return label is not None and label.text().strip().lower() == "service message"


def _post(message: Element, feed_url: str) -> Post:
    data_post = (message.get("data-post") or "").strip().strip("/")
    post_url = f"https://t.me/{data_post}"
    owner = message.find(cls="tgme_widget_message_owner_name")
    return Post(
        source=KIND,
        feed_url=feed_url,
        post_url=post_url,
        external_id=data_post,
        author=(owner.text() if owner is not None else None) or data_post.split("/", 1)[0],
        published=_published(message),
        published_from="time",
        text=_text(message),
        media=_media(message, post_url),
        forwarded_from=_forwarded_from(message),
    )


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of a t.me/s/ page in page order (oldest first), service messages skipped.

    Raises FeedError when the page is not a channel preview (wrong name, previews disabled).
    """
    root = parse_html(body)
    messages = [m for m in root.find_all("div", "tgme_widget_message") if m.get("data-post")]
    if not messages:
        if root.find(cls="tgme_channel_info") is not None:
            return []  # a real channel page with no posts yet
        raise FeedError(
            feed_url,
            "the page is not a Telegram channel preview (no posts, no channel header)",
            "check the channel name; some channels do not allow web previews",
        )
    posts: list[Post] = []
    for message in messages:
        if _is_service(message):
            continue
        try:
            posts.append(_post(message, feed_url))
        except ValueError as exc:
            log.warning("skipping an unreadable post of %s: %s", feed_url, exc)
    return posts


def post_number(post: Post) -> int | None:
    """The numeric message id ("chan/123" -> 123), to stop at the last seen post."""
    tail = post.external_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None
