"""The photos, videos and embedded posts an article shows (not its sidebar, ads or icons)."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import lxml.html
import trafilatura
from lxml import etree

from watchers.pagedoc import (
    MAX_CANDIDATES,
    MAX_DEPTH,
    MAX_MEDIA,
    MIN_IMAGE_SIDE,
    NOT_CONTENT_TYPES,
    Doc,
    absolute_url,
    as_list,
    types_of,
    url_value,
)
from watchers.pagenoise import tag_of, tokens_of


@dataclass(frozen=True)
class PageMedia:
    """A photo, video or embedded post the page shows."""

    url: str  # absolute URL (resolved against the page URL / <base>)
    kind: str  # "video", "photo" or "embed" (YouTube / X / Telegram players or links)
    found_in: str  # "og:video", "og:image", "json-ld", "video", "img", "iframe", "link", ...


# --- media -------------------------------------------------------------------------------------

_YOUTUBE_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com",
     "youtube-nocookie.com", "www.youtube-nocookie.com"}
)  # fmt: skip
_X_HOSTS = frozenset(
    {"twitter.com", "www.twitter.com", "mobile.twitter.com", "x.com", "www.x.com", "mobile.x.com"}
)
_TELEGRAM_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog"})
_TELEGRAM_NOT_CHANNELS = frozenset(
    {"share", "joinchat", "addstickers", "c", "proxy", "socks", "iv"}
)
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_X_STATUS = re.compile(r"/(?:i/web|([A-Za-z0-9_]{1,15}))/status(?:es)?/(\d{1,20})(?:/|$)")
_TELEGRAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


def _youtube(url: str) -> str | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    video_id = None
    if host in ("youtu.be", "www.youtu.be") and segments:
        video_id = segments[0]
    elif host in _YOUTUBE_HOSTS:
        if len(segments) > 1 and segments[0] in ("embed", "shorts", "live", "v"):
            video_id = segments[1]
        elif segments == ["watch"]:
            video_id = (parse_qs(parts.query).get("v") or [""])[0]
    if video_id and _YOUTUBE_ID.fullmatch(video_id):
        return f"https://www.youtube.com/watch?v={video_id}"
    return None


def _x_post(url: str) -> tuple[str, str] | None:
    """(watch URL, key) of a post on X: status links and platform.twitter.com embeds."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in _X_HOSTS:
        match = _X_STATUS.match(parts.path)
        if match:
            user, post_id = match.group(1) or "i", match.group(2)
            return f"https://x.com/{user}/status/{post_id}", f"x:{post_id}"
    if host in ("platform.twitter.com", "platform.x.com") and "/embed/" in parts.path:
        post_id = (parse_qs(parts.query).get("id") or [""])[0]
        if post_id.isdigit():
            return f"https://x.com/i/status/{post_id}", f"x:{post_id}"
    return None


def _telegram_post(url: str) -> str | None:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in _TELEGRAM_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if (
        len(segments) >= 2
        and _TELEGRAM_NAME.fullmatch(segments[0])
        and segments[0].lower() not in _TELEGRAM_NOT_CHANNELS
        and segments[1].isdigit()
    ):
        return f"https://t.me/{segments[0]}/{segments[1]}"
    return None


def embed_url(url: str) -> tuple[str, str] | None:
    """(canonical watch URL, dedup key) for a YouTube video, an X post or a Telegram post, in
    any of the forms pages use (player iframe, share link, widget); None for anything else."""
    youtube = _youtube(url)
    if youtube:
        return youtube, youtube
    x_post = _x_post(url)
    if x_post:
        return x_post
    telegram = _telegram_post(url)
    return (telegram, telegram.lower()) if telegram else None


_JUNK_IMAGE_URL = re.compile(
    r"\.svg(?:$|[?#])|gravatar\.com|/avatars?[/_-]|[/_-]avatar|favicon|/icons?/|[/_-]icons?[._-]"
    r"|logo|sprite|spacer|blank\.gif|/pixel|//pixel\.|1x1|/beacon|/track(?:ing)?[/?]"
    r"|doubleclick\.net|facebook\.com/tr|google-analytics|scorecardresearch|/emoji/|/ads?/",
    re.IGNORECASE,
)
_JUNK_IMAGE_TOKEN = re.compile(
    r"avatar|logo|icon|emoji|smiley|gravatar|spinner|loader|badge|pixel|sprite|spacer|tracking"
)


class _Media:
    """Media in the order found, each once (an embed once per post, whatever its link form),
    at most MAX_MEDIA."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.items: list[PageMedia] = []
        self.keys: set[str] = set()
        self.seen_raw: set[str] = set()  # a page repeating one src 10,000 times costs one look

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_MEDIA

    def add(self, raw: str | None, kind: str, found_in: str, strict: bool = False) -> None:
        if not raw or self.full or raw in self.seen_raw:
            return
        self.seen_raw.add(raw)
        url = absolute_url(raw, self.base, strict)
        if url is None:
            return
        embed = embed_url(url)
        if embed:
            url, key, kind = embed[0], embed[1], "embed"
        elif kind == "photo" and _JUNK_IMAGE_URL.search(url):
            return
        else:
            key = url
        if key not in self.keys:
            self.keys.add(key)
            self.items.append(PageMedia(url=url, kind=kind, found_in=found_in))


def _og_media(doc: Doc, media: _Media) -> None:
    video_type = (doc.meta_value("og:video:type") or "").lower()
    video_kind = "embed" if video_type.startswith("text/html") else "video"
    for name, value in doc.meta:
        if name in ("og:video", "og:video:url", "og:video:secure_url"):
            media.add(value, video_kind, "og:video")
    for name, value in doc.meta:
        if name in ("og:image", "og:image:url", "og:image:secure_url"):
            media.add(value, "photo", "og:image")


def _jsonld_media_of(value: Any, hint: str, doc: Doc) -> Iterator[tuple[str | None, str]]:
    """(url, kind) of a JSON-LD image/video value: a URL string, ImageObject or VideoObject."""
    for item in as_list(value)[:MAX_DEPTH]:
        item = doc.resolve(item)
        if isinstance(item, str):
            yield item, hint
        elif isinstance(item, dict):
            types = types_of(item)
            if "VideoObject" in types or (hint == "video" and "ImageObject" not in types):
                yield url_value(item.get("contentUrl")), "video"
                yield url_value(item.get("embedUrl")), "embed"
            elif "ImageObject" in types or hint == "photo":
                yield url_value(item.get("contentUrl")) or url_value(item.get("url")), "photo"


def _jsonld_media(doc: Doc, media: _Media) -> None:
    """The page's own videos and images in JSON-LD; never a publisher logo or author photo."""
    for node in doc.nodes:
        types = types_of(node)
        if types & NOT_CONTENT_TYPES:
            continue
        if types & {"VideoObject", "ImageObject"}:
            hint = "video" if "VideoObject" in types else "photo"
            for url, kind in _jsonld_media_of(node, hint, doc):
                media.add(url, kind, "json-ld", strict=True)
        for key, hint in (("video", "video"), ("associatedMedia", "video"), ("image", "photo")):
            for url, kind in _jsonld_media_of(node.get(key), hint, doc):
                media.add(url, kind, "json-ld", strict=True)


def _pixels(value: str | None) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*(?:px)?\s*", value or "")
    return int(match.group(1)) if match else None


_SRCSET_SPLIT = re.compile(r",\s+")


def _srcset_largest(srcset: str | None) -> str | None:
    """The largest candidate of a srcset ("a.jpg 300w, b.jpg 1024w" or "a.jpg 1x, b.jpg 2x")."""
    if not srcset:
        return None
    best, best_size = None, -1.0
    for candidate in _SRCSET_SPLIT.split(srcset.strip()):
        words = candidate.strip().rstrip(",").split()
        if not words or words[0].lower().startswith("data:"):
            continue
        size = 1.0
        if len(words) > 1 and re.fullmatch(r"\d+(?:\.\d+)?[wx]", words[1]):
            size = float(words[1][:-1])
        if size > best_size:
            best, best_size = words[0], size
    return best


def _image_source(el: lxml.html.HtmlElement) -> str | None:
    """The real image URL, honouring lazy-loading attributes; the largest srcset candidate."""
    for attr in ("data-srcset", "data-lazy-srcset", "srcset"):
        largest = _srcset_largest(el.get(attr))
        if largest:
            return largest
    for attr in ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "src"):
        value = (el.get(attr) or "").strip()
        if value and not value.lower().startswith("data:"):
            return value
    return None


def _decorative(el: lxml.html.HtmlElement) -> bool:
    """Icons, avatars, logos, tracking pixels: by declared size or by their class/id."""
    sizes = [_pixels(el.get("width")), _pixels(el.get("height"))]
    if any(size is not None and size < MIN_IMAGE_SIDE for size in sizes):
        return True
    parent = el.getparent()
    tokens = tokens_of(el) + (tokens_of(parent) if parent is not None else [])
    return any(_JUNK_IMAGE_TOKEN.search(t) for t in tokens)


def _video_sources(el: lxml.html.HtmlElement) -> list[str]:
    """<video src>, else its first MP4 <source> (the alternatives are the same footage in
    other encodings; MP4 is the one every decoder reads), else its first <source>."""
    own = el.get("src") or el.get("data-src")
    if own:
        return [own]
    sources = [s for s in el.iter("source") if s.get("src")]
    mp4 = [s for s in sources if "mp4" in (s.get("type") or s.get("src") or "").lower()]
    return [s.get("src") for s in (mp4 or sources)[:1]]


_EMBED_HINT = re.compile(r"youtu|twitter\.com|x\.com|t\.me|telegram", re.IGNORECASE)


def _embed_link(raw: str | None, base: str) -> bool:
    """A link or iframe source that is a YouTube video or an X / Telegram post."""
    if not raw or not _EMBED_HINT.search(raw):  # most links are not: skip URL parsing
        return False
    return embed_url(absolute_url(raw, base) or "") is not None


_MEDIA_TAGS = frozenset(
    {"video", "amp-video", "iframe", "amp-iframe", "amp-youtube", "amp-twitter", "script", "img",
     "amp-img", "a"}
)  # fmt: skip


MAX_EXTRACT_NODES = 30_000  # elements of a page trafilatura is run on (a news page has ~3,000)


def _main_content_images(doc: Doc) -> set[str] | None:
    """Absolute URLs of the pictures trafilatura keeps in the article's main content, or None
    when it finds no main content.

    trafilatura is a maintained boilerplate remover: it drops sidebars, teaser grids, "most
    read" lists and promos by their shape (link density, text length, position), whatever
    their class names and language.  A 2019 article must not get 16 thumbnails of 2023
    stories from its "Lo más leído" column, which would date them 2019 in the library.
    """
    if sum(1 for _ in itertools.islice(doc.root.iter(), MAX_EXTRACT_NODES + 1)) > MAX_EXTRACT_NODES:
        return None  # too big for trafilatura in bounded time: the article markup decides
    try:
        xml = trafilatura.extract(
            copy.deepcopy(doc.root),
            include_images=True,
            include_comments=False,
            include_tables=True,
            output_format="xml",
            favor_recall=True,
        )
        if not xml:
            return None
        tree = etree.fromstring(xml.encode(), parser=etree.XMLParser(recover=True))
    except Exception:  # noqa: BLE001 - a third-party heuristic must never cost the page
        return None
    if tree is None or tree.find(".//main") is None:
        return None
    found = set()
    for graphic in tree.iter("graphic"):
        url = absolute_url(graphic.get("src"), doc.base)
        if url:
            found.add(url)
    return found


def _image_urls(el: lxml.html.HtmlElement, base: str) -> set[str]:
    """Every URL an <img> may load (src, lazy-loading attributes, srcset candidates)."""
    raw = [el.get(a) for a in ("src", "data-src", "data-lazy-src", "data-original", "data-url")]
    for attr in ("srcset", "data-srcset", "data-lazy-srcset"):
        raw += [part.split()[0] for part in _SRCSET_SPLIT.split(el.get(attr) or "") if part.split()]
    return {url for url in (absolute_url(r, base) for r in raw if r) if url}


def _body_media(doc: Doc, media: _Media) -> None:
    """Media in the body, in page order: videos and player iframes anywhere that counts, images
    and links to posts only inside the article body, and images only where trafilatura finds
    the main content too (when it finds any)."""
    has_content = any(in_content for _, in_content in doc.visible)
    main_images = _main_content_images(doc)
    candidates = ((el, c) for el, c in doc.visible if tag_of(el) in _MEDIA_TAGS)
    for el, in_content in itertools.islice(candidates, MAX_CANDIDATES):
        if media.full:
            return
        in_content = in_content or not has_content  # no article markup: the body is the article
        tag = tag_of(el)
        if tag in ("video", "amp-video"):
            for src in _video_sources(el):
                media.add(src, "video", "video")
        elif tag in ("iframe", "amp-iframe"):
            src = el.get("src") or el.get("data-src") or el.get("data-lazy-src")
            if _embed_link(src, doc.base):
                media.add(src, "embed", "iframe")
        elif tag == "amp-youtube" and el.get("data-videoid"):
            media.add(
                f"https://www.youtube.com/watch?v={el.get('data-videoid')}", "embed", "iframe"
            )
        elif tag == "amp-twitter" and el.get("data-tweetid"):
            media.add(f"https://x.com/i/status/{el.get('data-tweetid')}", "embed", "iframe")
        elif tag == "script" and el.get("data-telegram-post"):
            media.add(f"https://t.me/{el.get('data-telegram-post')}", "embed", "script")
        elif in_content and tag in ("img", "amp-img") and not _decorative(el):
            if main_images and not (_image_urls(el, doc.base) & main_images):
                continue  # a teaser, promo or "most read" thumbnail around the article
            media.add(_image_source(el), "photo", "img")
        elif in_content and tag == "a" and _embed_link(el.get("href"), doc.base):
            media.add(el.get("href"), "embed", "link")


def page_media(doc: Doc) -> tuple[PageMedia, ...]:
    media = _Media(doc.base)
    _og_media(doc, media)
    _jsonld_media(doc, media)
    _body_media(doc, media)
    return tuple(media.items)
