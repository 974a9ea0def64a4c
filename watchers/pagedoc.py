"""A page parsed once: decoded, its article found, its metadata (meta tags, JSON-LD,
microdata) read, and the small readers for the values metadata comes in.

Why these libraries, chosen by trying them on the seed articles and the fixtures:
- lxml parses the page.  It is fast enough for a 5 MB page (well under a second), never raises on
  broken markup, and caps nesting depth itself, so hostile nesting cannot exhaust the stack.
- extruct reads JSON-LD and microdata.  Microdata (itemscope, itemref, nested items, per-tag value
  rules) is fiddly to get right by hand, and its JSON-LD reader forgives what real sites emit (raw
  newlines in strings, leading HTML/JS comments).  It is called one <script> at a time, because
  extruct.extract() drops every JSON-LD block of a page when any one of them is malformed.
- w3lib (already an extruct dependency) decodes bytes the way browsers do: BOM, <meta charset>,
  then our guess.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
from extruct.jsonld import JsonLdExtractor
from extruct.w3cmicrodata import MicrodataExtractor
from lxml import etree
from w3lib.encoding import html_to_unicode

from watchers.mediakind import is_http_url
from watchers.pagenoise import article_holders, excluded_path, tag_of, visible_elements
from watchers.textdates import parse_date

MAX_INPUT = 16 * 1024 * 1024  # metadata and the article sit at the top; the rest is not read
MAX_JSONLD_SCRIPT = 1024 * 1024  # a larger JSON-LD block is an app state dump, not metadata
MAX_JSONLD_SCRIPTS = 64
MAX_NODES = 5_000  # JSON-LD / microdata objects looked at, all blocks together
MAX_DEPTH = 12  # nesting followed inside one JSON-LD / microdata object
MAX_MEDIA = 200  # a page showing more is a gallery or a listing, not a report on footage
MAX_CANDIDATES = 5_000  # body elements (img, video, iframe, a...) looked at for media
MAX_TIMES = 100  # <time> elements looked at for a byline
MAX_REVIEWS = 50  # ClaimReview microdata items read
MIN_IMAGE_SIDE = 100  # smaller images are icons, avatars, buttons and tracking pixels


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


def decode_page(html: bytes | str) -> str:
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


def parse_page(text: str) -> lxml.html.HtmlElement | None:
    """The page as an lxml tree, comments dropped; None when nothing could be parsed."""
    parser = lxml.html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    try:
        return lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError):
        return None


# --- the document and its metadata -------------------------------------------------------------

_ARTICLE_TYPE = re.compile(
    r"(?:Article|BlogPosting|Report|LiveBlogPosting|SocialMediaPosting|ClaimReview)$"
)
_PAGE_TYPES = frozenset({"WebPage", "ItemPage"})
NOT_CONTENT_TYPES = frozenset(
    {"Organization", "NewsMediaOrganization", "Corporation", "Person", "WebSite", "Brand",
     "BreadcrumbList", "SiteNavigationElement", "ItemList", "Comment", "SearchAction"}
)  # fmt: skip


@dataclass
class Doc:
    """The parsed page and what is read from it more than once."""

    url: str
    base: str
    root: lxml.html.HtmlElement
    body: lxml.html.HtmlElement
    scope: lxml.html.HtmlElement  # the article (headline, byline, body), else the whole body
    visible: list[tuple[lxml.html.HtmlElement, bool]]  # see visible_elements()
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


def types_of(node: Any) -> set[str]:
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


def _owned_by_article(el: lxml.html.HtmlElement) -> bool:
    """A microdata property of an Article / BlogPosting item (not of a comment or a claim)."""
    for node in el.iterancestors():
        if node.get("itemscope") is not None:
            kind = (node.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]
            return bool(_ARTICLE_TYPE.search(kind)) and kind != "ClaimReview"
    return any(tag_of(a) == "article" for a in el.iterancestors())


def _meta_tags(
    root: lxml.html.HtmlElement, visible: list[tuple[lxml.html.HtmlElement, bool]]
) -> list[tuple[str, str]]:
    """(name, content) of <meta> tags in the head and in the parts of the body that count."""
    head = root.find("head")
    head_metas = list(head.iter("meta")) if head is not None else []
    body_metas = [el for el, _ in visible if tag_of(el) == "meta"]
    seen = set(body_metas)
    # An article's own microdata metas count wherever its template puts them, even in the
    # <footer> inside the <article> ("entry-footer"), which is otherwise never read.
    body_metas += [
        el
        for el in root.iter("meta")
        if el not in seen and el.get("itemprop") and _owned_by_article(el)
    ]
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


def _lenient_json(text: str) -> Any:
    """The first whole JSON value of a block that has junk after it (a stray "}" left by a
    template): what a browser's JSON-LD consumer would still read.  None when even that fails."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text.strip().removeprefix("<!--").strip())
    except (ValueError, RecursionError):
        return None
    return value


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
            items = _lenient_json(script.text or "")
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


def microdata_nodes(root: lxml.html.HtmlElement, base: str) -> list[dict[str, Any]]:
    """ClaimReview microdata items of the page, outside comments and link lists, shaped like
    JSON-LD.  Only ClaimReview items are read (that is all microdata is used for here), each
    from a copy of its own subtree: extruct indexes every item of the document on each call,
    which took seconds on a page with thousands of items.  An itemref pointing outside the
    ClaimReview is lost; fact-checkers do not use it."""
    outermost: list[lxml.html.HtmlElement] = []
    holders = None
    for element in root.xpath("//*[@itemscope][contains(@itemtype, 'ClaimReview')]"):
        if len(outermost) >= MAX_REVIEWS:
            break
        if holders is None:
            holders = article_holders(root)
        inside = any(a in outermost for a in element.iterancestors())  # read with its parent
        if not inside and not excluded_path(element, holders):
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


def load_doc(root: lxml.html.HtmlElement, url: str) -> Doc:
    body = root.find("body")
    body = body if body is not None else root
    visible = visible_elements(body)
    # The first <article> that counts holds headline, byline and story; else the whole body.
    scope = next((el for el, _ in visible if tag_of(el) == "article"), body)
    nodes = _jsonld_nodes(root)
    meta = _meta_tags(root, visible)
    first_meta: dict[str, str] = {}
    for name, value in meta:
        first_meta.setdefault(name, value)
    return Doc(
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


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text_value(value: Any) -> str | None:
    """A string from a JSON-LD value: the string, a number's text, a node's name or @value."""
    for item in as_list(value)[:MAX_DEPTH]:
        if isinstance(item, bool):
            continue
        if isinstance(item, str) and item.strip():
            return " ".join(item.split())
        if isinstance(item, int | float):
            return str(item)
        if isinstance(item, dict):
            text = text_value(item.get("name")) or text_value(item.get("@value"))
            if text:
                return text
    return None


def url_value(value: Any) -> str | None:
    """A URL from a JSON-LD value: a string, or a node's url / contentUrl / @id."""
    for item in as_list(value)[:MAX_DEPTH]:
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


def date_value(value: Any) -> datetime.date | None:
    """A date from a metadata value: ISO 8601 (the date as the publisher wrote it, not converted
    to UTC), 20170620, an RFC 2822 date, or a written date ("June 20, 2017", "٦ ديسمبر ٢٠٢٤")."""
    text = text_value(value)
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


# A host name at the start of a metadata URL written without its scheme.
_SCHEMELESS_HOST = re.compile(r"(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:/|$)", re.I)


def absolute_url(raw: str | None, base: str, strict: bool = False) -> str | None:
    """An absolute http(s) URL, or None (data:, javascript:, garbage).

    Spaces in an HTML attribute are encoded as a browser does; a JSON-LD value with spaces
    (`strict`) is prose in a URL field, not a URL.
    """
    raw = (raw or "").strip()
    if not raw or raw.lower().startswith("data:") or (strict and re.search(r"\s", raw)):
        return None
    if strict and _SCHEMELESS_HOST.match(raw):
        raw = "https://" + raw  # "aosfatos.org/noticias/..." in JSON-LD is a site, not a path
    try:
        url = urljoin(base, re.sub(r"\s", "%20", raw))
    except ValueError:
        return None
    return url if is_http_url(url) else None


def main_nodes(doc: Doc) -> list[dict[str, Any]]:
    """JSON-LD nodes that describe this page: articles first, then ClaimReview, then WebPage;
    among equals, the one whose url is the page's comes first."""

    def same_page(node: dict[str, Any]) -> bool:
        urls = {url_value(node.get(k)) for k in ("url", "@id", "mainEntityOfPage")}
        return any(u and u.split("#")[0].rstrip("/") == doc.url.rstrip("/") for u in urls)

    def rank(node: dict[str, Any]) -> tuple[int, bool]:
        types = types_of(node)
        kind = 2 if types & _PAGE_TYPES else 1 if "ClaimReview" in types else 0
        return kind, not same_page(node)

    chosen = [
        n
        for n in doc.nodes
        if any(_ARTICLE_TYPE.search(t) for t in types_of(n)) or types_of(n) & _PAGE_TYPES
    ]
    return sorted(chosen, key=rank)
