"""Which parts of a page count: the article, not its site chrome, comments or link lists.

Reader comments, "related / read more / most read" lists, nav, footer and aside never give a
date or a medium: a comment saying "posted on June 18, 2017" is not the page.  An element that
holds the article itself is never noise, whatever its class says (Blogger wraps every post in
`<div class="widget Blog">`, ASP.NET pages sit inside one `<form id="aspnetForm">`).
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html

MAX_TEXT = 200_000  # characters of article text handed to date_in_text (the byline is on top)


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
