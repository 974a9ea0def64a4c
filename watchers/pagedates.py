"""The first publication date of a page, and the signal it came from.

oldclip compares the date a page first showed a clip with the date the clip is now said to be
from, so a wrong date is worse than none.
"""

from __future__ import annotations

import datetime
import itertools
import re

import lxml.html

from watchers.pagedoc import MAX_TIMES, _date_value, _Doc, _main_nodes
from watchers.pagenoise import _tag, _tokens
from watchers.textdates import date_in_text, parse_date, plausible

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


def published_date(doc: _Doc, text: str) -> tuple[datetime.date | None, str | None]:
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
