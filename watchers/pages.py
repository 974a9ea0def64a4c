"""Provenance of an article or fact-check page: when it was first published, what media it shows,
and which claims it rates (schema.org ClaimReview).  Pure parsing: no network, no database.

The jobs live in their own modules: watchers/pagedoc.py (decoding, parsing, metadata),
watchers/pagenoise.py (what part of the page counts), watchers/pagedates.py (the first
publication date and its signal), watchers/pagemedia.py (media and embeds).  This module puts
them together with the title, language and ClaimReviews.

Libraries and what they replaced (measured on saved real pages with bench/pagedates.py):
- trafilatura finds the main content: a picture is the article's only where trafilatura's
  extraction keeps it, so sidebars, teaser grids and "most read" lists in any language are
  dropped without a token list for each site's class names.
- htmldate gives one more date candidate, taken when the page's address names the same day;
  alone it falls back to modified dates and <time>s inside sentences, which oldclip refuses.
- dateparser names the months of German, Spanish, Dutch, Indonesian, French... bylines
  (watchers/textdates.py keeps finding the byline, and the Arabic month tables).
- oldclip keeps its own ranking for the FIRST publication date (pagedates.py), the refusal of
  pages without a trustworthy date, and ClaimReview reading.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from watchers.pagedates import published_date
from watchers.pagedoc import (
    MAX_DEPTH,
    MAX_NODES,
    Doc,
    PageError,
    absolute_url,
    as_list,
    date_value,
    decode_page,
    load_doc,
    main_nodes,
    microdata_nodes,
    parse_page,
    text_value,
    types_of,
    url_value,
)
from watchers.pagemedia import PageMedia, embed_url, page_media
from watchers.pagenoise import tag_of, visible_text

__all__ = ["ClaimReview", "PageError", "PageInfo", "PageMedia", "embed_url", "read_page"]


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


# --- title, description, language --------------------------------------------------------------

_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|•|«|»)\s+")


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def _site_names(doc: Doc) -> set[str]:
    """Names the site goes by, to recognise a " | Site" suffix in a title."""
    names = {doc.meta_value("og:site_name"), doc.meta_value("application-name")}
    for node in doc.nodes:
        if types_of(node) & {"WebSite", "Organization", "NewsMediaOrganization"}:
            names.add(text_value(node.get("name")))
        names.add(text_value(doc.resolve(node.get("publisher"))))
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


def _first_h1(doc: Doc) -> str | None:
    for el, _ in doc.visible:
        if tag_of(el) == "h1":
            text = " ".join(el.text_content().split())
            if text:
                return text
    return None


def _title(doc: Doc) -> str | None:
    """og:title, JSON-LD headline, <h1>, <title>: the first there, site suffix trimmed."""
    title_el = doc.root.find(".//title")
    candidates = [
        doc.meta_value("og:title"),
        next((text_value(n.get("headline")) for n in main_nodes(doc) if n.get("headline")), None),
        _first_h1(doc),
        title_el.text_content() if title_el is not None else None,
    ]
    names = _site_names(doc)
    return next((t for t in (_trim_title(c, names) for c in candidates) if t), None)


def _canonical(doc: Doc) -> str | None:
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


def _description(doc: Doc) -> str | None:
    found = doc.meta_value("og:description", "description", "twitter:description")
    if not found:
        found = next((text_value(n.get("description")) for n in main_nodes(doc)), None)
    return found or None


_ARABIC_SCRIPT_LANGS = frozenset({"ar", "fa", "ur", "ps", "ku", "ckb", "sd", "ug"})
_NOT_LANGS = frozenset({"und", "mul", "zxx", "mis"})


def _lang_code(value: Any) -> str | None:
    """The primary language subtag: "en" from "en-US", "ar" from "ar_AR" or
    {"alternateName": "ar"}; None for "x-default", "und" or a language name."""
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    text = text_value(value)
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


def _language(doc: Doc, sample: str) -> str | None:
    """<html lang>, og:locale, JSON-LD inLanguage, else the script of the text.

    Arabic themes often keep the template's lang="en-US": text that is overwhelmingly Arabic
    overrides a declared language that is not written in Arabic script.
    """
    declared = (
        _lang_code(doc.root.get("lang") or doc.root.get("xml:lang"))
        or _lang_code(doc.meta_value("og:locale"))
        or next(
            (c for n in main_nodes(doc) + doc.nodes if (c := _lang_code(n.get("inLanguage")))),
            None,
        )
    )
    share, letters = _arabic_share(sample)
    if declared and (declared in _ARABIC_SCRIPT_LANGS or share < 0.8 or letters < 200):
        return declared
    return "ar" if share > 0.5 and letters >= 20 else declared


# --- ClaimReview -------------------------------------------------------------------------------


def _claim_reviews(nodes: Iterable[Any], doc: Doc) -> Iterator[dict[str, Any]]:
    """Every ClaimReview object, wherever it is nested (bounded)."""
    stack = [(n, 0) for n in reversed(list(nodes))]
    seen = 0
    while stack and seen < MAX_NODES:
        value, depth = stack.pop()
        seen += 1
        if isinstance(value, dict):
            if "ClaimReview" in types_of(value):
                yield value
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth < MAX_DEPTH:
            stack.extend((doc.resolve(c), depth + 1) for c in reversed(children[:MAX_NODES]))


def _appearance(reviewed: Any, doc: Doc) -> tuple[str | None, datetime.date | None]:
    """Where and when the reviewed claim appeared: firstAppearance, else the first appearance,
    else the reviewed item's own url; the date the item gives, else the appearance's."""
    if not isinstance(reviewed, dict):
        return None, None
    chosen: Any = None
    for candidate in [reviewed.get("firstAppearance"), *as_list(reviewed.get("appearance"))]:
        candidate = doc.resolve(candidate)
        if url_value(candidate):
            chosen = candidate
            break
    url = url_value(chosen) or url_value(reviewed.get("url"))
    date = date_value(reviewed.get("datePublished"))
    if date is None and isinstance(chosen, dict):
        date = date_value(chosen.get("datePublished"))
    return absolute_url(url, doc.base, strict=True), date


def _rating(value: Any) -> str | None:
    if isinstance(value, dict):
        return text_value(value.get("alternateName")) or text_value(value.get("ratingValue"))
    return text_value(value)


def _review(node: dict[str, Any], doc: Doc) -> ClaimReview:
    url = url_value(node.get("url"))
    appearance_url, appearance_date = _appearance(doc.resolve(node.get("itemReviewed")), doc)
    author = node.get("author")
    return ClaimReview(
        claim=text_value(node.get("claimReviewed")),
        rating=_rating(doc.resolve(node.get("reviewRating"))),
        review_url=absolute_url(url, doc.base, strict=True) or doc.url,
        review_date=date_value(node.get("datePublished")),
        author=text_value([doc.resolve(a) for a in as_list(author)]),
        appearance_url=appearance_url,
        appearance_date=appearance_date,
    )


def _reviews(doc: Doc) -> tuple[ClaimReview, ...]:
    found: list[ClaimReview] = []
    for node in _claim_reviews(doc.nodes + microdata_nodes(doc.root, doc.base), doc):
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
    root = parse_page(decode_page(html))
    if root is None:
        return PageInfo(url=url)
    doc = load_doc(root, url)
    text = visible_text(doc.scope, doc.visible_set)
    published, published_from = published_date(doc, text)
    title = _title(doc)
    description = _description(doc)
    return PageInfo(
        url=url,
        title=title,
        published=published,
        published_from=published_from,
        language=_language(doc, f"{title or ''}\n{description or ''}\n{text[:5000]}"),
        description=description,
        media=page_media(doc),
        reviews=_reviews(doc),
        canonical_url=_canonical(doc),
    )
