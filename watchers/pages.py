"""Provenance of an article or fact-check page: when it was first published, what media it shows,
and which claims it rates (schema.org ClaimReview).  Pure parsing: no network, no database.

oldclip compares the date a page first showed a clip with the date the clip is now said to be
from, so a wrong date is worse than none.  Hence the explicit order of trust for the date (the
publisher's own JSON-LD, then meta tags, then a byline <time>, then a byline in the text) and the
hard rule that reader comments, "related / read more / most read" lists, nav, footer and aside
never give a date or a medium: a comment saying "posted on June 18, 2017" is not the page.

Why these libraries, chosen by trying them on the seed articles and the fixtures:
- lxml parses the page.  It is fast enough for a 5 MB page (well under a second), never raises on
  broken markup, and caps nesting depth itself, so hostile nesting cannot exhaust the stack.
  watchers/htmltree.py is a stdlib tree without the XPath that extruct needs, so it is not used.
- extruct reads JSON-LD and microdata.  Microdata (itemscope, itemref, nested items, per-tag value
  rules) is fiddly to get right by hand, and its JSON-LD reader forgives what real sites emit (raw
  newlines in strings, leading HTML/JS comments).  It is called one <script> at a time, because
  extruct.extract() drops every JSON-LD block of a page when any one of them is malformed.
- w3lib (already an extruct dependency) decodes bytes the way browsers do: BOM, <meta charset>,
  then our guess.
- htmldate was tried for the date and is not used: it gives no way to know which signal gave the
  date, returns article:modified_time when a page has no published time (we want the first
  publication), and on the microdata fact-check it took the claim's first appearance
  (itemReviewed > firstAppearance > datePublished) for the page's own date.
- dateparser was tried for dates in text and is not used: see watchers/textdates.py.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
from extruct.jsonld import JsonLdExtractor
from extruct.w3cmicrodata import MicrodataExtractor
from lxml import etree
from w3lib.encoding import html_to_unicode

from watchers.mediakind import is_http_url
from watchers.textdates import date_in_text, parse_date, plausible

MAX_INPUT = 16 * 1024 * 1024  # metadata and the article sit at the top; the rest is not read
MAX_TEXT = 200_000  # characters of article text handed to date_in_text (the byline is on top)
MAX_JSONLD_SCRIPT = 1024 * 1024  # a larger JSON-LD block is an app state dump, not metadata
MAX_JSONLD_SCRIPTS = 64
MAX_NODES = 5_000  # JSON-LD / microdata objects looked at, all blocks together
MAX_DEPTH = 12  # nesting followed inside one JSON-LD / microdata object
MAX_MEDIA = 200  # a page showing more is a gallery or a listing, not a report on footage
MAX_CANDIDATES = 5_000  # body elements (img, video, iframe, a...) looked at for media
MAX_TIMES = 100  # <time> elements looked at for a byline
MAX_REVIEWS = 50  # ClaimReview microdata items read
MIN_IMAGE_SIDE = 100  # smaller images are icons, avatars, buttons and tracking pixels


@dataclass(frozen=True)
class PageMedia:
    """A photo, video or embedded post the page shows."""

    url: str  # absolute URL (resolved against the page URL / <base>)
    kind: str  # "video", "photo" or "embed" (YouTube / X / Telegram players or links)
    found_in: str  # "og:video", "og:image", "json-ld", "video", "img", "iframe", "link", ...


@dataclass(frozen=True)
class ClaimReview:
    """One schema.org ClaimReview: a fact-checker's verdict on a claim."""

    claim: str | None  # claimReviewed
    rating: str | None  # reviewRating.alternateName (e.g. "Misleading"), else ratingValue
    review_url: str | None  # the fact-check's url (the page's when the review names none)
    review_date: datetime.date | None  # the ClaimReview's datePublished
    author: str | None  # the fact-checking organisation (author.name)
    appearance_url: str | None  # itemReviewed.firstAppearance, else first appearance, url
    appearance_date: datetime.date | None  # itemReviewed.datePublished, else the appearance's


@dataclass(frozen=True)
class PageInfo:
    """What a page says about itself and shows."""

    url: str
    title: str | None = None
    published: datetime.date | None = None
    published_from: str | None = None  # "json-ld", "meta", "time" or "text"
    language: str | None = None  # "en", "ar", ...
    description: str | None = None
    media: tuple[PageMedia, ...] = ()
    reviews: tuple[ClaimReview, ...] = ()
    canonical_url: str | None = None  # <link rel=canonical> or og:url


class PageError(Exception):
    """The input is not an HTML page at all (empty, an image, a video, JSON, a feed...)."""


# --- decoding and parsing ----------------------------------------------------------------------

_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip-compressed data (the response was not decompressed)"),
    (b"\x1a\x45\xdf\xa3", "a WebM/Matroska video"),
    (b"OggS", "an Ogg audio/video file"),
    (b"ID3", "an MP3 file"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_FEED = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:rdf)[\s>]", re.S | re.I
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _binary_kind(data: bytes) -> str | None:
    """What a byte string is, when its first bytes say it is not text."""
    if data.startswith(_UTF16_BOMS):
        return None
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if data[4:8] == b"ftyp":
        return "an MP4/QuickTime video"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    return None


def _not_html(text: str) -> str | None:
    """Why decoded text is not an HTML page, or None when it may be one."""
    head = text[:4096]
    if not text.strip():
        return "the page is empty: there is no HTML to read"
    if len(_CONTROL.findall(head)) > len(head) * 0.05:
        return "it looks like binary data (many control characters), not an HTML page"
    if _FEED.match(text[:2000]):
        return "it is an RSS/Atom feed, not an HTML page: read it as a feed"
    if text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(text)
        except ValueError:
            return None
        return "it is JSON, not an HTML page: read it with the JSON API's own parser"
    return None


def _guess_encoding(data: bytes) -> str:
    """For pages that declare no charset: UTF-8 when the bytes are valid UTF-8, else the
    Windows Latin-1 that old Western sites use."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _decode(html: bytes | str) -> str:
    """Text of the page; PageError when the input is plainly not an HTML page."""
    if isinstance(html, bytes):
        data = html[:MAX_INPUT]
        what = _binary_kind(data)
        if what:
            raise PageError(f"this is {what}, not an HTML page")
        _, text = html_to_unicode(None, data, auto_detect_fun=_guess_encoding)
    else:
        text = html[:MAX_INPUT]
    reason = _not_html(text)
    if reason:
        raise PageError(reason)
    return text.replace("\x00", "")


def _parse(text: str) -> lxml.html.HtmlElement | None:
    """The page as an lxml tree, comments dropped; None when nothing could be parsed."""
    parser = lxml.html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    try:
        return lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError):
        return None


# --- the parts of a page that never count ------------------------------------------------------

_SKIP_TAGS = frozenset(
    {"nav", "footer", "aside", "form", "noscript", "template", "style", "dialog"}
)
_SKIP_ROLES = frozenset({"navigation", "complementary", "contentinfo", "banner", "search"})
# id/class tokens (one per line, hence MULTILINE) of reader comments, link lists, share bars and
# site chrome.
_NOISE = re.compile(
    r"(?:^|[-_])comments?(?:$|[-_])|^commentlist$|^disqus|^respond$|[-_]respond$"
    r"|related|^read-?more|more-?(?:stories|news|articles)|most-?(?:read|popular|viewed|shared)"
    r"|^popular|trending|recommend|^also-?read|^see-?also|recent-?(?:posts|entries|news|articles)"
    r"|^sidebar|[-_]sidebar$|^widget(?:$|[-_])|widget-?area"
    r"|^share|[-_]share(?:$|[-_])|^sharing|sharedaddy|^social(?:$|-(?:share|links|icons|buttons))"
    r"|^newsletter|^subscribe|^breadcrumbs?$|^advert|^ads?(?:$|[-_])|[-_]ads?$|ad-?slot|^promo"
    r"|outbrain|taboola|^cookie|paywall|^site-?(?:header|footer)|^masthead|^navbar|^main-?nav"
    r"|^nav(?:$|[-_])|^menu(?:$|[-_])|ticker|author-?bio",
    re.MULTILINE,
)
# WordPress post classes describe the post ("tag-related-news"), not the element's role.
_DESCRIPTIVE_PREFIXES = ("tag-", "category-", "categories-", "format-", "type-", "status-", "has-")
_MODIFIED_CLASS = re.compile(r"updated|modified|edited")
_CONTENT_TOKEN = re.compile(
    r"^(?:entry|post|article|story|single)[-_]?(?:content|body|text)$|^article__body$",
    re.MULTILINE,
)


def _tag(el: Any) -> str:
    """Tag name, or "" for comments and processing instructions."""
    return el.tag if isinstance(el.tag, str) else ""


def _tokens(el: lxml.html.HtmlElement) -> list[str]:
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    return [w for w in words if not w.startswith(_DESCRIPTIVE_PREFIXES)]


def _is_modified_date(el: lxml.html.HtmlElement, tag: str) -> bool:
    """A "last updated" date (WordPress <time class="updated">, itemprop=dateModified): themes
    hide it with CSS, but its text would otherwise read as a byline date."""
    if (el.get("itemprop") or "").lower() == "datemodified":
        return True
    classes = (el.get("class") or "").lower()
    return tag == "time" and bool(_MODIFIED_CLASS.search(classes)) and "publish" not in classes


def _classify(el: Any, in_content: bool) -> tuple[bool, bool]:
    """(never counts, holds the article) for one element whose parent is or is not inside the
    article.  Never counts: comments, related / read-more lists, nav, footer, aside, share bars,
    the site header (a <header> inside the article is kept: it holds headline and byline).
    Holds the article: article, main, [itemprop=articleBody], [role=main], .entry-content..."""
    tag = _tag(el)
    if tag in ("html", "body"):
        return False, False
    if not tag or tag in _SKIP_TAGS or (tag == "header" and not in_content):
        return True, False
    if not (el.get("class") or el.get("id") or el.get("role") or el.get("itemprop")):
        return False, tag in ("article", "main")  # the common case, kept cheap
    role = (el.get("role") or "").lower()
    tokens = "\n".join(_tokens(el))
    if role in _SKIP_ROLES or _is_modified_date(el, tag) or _NOISE.search(tokens):
        return True, False
    content = (
        tag in ("article", "main")
        or role == "main"
        or (el.get("itemprop") or "").lower() == "articlebody"
        or bool(_CONTENT_TOKEN.search(tokens))
    )
    return False, content


def _excluded_path(el: lxml.html.HtmlElement) -> bool:
    """True when the element or one of its ancestors never counts."""
    in_content = False
    for node in [*reversed(list(el.iterancestors())), el]:
        excluded, content = _classify(node, in_content)
        if excluded:
            return True
        in_content = in_content or content
    return False


def _visible(body: lxml.html.HtmlElement) -> list[tuple[lxml.html.HtmlElement, bool]]:
    """Elements of the body that count, in document order, each with whether it is inside the
    article body.  Iterative (no recursion); each element is classified once per page."""
    found = []
    stack = [(body, _classify(body, False)[1])]
    while stack:
        el, in_content = stack.pop()
        found.append((el, in_content))
        for child in reversed(el):
            excluded, content = _classify(child, in_content)
            if not excluded:
                stack.append((child, in_content or content))
    return found


_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
     "table", "ul", "ol", "dl", "dt", "dd", "section", "article", "header", "figure",
     "figcaption", "main", "address", "hr", "br"}
)  # fmt: skip
_NO_TEXT_TAGS = frozenset({"script", "style", "template", "noscript", "select", "option"})


def _visible_text(
    root: lxml.html.HtmlElement, visible: set[lxml.html.HtmlElement], limit: int = MAX_TEXT
) -> str:
    """Readable text of the parts that count: block elements and <br> end lines."""
    parts: list[str] = []
    size = 0
    stack: list[str | lxml.html.HtmlElement] = [root]
    while stack and size < limit:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            size += len(item)
            continue
        tag = _tag(item)
        if tag in _NO_TEXT_TAGS:
            continue
        block = tag in _BLOCK_TAGS
        if block:
            stack.append("\n")
        for child in reversed(item):
            if child.tail:
                stack.append(child.tail)
            if child in visible:
                stack.append(child)
        if item.text:
            stack.append(item.text)
        if block:
            stack.append("\n")
    lines = (" ".join(line.split()) for line in "".join(parts)[:limit].split("\n"))
    return "\n".join(line for line in lines if line)


# --- the document and its metadata -------------------------------------------------------------

_ARTICLE_TYPE = re.compile(
    r"(?:Article|BlogPosting|Report|LiveBlogPosting|SocialMediaPosting|ClaimReview)$"
)
_PAGE_TYPES = frozenset({"WebPage", "ItemPage"})
_NOT_CONTENT_TYPES = frozenset(
    {"Organization", "NewsMediaOrganization", "Corporation", "Person", "WebSite", "Brand",
     "BreadcrumbList", "SiteNavigationElement", "ItemList", "Comment", "SearchAction"}
)  # fmt: skip


@dataclass
class _Doc:
    """The parsed page and what is read from it more than once."""

    url: str
    base: str
    root: lxml.html.HtmlElement
    body: lxml.html.HtmlElement
    scope: lxml.html.HtmlElement  # the article (headline, byline, body), else the whole body
    visible: list[tuple[lxml.html.HtmlElement, bool]]  # see _visible()
    visible_set: set[lxml.html.HtmlElement]
    meta: list[tuple[str, str]] = field(default_factory=list)
    first_meta: dict[str, str] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # JSON-LD, @graph flattened
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON-LD nodes by @id

    def meta_value(self, *keys: str) -> str | None:
        """The first non-empty value among meta keys, in the order of the keys."""
        return next((self.first_meta[k] for k in keys if k in self.first_meta), None)

    def in_scope(self, el: lxml.html.HtmlElement) -> bool:
        return self.scope is self.body or any(a is self.scope for a in el.iterancestors())

    def resolve(self, value: Any) -> Any:
        """A JSON-LD reference {"@id": ...} replaced by the node it names, when on the page."""
        if isinstance(value, dict) and set(value) <= {"@id", "@type"}:
            return self.ids.get(str(value.get("@id")), value)
        return value


def _types(node: Any) -> set[str]:
    """schema.org type names of a JSON-LD/microdata node, without the schema.org prefix."""
    if not isinstance(node, dict):
        return set()
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.rstrip("/").rsplit("/", 1)[-1].split(":")[-1] for v in values if isinstance(v, str)}


def _owner_is_page(el: lxml.html.HtmlElement) -> bool:
    """A microdata <meta itemprop> describes the page unless it belongs to some other item
    (the reviewed claim, a comment, an author...)."""
    for node in el.iterancestors():
        if node.get("itemscope") is not None:
            kind = (node.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]
            return bool(_ARTICLE_TYPE.search(kind)) or kind in _PAGE_TYPES
    return True


def _meta_tags(
    root: lxml.html.HtmlElement, visible: list[tuple[lxml.html.HtmlElement, bool]]
) -> list[tuple[str, str]]:
    """(name, content) of <meta> tags in the head and in the parts of the body that count."""
    head = root.find("head")
    head_metas = list(head.iter("meta")) if head is not None else []
    body_metas = [el for el, _ in visible if _tag(el) == "meta"]
    found = []
    for el in head_metas + body_metas:
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = " ".join((el.get("content") or "").split())
        if name and content and (not el.get("itemprop") or _owner_is_page(el)):
            found.append((name, content))
    return found


def _flatten(item: Any, out: list[dict[str, Any]]) -> None:
    """Top-level JSON-LD nodes: the item itself and the members of its @graph."""
    if len(out) >= MAX_NODES:
        return
    if isinstance(item, list):
        for member in item[:MAX_NODES]:
            _flatten(member, out)
    elif isinstance(item, dict):
        if "@type" in item:
            out.append(item)
        graph = item.get("@graph")
        if isinstance(graph, list):
            for member in graph[:MAX_NODES]:
                if isinstance(member, dict):
                    _flatten(member, out)


def _jsonld_nodes(root: lxml.html.HtmlElement) -> list[dict[str, Any]]:
    """JSON-LD objects of the page; a block that does not parse is skipped, the rest is read."""
    nodes: list[dict[str, Any]] = []
    scripts = [s for s in root.iter("script") if s.get("type") == "application/ld+json"]
    for script in scripts[:MAX_JSONLD_SCRIPTS]:
        if len(script.text or "") > MAX_JSONLD_SCRIPT:
            continue
        try:
            items = JsonLdExtractor().extract_items(script)
        except Exception:  # noqa: BLE001 - json/jstyleson raise many types on hostile input
            continue
        _flatten(items, nodes)
    return nodes


def _from_microdata(item: Any, depth: int = 0) -> Any:
    """A microdata item as extruct gives it, reshaped like JSON-LD ("@type", properties)."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(item, list):
        return [_from_microdata(v, depth + 1) for v in item]
    if isinstance(item, dict) and isinstance(item.get("properties"), dict):
        types = item.get("type")
        node: dict[str, Any] = {"@type": types if isinstance(types, list) else [types]}
        for key, value in item["properties"].items():
            node[key] = _from_microdata(value, depth + 1)
        return node
    return item


def _microdata_nodes(root: lxml.html.HtmlElement, base: str) -> list[dict[str, Any]]:
    """ClaimReview microdata items of the page, outside comments and link lists, shaped like
    JSON-LD.  Only ClaimReview items are read (that is all microdata is used for here), each
    from a copy of its own subtree: extruct indexes every item of the document on each call,
    which took seconds on a page with thousands of items.  An itemref pointing outside the
    ClaimReview is lost; fact-checkers do not use it."""
    outermost: list[lxml.html.HtmlElement] = []
    for element in root.xpath("//*[@itemscope][contains(@itemtype, 'ClaimReview')]"):
        if len(outermost) >= MAX_REVIEWS:
            break
        inside = any(a in outermost for a in element.iterancestors())  # read with its parent
        if not inside and not _excluded_path(element):
            outermost.append(element)
    nodes = []
    for element in outermost:
        try:
            items = MicrodataExtractor().extract_items(copy.deepcopy(element), base_url=base)
        except Exception:  # noqa: BLE001 - third-party parsing of hostile markup must not cost the page
            continue
        nodes.extend(n for n in (_from_microdata(i) for i in items[:1]) if isinstance(n, dict))
    return nodes


def _base_url(root: lxml.html.HtmlElement, url: str) -> str:
    base = root.find(".//base[@href]")
    if base is None:
        return url
    try:
        return urljoin(url, base.get("href", "").strip())
    except ValueError:
        return url


def _load(root: lxml.html.HtmlElement, url: str) -> _Doc:
    body = root.find("body")
    body = body if body is not None else root
    visible = _visible(body)
    # The first <article> that counts holds headline, byline and story; else the whole body.
    scope = next((el for el, _ in visible if _tag(el) == "article"), body)
    nodes = _jsonld_nodes(root)
    meta = _meta_tags(root, visible)
    first_meta: dict[str, str] = {}
    for name, value in meta:
        first_meta.setdefault(name, value)
    return _Doc(
        url=url,
        base=_base_url(root, url),
        root=root,
        body=body,
        scope=scope,
        visible=visible,
        visible_set={el for el, _ in visible},
        meta=meta,
        first_meta=first_meta,
        nodes=nodes,
        ids={n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 2},
    )


# --- small value readers (JSON-LD values come in every shape) ----------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text_value(value: Any) -> str | None:
    """A string from a JSON-LD value: the string, a number's text, a node's name or @value."""
    for item in _as_list(value)[:MAX_DEPTH]:
        if isinstance(item, bool):
            continue
        if isinstance(item, str) and item.strip():
            return " ".join(item.split())
        if isinstance(item, int | float):
            return str(item)
        if isinstance(item, dict):
            text = _text_value(item.get("name")) or _text_value(item.get("@value"))
            if text:
                return text
    return None


def _url_value(value: Any) -> str | None:
    """A URL from a JSON-LD value: a string, or a node's url / contentUrl / @id."""
    for item in _as_list(value)[:MAX_DEPTH]:
        if isinstance(item, str) and item.strip():
            return item.strip()
        if isinstance(item, dict):
            for key in ("url", "contentUrl", "@id"):
                found = item.get(key)
                if isinstance(found, str) and found.strip():
                    return found.strip()
    return None


_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})")
_COMPACT_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})(?:T?\d{4,6})?\s*")


def _date_value(value: Any) -> datetime.date | None:
    """A date from a metadata value: ISO 8601 (the date as the publisher wrote it, not converted
    to UTC), 20170620, an RFC 2822 date, or a written date ("June 20, 2017", "٦ ديسمبر ٢٠٢٤")."""
    text = _text_value(value)
    if not text:
        return None
    match = _ISO_DATE.match(text) or _COMPACT_DATE.fullmatch(text)
    if match:
        try:
            return datetime.date(*(int(g) for g in match.groups()))
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return parse_date(text)


def _absolute(raw: str | None, base: str, strict: bool = False) -> str | None:
    """An absolute http(s) URL, or None (data:, javascript:, garbage).

    Spaces in an HTML attribute are encoded as a browser does; a JSON-LD value with spaces
    (`strict`) is prose in a URL field, not a URL.
    """
    raw = (raw or "").strip()
    if not raw or raw.lower().startswith("data:") or (strict and re.search(r"\s", raw)):
        return None
    try:
        url = urljoin(base, re.sub(r"\s", "%20", raw))
    except ValueError:
        return None
    return url if is_http_url(url) else None


# --- title, description, language --------------------------------------------------------------

_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|•|«|»)\s+")


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def _site_names(doc: _Doc) -> set[str]:
    """Names the site goes by, to recognise a " | Site" suffix in a title."""
    names = {doc.meta_value("og:site_name"), doc.meta_value("application-name")}
    for node in doc.nodes:
        if _types(node) & {"WebSite", "Organization", "NewsMediaOrganization"}:
            names.add(_text_value(node.get("name")))
        names.add(_text_value(doc.resolve(node.get("publisher"))))
    host = (urlsplit(doc.url).hostname or "").removeprefix("www.")
    names.update({host, host.split(".")[0]})
    return {_squash(n) for n in names if n} - {""}


def _is_site_name(text: str, site_names: set[str]) -> bool:
    """Whether a title's suffix names the site: "Combat Clips Daily" at combatclips.example,
    "Misbar" at misbar.ss, or og:site_name."""
    squashed = _squash(text)
    return any(
        squashed == name
        or (
            min(len(squashed), len(name)) >= 5
            and (squashed.startswith(name) or name.startswith(squashed))
        )
        for name in site_names
    )


def _trim_title(title: str | None, site_names: set[str]) -> str | None:
    """Drop a site-name suffix (" | Misbar", " - مسبار"): what is left is the headline."""
    if not title:
        return None
    title = " ".join(title.split())
    parts = list(_SEPARATORS.finditer(title))
    if parts:
        last = parts[-1]
        head, tail = title[: last.start()], title[last.end() :]
        short_after_bar = "|" in last.group() and len(tail.split()) < min(5, len(head.split()))
        if head and (_is_site_name(tail, site_names) or short_after_bar):
            title = head
    return title or None


def _main_nodes(doc: _Doc) -> list[dict[str, Any]]:
    """JSON-LD nodes that describe this page: articles first, then ClaimReview, then WebPage;
    among equals, the one whose url is the page's comes first."""

    def same_page(node: dict[str, Any]) -> bool:
        urls = {_url_value(node.get(k)) for k in ("url", "@id", "mainEntityOfPage")}
        return any(u and u.split("#")[0].rstrip("/") == doc.url.rstrip("/") for u in urls)

    def rank(node: dict[str, Any]) -> tuple[int, bool]:
        types = _types(node)
        kind = 2 if types & _PAGE_TYPES else 1 if "ClaimReview" in types else 0
        return kind, not same_page(node)

    chosen = [
        n
        for n in doc.nodes
        if any(_ARTICLE_TYPE.search(t) for t in _types(n)) or _types(n) & _PAGE_TYPES
    ]
    return sorted(chosen, key=rank)


def _first_h1(doc: _Doc) -> str | None:
    for el, _ in doc.visible:
        if _tag(el) == "h1":
            text = " ".join(el.text_content().split())
            if text:
                return text
    return None


def _title(doc: _Doc) -> str | None:
    """og:title, JSON-LD headline, <h1>, <title>: the first there, site suffix trimmed."""
    title_el = doc.root.find(".//title")
    candidates = [
        doc.meta_value("og:title"),
        next((_text_value(n.get("headline")) for n in _main_nodes(doc) if n.get("headline")), None),
        _first_h1(doc),
        title_el.text_content() if title_el is not None else None,
    ]
    names = _site_names(doc)
    return next((t for t in (_trim_title(c, names) for c in candidates) if t), None)


def _canonical(doc: _Doc) -> str | None:
    """Where the page says it lives: <link rel=canonical>, else og:url (http(s) only).

    A page saved to disk has lost its address; this is the one a clip's source should name.
    """
    for link in doc.root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            found = urljoin(doc.base, link.get("href").strip())
            if found.startswith(("http://", "https://")):
                return found
    found = doc.meta_value("og:url")
    return found if found and found.startswith(("http://", "https://")) else None


def _description(doc: _Doc) -> str | None:
    found = doc.meta_value("og:description", "description", "twitter:description")
    if not found:
        found = next((_text_value(n.get("description")) for n in _main_nodes(doc)), None)
    return found or None


_ARABIC_SCRIPT_LANGS = frozenset({"ar", "fa", "ur", "ps", "ku", "ckb", "sd", "ug"})
_NOT_LANGS = frozenset({"und", "mul", "zxx", "mis"})


def _lang_code(value: Any) -> str | None:
    """The primary language subtag: "en" from "en-US", "ar" from "ar_AR" or
    {"alternateName": "ar"}; None for "x-default", "und" or a language name."""
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    text = _text_value(value)
    match = re.match(r"\s*([A-Za-z]{2,3})(?:[-_\s]|$)", text or "")
    code = match.group(1).lower() if match else None
    return None if code in _NOT_LANGS else code


def _arabic_share(text: str) -> tuple[float, int]:
    """Share of letters in Arabic script, and how many letters were counted."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0, 0
    arabic = sum(1 for c in letters if "\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u08ff")
    return arabic / len(letters), len(letters)


def _language(doc: _Doc, sample: str) -> str | None:
    """<html lang>, og:locale, JSON-LD inLanguage, else the script of the text.

    Arabic themes often keep the template's lang="en-US": text that is overwhelmingly Arabic
    overrides a declared language that is not written in Arabic script.
    """
    declared = (
        _lang_code(doc.root.get("lang") or doc.root.get("xml:lang"))
        or _lang_code(doc.meta_value("og:locale"))
        or next(
            (c for n in _main_nodes(doc) + doc.nodes if (c := _lang_code(n.get("inLanguage")))),
            None,
        )
    )
    share, letters = _arabic_share(sample)
    if declared and (declared in _ARABIC_SCRIPT_LANGS or share < 0.8 or letters < 200):
        return declared
    return "ar" if share > 0.5 and letters >= 20 else declared


# --- the publication date ----------------------------------------------------------------------

_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "article:published",
    "og:published_time", "published_time", "datepublished", "article.published", "pubdate",
    "publishdate", "publish-date", "publish_date", "publication_date", "publication-date",
    "date_published", "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created",
    "sailthru.date", "parsely-pub-date", "cxenseparse:recs:publishtime", "originalpublicationdate",
    "original-publish-date", "citation_publication_date", "prism.publicationdate",
    "article_date_original", "datecreated", "dc.date", "dcterms.date", "date",
)  # fmt: skip
_PUBLISHED_CLASS = re.compile(r"publish|posted|entry-date|post-date|pubdate|date-?pub")
_BYLINE_CONTEXT = re.compile(
    r"byline|meta|dateline|posted|publish|(?:article|post|entry|story)-?(?:info|header|details)"
    r"|author|^date$|[-_]date$"
)


def _plausible(date: datetime.date | None) -> datetime.date | None:
    return date if date is not None and plausible(date) else None


def _jsonld_published(doc: _Doc) -> datetime.date | None:
    for node in _main_nodes(doc):
        for key in ("datePublished", "dateCreated"):
            found = _plausible(_date_value(node.get(key)))
            if found:
                return found
    return None


def _meta_published(doc: _Doc) -> datetime.date | None:
    for key in _PUBLISHED_META:
        found = _plausible(_date_value(doc.meta_value(key)))
        if found:
            return found
    return None


def _is_byline_time(el: lxml.html.HtmlElement, scope: lxml.html.HtmlElement) -> bool:
    """A <time> that dates the article: marked as published, or in its header or byline.

    A <time> in a sentence of the story ("the battle of <time>3 March 2016</time>") is not.
    """
    itemprop = (el.get("itemprop") or "").lower()
    classes = (el.get("class") or "").lower()
    if itemprop in ("datepublished", "datecreated") or el.get("pubdate") is not None:
        return True
    if _PUBLISHED_CLASS.search(classes):
        return True
    for depth, node in enumerate(el.iterancestors()):
        if depth >= 5 or node is scope.getparent():
            break
        if _tag(node) == "header" or any(_BYLINE_CONTEXT.search(t) for t in _tokens(node)):
            return True
    return False


def _time_published(doc: _Doc) -> datetime.date | None:
    times = (el for el, _ in doc.visible if _tag(el) == "time" and doc.in_scope(el))
    for el in itertools.islice(times, MAX_TIMES):  # a byline comes early
        if not _is_byline_time(el, doc.scope):
            continue
        stamp = el.get("datetime")
        found = _plausible(_date_value(stamp) if stamp else parse_date(el.text_content()))
        if found:
            return found
    return None


def _published(doc: _Doc, text: str) -> tuple[datetime.date | None, str | None]:
    """The first publication date and the signal it came from, most trusted signal first."""
    for source, find in (
        ("json-ld", lambda: _jsonld_published(doc)),
        ("meta", lambda: _meta_published(doc)),
        ("time", lambda: _time_published(doc)),
        ("text", lambda: date_in_text(text)),
    ):
        found = find()
        if found:
            return found, source
    return None, None


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
        url = _absolute(raw, self.base, strict)
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


def _og_media(doc: _Doc, media: _Media) -> None:
    video_type = (doc.meta_value("og:video:type") or "").lower()
    video_kind = "embed" if video_type.startswith("text/html") else "video"
    for name, value in doc.meta:
        if name in ("og:video", "og:video:url", "og:video:secure_url"):
            media.add(value, video_kind, "og:video")
    for name, value in doc.meta:
        if name in ("og:image", "og:image:url", "og:image:secure_url"):
            media.add(value, "photo", "og:image")


def _jsonld_media_of(value: Any, hint: str, doc: _Doc) -> Iterator[tuple[str | None, str]]:
    """(url, kind) of a JSON-LD image/video value: a URL string, ImageObject or VideoObject."""
    for item in _as_list(value)[:MAX_DEPTH]:
        item = doc.resolve(item)
        if isinstance(item, str):
            yield item, hint
        elif isinstance(item, dict):
            types = _types(item)
            if "VideoObject" in types or (hint == "video" and "ImageObject" not in types):
                yield _url_value(item.get("contentUrl")), "video"
                yield _url_value(item.get("embedUrl")), "embed"
            elif "ImageObject" in types or hint == "photo":
                yield _url_value(item.get("contentUrl")) or _url_value(item.get("url")), "photo"


def _jsonld_media(doc: _Doc, media: _Media) -> None:
    """The page's own videos and images in JSON-LD; never a publisher logo or author photo."""
    for node in doc.nodes:
        types = _types(node)
        if types & _NOT_CONTENT_TYPES:
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
    tokens = _tokens(el) + (_tokens(parent) if parent is not None else [])
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
    return embed_url(_absolute(raw, base) or "") is not None


_MEDIA_TAGS = frozenset(
    {"video", "amp-video", "iframe", "amp-iframe", "amp-youtube", "amp-twitter", "script", "img",
     "amp-img", "a"}
)  # fmt: skip


def _body_media(doc: _Doc, media: _Media) -> None:
    """Media in the body, in page order: videos and player iframes anywhere that counts, images
    and links to posts only inside the article body."""
    has_content = any(in_content for _, in_content in doc.visible)
    candidates = ((el, c) for el, c in doc.visible if _tag(el) in _MEDIA_TAGS)
    for el, in_content in itertools.islice(candidates, MAX_CANDIDATES):
        if media.full:
            return
        in_content = in_content or not has_content  # no article markup: the body is the article
        tag = _tag(el)
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
            media.add(_image_source(el), "photo", "img")
        elif in_content and tag == "a" and _embed_link(el.get("href"), doc.base):
            media.add(el.get("href"), "embed", "link")


def _media(doc: _Doc) -> tuple[PageMedia, ...]:
    media = _Media(doc.base)
    _og_media(doc, media)
    _jsonld_media(doc, media)
    _body_media(doc, media)
    return tuple(media.items)


# --- ClaimReview -------------------------------------------------------------------------------


def _claim_reviews(nodes: Iterable[Any], doc: _Doc) -> Iterator[dict[str, Any]]:
    """Every ClaimReview object, wherever it is nested (bounded)."""
    stack = [(n, 0) for n in reversed(list(nodes))]
    seen = 0
    while stack and seen < MAX_NODES:
        value, depth = stack.pop()
        seen += 1
        if isinstance(value, dict):
            if "ClaimReview" in _types(value):
                yield value
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth < MAX_DEPTH:
            stack.extend((doc.resolve(c), depth + 1) for c in reversed(children[:MAX_NODES]))


def _appearance(reviewed: Any, doc: _Doc) -> tuple[str | None, datetime.date | None]:
    """Where and when the reviewed claim appeared: firstAppearance, else the first appearance,
    else the reviewed item's own url; the date the item gives, else the appearance's."""
    if not isinstance(reviewed, dict):
        return None, None
    chosen: Any = None
    for candidate in [reviewed.get("firstAppearance"), *_as_list(reviewed.get("appearance"))]:
        candidate = doc.resolve(candidate)
        if _url_value(candidate):
            chosen = candidate
            break
    url = _url_value(chosen) or _url_value(reviewed.get("url"))
    date = _date_value(reviewed.get("datePublished"))
    if date is None and isinstance(chosen, dict):
        date = _date_value(chosen.get("datePublished"))
    return _absolute(url, doc.base, strict=True), date


def _rating(value: Any) -> str | None:
    if isinstance(value, dict):
        return _text_value(value.get("alternateName")) or _text_value(value.get("ratingValue"))
    return _text_value(value)


def _review(node: dict[str, Any], doc: _Doc) -> ClaimReview:
    url = _url_value(node.get("url"))
    appearance_url, appearance_date = _appearance(doc.resolve(node.get("itemReviewed")), doc)
    author = node.get("author")
    return ClaimReview(
        claim=_text_value(node.get("claimReviewed")),
        rating=_rating(doc.resolve(node.get("reviewRating"))),
        review_url=_absolute(url, doc.base, strict=True) or doc.url,
        review_date=_date_value(node.get("datePublished")),
        author=_text_value([doc.resolve(a) for a in _as_list(author)]),
        appearance_url=appearance_url,
        appearance_date=appearance_date,
    )


def _reviews(doc: _Doc) -> tuple[ClaimReview, ...]:
    found: list[ClaimReview] = []
    for node in _claim_reviews(doc.nodes + _microdata_nodes(doc.root, doc.base), doc):
        review = _review(node, doc)
        if review not in found:
            found.append(review)
    return tuple(found)


# --- the whole page ----------------------------------------------------------------------------


def read_page(html: bytes | str, url: str) -> PageInfo:
    """Read what an article or fact-check page says about itself: title, first publication date
    (and which signal gave it), language, description, media and ClaimReviews.

    Never raises on broken or hostile HTML: what cannot be read is left empty.  Raises PageError
    only when the input is plainly not an HTML page (empty, an image, a video, JSON, a feed).
    """
    root = _parse(_decode(html))
    if root is None:
        return PageInfo(url=url)
    doc = _load(root, url)
    text = _visible_text(doc.scope, doc.visible_set)
    published, published_from = _published(doc, text)
    title = _title(doc)
    description = _description(doc)
    return PageInfo(
        url=url,
        title=title,
        published=published,
        published_from=published_from,
        language=_language(doc, f"{title or ''}\n{description or ''}\n{text[:5000]}"),
        description=description,
        media=_media(doc),
        reviews=_reviews(doc),
        canonical_url=_canonical(doc),
    )
