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

_SKIP_TAGS = frozenset({"nav", "footer", "aside", "noscript", "template", "style", "dialog"})
_SKIP_ROLES = frozenset({"navigation", "complementary", "contentinfo", "banner", "search"})
# id/class tokens (one per line, hence MULTILINE) of reader comments, link lists, share bars and
# site chrome.
_NOISE = re.compile(
    r"^comments?(?:$|[-_](?!date))|[-_]comments?$|^commentlist$|^disqus|^respond$|[-_]respond$"
    r"|related|^read-?more|more-?(?:stories|news|articles)|most-?(?:read|popular|viewed|shared)"
    r"|^popular|trending|recommend|^also-?read|^see-?also|recent-?(?:posts|entries|news|articles)"
    r"|^sidebar|[-_]sidebar$|^widget(?:$|[-_])|widget-?area"
    r"|^share|[-_]share(?:$|[-_])|^sharing|sharedaddy|^social(?:$|-(?:share|links|icons|buttons))"
    r"|^newsletter|^subscribe|^breadcrumbs?$|^advert|^ads?(?:$|[-_])|[-_]ads?$|ad-?slot|^promo"
    r"|outbrain|taboola|^cookie|paywall|^site-?(?:header|footer)|^masthead|^navbar|^main-?nav"
    r"|^nav(?:$|[-_])|^menu(?:$|[-_])|ticker|author-?bio"
    r"|today|current-?date|^top-?bar$",
    re.MULTILINE,
)
# WordPress post classes describe the post ("tag-related-news"), not the element's role.
_DESCRIPTIVE_PREFIXES = ("tag-", "category-", "categories-", "format-", "type-", "status-", "has-")
_MODIFIED_CLASS = re.compile(r"updated|modified|edited")
# Tokens of a byline container: "nav meta" or "nav-links post-meta" hold the date, not a menu.
_BYLINE_TOKEN = re.compile(r"^(?:meta|byline|dateline|entry-meta|post-meta|posted-on)$", re.M)
# Embedded posts (a tweet, a Facebook or Instagram post) quote another page with its own date:
# their links are media, their text never dates this page.
_EMBEDDED_POST = re.compile(
    r"twitter-tweet|instagram-media|fb-post|facebook-post|tiktok-embed|telegram-post"
    r"|bluesky-embed|reddit-embed|embedded-post|social-embed",
    re.M,
)
# What holds the article: its ancestors are never noise, whatever their class says.
_HOLDER_TAGS = frozenset({"article", "main"})
_HOLDER_CLASSES = frozenset({"post-body", "entry-content"})
_HOLDER_TYPE = re.compile(r"Article|BlogPosting")
MAX_HOLDERS = 200
_CONTENT_TOKEN = re.compile(
    r"^(?:entry|post|article|story|single)[-_]?(?:content|body|text)$|^article__body$",
    re.MULTILINE,
)


def tag_of(el: Any) -> str:
    """Tag name, or "" for comments and processing instructions."""
    return el.tag if isinstance(el.tag, str) else ""


def tokens_of(el: lxml.html.HtmlElement) -> list[str]:
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    return [w for w in words if not w.startswith(_DESCRIPTIVE_PREFIXES)]


def _is_modified_date(el: lxml.html.HtmlElement, tag: str) -> bool:
    """A "last updated" date (WordPress <time class="updated">, itemprop=dateModified): themes
    hide it with CSS, but its text would otherwise read as a byline date."""
    if (el.get("itemprop") or "").lower() == "datemodified":
        return True
    classes = (el.get("class") or "").lower()
    # WordPress themes mark the published time "entry-date updated": entry-date wins.
    return (
        tag == "time"
        and bool(_MODIFIED_CLASS.search(classes))
        and "publish" not in classes
        and "entry-date" not in classes
    )


def article_holders(root: lxml.html.HtmlElement) -> frozenset[lxml.html.HtmlElement]:
    """The ancestors of the article's own elements: Blogger's <div class="widget Blog">, an
    ASP.NET page-wide <form>, a theme's "sidebar-layout" wrapper hold the article itself and
    must never be dropped as noise."""
    holders: set[lxml.html.HtmlElement] = set()
    found = 0
    for el in root.iter():
        attrs = el.attrib if isinstance(el.tag, str) else {}
        if (
            el.tag in _HOLDER_TAGS
            or attrs.get("role") == "main"
            or "articleBody" in attrs.get("itemprop", "")
            or _HOLDER_TYPE.search(attrs.get("itemtype", ""))
            or not _HOLDER_CLASSES.isdisjoint(attrs.get("class", "").split())
        ):
            holders.update(el.iterancestors())
            found += 1
            if found >= MAX_HOLDERS:
                break
    return frozenset(holders)


def is_embedded_post(el: lxml.html.HtmlElement) -> bool:
    """An embedded tweet / Facebook / Instagram / Telegram post quoted by the page."""
    return bool(_EMBEDDED_POST.search("\n".join(tokens_of(el))))


def _page_form(el: lxml.html.HtmlElement) -> bool:
    """A form that wraps the page (ASP.NET's aspnetForm) rather than a search or login box."""
    return el.find(".//h1") is not None or el.find(".//article") is not None


def _classify(
    el: Any, in_content: bool, holders: frozenset[Any] = frozenset()
) -> tuple[bool, bool]:
    """(never counts, holds the article) for one element whose parent is or is not inside the
    article.  Never counts: comments, related / read-more lists, nav, footer, aside, share bars,
    the site header (a <header> inside the article is kept: it holds headline and byline).
    Holds the article: article, main, [itemprop=articleBody], [role=main], .entry-content..."""
    tag = tag_of(el)
    if tag in ("html", "body"):
        return False, False
    if not tag or tag in _SKIP_TAGS or (tag == "header" and not in_content):
        return el not in holders, False
    if tag == "form" and el not in holders and not _page_form(el):
        return True, False
    if not (el.get("class") or el.get("id") or el.get("role") or el.get("itemprop")):
        return False, tag in ("article", "main")  # the common case, kept cheap
    role = (el.get("role") or "").lower()
    tokens = "\n".join(tokens_of(el))
    noise = role in _SKIP_ROLES or bool(_NOISE.search(tokens))
    if noise and (el in holders or _BYLINE_TOKEN.search(tokens)):
        noise = False
    if noise or _is_modified_date(el, tag):
        return True, False
    content = (
        tag in ("article", "main")
        or role == "main"
        or (el.get("itemprop") or "").lower() == "articlebody"
        or bool(_CONTENT_TOKEN.search(tokens))
    )
    return False, content


def excluded_path(
    el: lxml.html.HtmlElement, holders: frozenset[lxml.html.HtmlElement] | None = None
) -> bool:
    """True when the element or one of its ancestors never counts (``holders``: see
    article_holders(), computed here when not given)."""
    in_content = False
    if holders is None:
        holders = article_holders(el.getroottree().getroot())
    for node in [*reversed(list(el.iterancestors())), el]:
        excluded, content = _classify(node, in_content, holders)
        if excluded:
            return True
        in_content = in_content or content
    return False


def visible_elements(body: lxml.html.HtmlElement) -> list[tuple[lxml.html.HtmlElement, bool]]:
    """Elements of the body that count, in document order, each with whether it is inside the
    article body.  Iterative (no recursion); each element is classified once per page."""
    found = []
    holders = article_holders(body)
    stack = [(body, _classify(body, False, holders)[1])]
    while stack:
        el, in_content = stack.pop()
        found.append((el, in_content))
        for child in reversed(el):
            excluded, content = _classify(child, in_content, holders)
            if not excluded:
                stack.append((child, in_content or content))
    return found


_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
     "table", "ul", "ol", "dl", "dt", "dd", "section", "article", "header", "figure",
     "figcaption", "main", "address", "hr", "br"}
)  # fmt: skip
_NO_TEXT_TAGS = frozenset({"script", "style", "template", "noscript", "select", "option"})


def visible_text(
    root: lxml.html.HtmlElement, visible: set[lxml.html.HtmlElement], limit: int = MAX_TEXT
) -> str:
    """Readable text of the parts that count: block elements and <br> end lines.  Embedded
    posts are left out: "Posted by X on Sunday, February 6, 2022" in a quoted Facebook post is
    that post's date, not the page's."""
    parts: list[str] = []
    size = 0
    stack: list[str | lxml.html.HtmlElement] = [root]
    while stack and size < limit:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            size += len(item)
            continue
        tag = tag_of(item)
        if tag in _NO_TEXT_TAGS:
            continue
        block = tag in _BLOCK_TAGS
        if block:
            stack.append("\n")
        for child in reversed(item):
            if child.tail:
                stack.append(child.tail)
            if child in visible and not is_embedded_post(child):
                stack.append(child)
        if item.text:
            stack.append(item.text)
        if block:
            stack.append("\n")
    lines = (" ".join(line.split()) for line in "".join(parts)[:limit].split("\n"))
    return "\n".join(line for line in lines if line)
