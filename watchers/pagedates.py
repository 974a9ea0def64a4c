"""The first publication date of a page, and the signal it came from.

oldclip compares the date a page first showed a clip with the date the clip is now said to be
from, so a wrong date is worse than none.
"""

from __future__ import annotations

import datetime
import itertools
import re
from dataclasses import dataclass
from typing import Any

import lxml.html
from htmldate import find_date

from watchers.pagedoc import MAX_TIMES, Doc, date_value, main_nodes
from watchers.pagenoise import tag_of, tokens_of
from watchers.textdates import date_in_text, is_publication_label, parse_date, plausible

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


@dataclass(frozen=True)
class _Candidate:
    """One date a signal gives, with the raw value it was read from (to see its time zone)."""

    date: datetime.date
    signal: str
    raw: str = ""
    visible: datetime.date | None = None  # a <time>'s own visible text, when it names a date


def _candidate(value: Any, signal: str) -> _Candidate | None:
    found = _plausible(date_value(value))
    return _Candidate(found, signal, str(value)) if found else None


def _jsonld_published(doc: Doc) -> _Candidate | None:
    for node in main_nodes(doc):
        for key in ("datePublished", "dateCreated"):
            found = _candidate(node.get(key), "json-ld")
            if found:
                return found
    return None


def _meta_published(doc: Doc) -> _Candidate | None:
    for key in _PUBLISHED_META:
        found = _candidate(doc.meta_value(key), "meta")
        if found:
            return found
    return None


def _is_byline_time(el: lxml.html.HtmlElement, scope: lxml.html.HtmlElement) -> bool:
    """A <time> (or hAtom <abbr class="published">) that dates the article: marked as
    published, or in its header or byline.

    A <time> in a sentence of the story ("the battle of <time>3 March 2016</time>") is not.
    """
    itemprop = (el.get("itemprop") or "").lower()
    classes = (el.get("class") or "").lower()
    if itemprop in ("datepublished", "datecreated") or el.get("pubdate") is not None:
        return True
    if _PUBLISHED_CLASS.search(classes):
        return True
    if tag_of(el) != "time":
        return False
    for depth, node in enumerate(el.iterancestors()):
        if depth >= 5 or node is scope.getparent():
            break
        if tag_of(node) == "header" or any(_BYLINE_CONTEXT.search(t) for t in tokens_of(node)):
            return True
    return False


def _time_published(doc: Doc) -> _Candidate | None:
    """The byline's <time>, or hAtom's <abbr class="published" title="2011-03-30T13:45">.

    When the visible text of a <time> names another day than its datetime attribute, the
    text is what the publisher wrote for readers (the attribute is often a UTC conversion or a
    template default), so the text's day is kept as `visible`.
    """
    times = (el for el, _ in doc.visible if tag_of(el) in ("time", "abbr") and doc.in_scope(el))
    for el in itertools.islice(times, MAX_TIMES):  # a byline comes early
        if not _is_byline_time(el, doc.scope):
            continue
        stamp = el.get("datetime") or (el.get("title") if tag_of(el) == "abbr" else None)
        shown = _plausible(parse_date(el.text_content()))
        found = _candidate(stamp, "time") if stamp else None
        if found is None and shown:
            return _Candidate(shown, "time", visible=shown)
        if found:
            return _Candidate(found.date, "time", found.raw, visible=shown)
    return None


_UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT(\d\d):\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]00:?00)$")
MIDNIGHT_HOURS = 4  # a UTC time this close to midnight may be the next or previous local day


def _near_midnight_utc(raw: str) -> bool:
    match = _UTC_STAMP.match(raw.strip())
    return bool(match) and not MIDNIGHT_HOURS <= int(match.group(1)) < 24 - MIDNIGHT_HOURS


def _local_day(found: _Candidate, shown: list[datetime.date]) -> _Candidate:
    """A UTC timestamp near midnight, one day off the day the page shows its readers, stands
    for the shown (local) day: "2017-06-20T23:40Z" on a page whose byline says 21 June 2017."""
    if _near_midnight_utc(found.raw):
        for day in shown:
            if abs((day - found.date).days) == 1:
                return _Candidate(day, found.signal, found.raw)
    return found


_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]([01]?\d)[/-]([0-3]?\d)(?:/|[-_]|$)")


def _htmldate(doc: Doc) -> _Candidate | None:
    """htmldate's guess of the original date, when the page's own address names the same day
    ("/2017/06/20/"): one more candidate for pages none of our signals dates.

    Alone, htmldate falls back to the modified date, a <time> inside a sentence or a header's
    "today" (all refused here, see the tests), so its guess is taken only when the URL agrees.
    """
    match = _URL_DATE.search(doc.url)
    if not match:
        return None
    try:
        in_url = datetime.date(*(int(g) for g in match.groups()))
        found = find_date(
            doc.root, url=doc.url, original_date=True, extensive_search=False,
            outputformat="%Y-%m-%d",
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - a third-party heuristic must never cost the page
        return None
    guess = _candidate(found, "url") if found else None
    return guess if guess is not None and guess.date == in_url else None


MAX_HEADLINES = 3  # <h1>s tried as the start of the article (a logo is often an <h1> too)


def _byline_in_text(doc: Doc, text: str) -> datetime.date | None:
    """A dated byline in the page text, read from the top of the page, else from each
    headline down: a byline sits under the headline, which site menus and archive lists can
    push far from the top of the page's text."""
    found = date_in_text(text)
    if found:
        return found
    headlines = (el for el, _ in doc.visible if tag_of(el) == "h1")
    for h1 in itertools.islice(headlines, MAX_HEADLINES):
        words = " ".join(h1.text_content().split())
        start = text.find(words) if words else -1
        if start > 0:
            found = date_in_text(text[start:])
            if found:
                return found
    return None


MAX_LABELS = 20  # <dt> terms looked at: an article's metadata box has a handful


def _labelled_published(doc: Doc) -> datetime.date | None:
    """The date of a definition list's "Datum" / "Published" term in the article
    (<dt>Datum</dt><dd>12.01.2017</dd>): a metadata box that themes put in an <aside> inside
    the <article>, where the text reader, which skips asides, never sees it.

    Only the article's own box: a list naming two publication dates is a list of other
    posts, and is refused.
    """
    found: list[datetime.date] = []
    for dt in itertools.islice(doc.scope.iter("dt"), MAX_LABELS):
        dd = dt.getnext()
        if dd is None or tag_of(dd) != "dd" or not is_publication_label(dt.text_content()):
            continue
        date = _plausible(parse_date(dd.text_content()))
        if date is not None:
            found.append(date)
    return found[0] if len(set(found)) == 1 else None


def published_date(doc: Doc, text: str) -> tuple[datetime.date | None, str | None]:
    """The first publication date and the signal it came from.

    Trust order: JSON-LD, meta tags, the byline's <time>, a dated byline in the text (or the
    article's "Datum" term), then htmldate.  But a lone JSON-LD date that the page's other
    signals agree against (two of meta, <time> and byline naming another day) is a CMS
    migration or re-import date, and loses to them; and a UTC timestamp near midnight gives
    way to the local day the byline shows.
    """
    time = _time_published(doc)
    in_text = _byline_in_text(doc, text) or _labelled_published(doc)
    shown = [d for d in (time.visible if time else None, in_text) if d]
    found = [
        _local_day(c, shown)
        for c in (_jsonld_published(doc), _meta_published(doc), time)
        if c is not None
    ]
    if time is not None and time.visible and found:
        found = [c if c.signal != "time" else _Candidate(time.visible, "time") for c in found]
    if in_text:
        found.append(_Candidate(in_text, "text"))
    if not found:
        fallback = _htmldate(doc)
        return (fallback.date, fallback.signal) if fallback else (None, None)
    first = found[0]
    if first.signal == "json-ld":
        others = [c for c in found[1:] if c.date != first.date]
        for c in others:
            if sum(o.date == c.date for o in others) >= 2:
                return c.date, c.signal
    return first.date, first.signal
