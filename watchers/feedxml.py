"""Parsing RSS/Atom bytes with feedparser, with one clear error when the bytes are not a feed.

feedparser never raises: it sets `bozo` and carries on, which is right for slightly broken real
feeds (an unescaped "&") but wrong for an HTML error page or a truncated download, which would
silently look like "no new posts".  This module draws that line once for rss, youtube and
reddit.  It only ever parses bytes: `feedparser.parse(url)` would fetch with urllib, without
our SSRF guard, size cap or timeout.
"""

from __future__ import annotations

import feedparser
from lxml import etree

from watchers.errors import FeedError

# bozo exceptions that do not mean "broken": feedparser copes and the entries are fine.
_HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")


def parse_feed_bytes(body: bytes, feed_url: str) -> feedparser.FeedParserDict:
    """Parse `body`; raise FeedError if it is empty, not a feed, or too broken to trust."""
    if not body or not body.strip():
        raise FeedError(feed_url, "the response was empty", "the source may be down; retry later")
    try:
        # No base URL on purpose: feedparser would also "resolve" opaque ids like Reddit's
        # "t3_abc" into URLs; parsers join relative links with the feed URL themselves.
        parsed = feedparser.parse(body, sanitize_html=True)
    except Exception as exc:  # feedparser should never raise; never let one source crash a poll
        raise FeedError(feed_url, f"the feed parser failed ({type(exc).__name__}: {exc})") from None
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    exc = parsed.get("bozo_exception")
    broken = bool(parsed.get("bozo")) and type(exc).__name__ not in _HARMLESS_BOZO
    if not version and not entries:
        detail = f" ({exc})" if broken and exc else ""
        raise FeedError(
            feed_url,
            f"this is not an RSS or Atom feed{detail}",
            "the URL may point to a web page or an error page; open it in a browser",
        )
    usable = [e for e in entries if e.get("link") or e.get("id")]
    if broken and not usable:
        raise FeedError(
            feed_url,
            f"the XML is malformed or truncated ({exc})",
            "the download may have been cut off; it will be retried on the next poll",
        )
    return parsed


_ATOM = "{http://www.w3.org/2005/Atom}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_ITEM_TAGS = frozenset({"item", f"{_RSS1}item", f"{_ATOM}entry"})


def _own_link(item: etree._Element) -> str | None:
    """The item's own link: a direct <link> child (RSS text, Atom rel="alternate" href)."""
    for child in item:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in ("link", f"{_RSS1}link") and (child.text or "").strip():
            return (child.text or "").strip()
        if tag == f"{_ATOM}link" and child.get("rel", "alternate") == "alternate":
            href = (child.get("href") or "").strip()
            if href:
                return href
    return None


def own_links(body: bytes) -> list[str | None] | None:
    """Each item's own link, in feed order, or None when the XML cannot be read so.

    feedparser takes the last <link> it meets inside an item, including ones nested in other
    namespaces (Yandex's <yandex:related><link url=...> lists of other articles), which gives
    an item another article's URL and id.  Only a direct child is the item's own link.
    """
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None:
        return None
    return [_own_link(el) for el in root.iter() if el.tag in _ITEM_TAGS]
