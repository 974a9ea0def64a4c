"""Which links oldclip keeps: web links (http, https) and nothing else.

Every link stored here is later fetched (feeds, media), shown as a link to the public (a
fact-check's ``verdict_url`` in an ``href``), or printed.  A ``javascript:`` or ``data:`` link
would run in a reader's browser, a ``file:`` one would point inside this machine.  Links come
from strangers through many doors (feeds, pages, bundles, the bot, the command line, manifests),
so they are checked once, here, where all of them are written.

Browsers ignore tabs and line breaks inside a scheme and spaces or control characters before
it (``java\\tscript:``), so the scheme is read the way a browser would read it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
_IGNORED_BY_BROWSERS = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(\S?)")
# Schemes that act when clicked or loaded, whatever follows the colon ("javascript: alert(1)").
_ACTIVE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "filesystem"})
SHOWN_CHARS = 80  # of a refused link, in messages and records


class UnsafeURLError(ValueError):
    """A value that must be a web link is not one; the message names the field and the value."""


def shown(value: str) -> str:
    """A refused value as it may appear in a message: one line, at most SHOWN_CHARS."""
    flat = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in value)
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 1] + "…"


def _browser_view(value: str) -> str:
    return _IGNORED_BY_BROWSERS.sub("", value).lstrip("".join(map(chr, range(0x21))))


def is_web_url(value: object) -> bool:
    """True for an absolute http(s) link with a host and no control characters (which could
    only be there to fool a terminal or a log reader)."""
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value.strip()):
        return False
    try:
        parts = urlsplit(_browser_view(value))
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)


def web_url(value: object, what: str) -> str:
    """``value`` stripped, when it is an http(s) link; else UnsafeURLError naming ``what``."""
    if not isinstance(value, str) or not value.strip():
        raise UnsafeURLError(f"{what} is empty: give an http:// or https:// link")
    if not is_web_url(value):
        raise UnsafeURLError(
            f"{what} {shown(value)!r} is not a web link: only http:// and https:// links are "
            "accepted"
        )
    return value.strip()


def optional_web_url(value: str | None, what: str) -> str | None:
    """None for no link (None or blank); else as ``web_url``."""
    if value is None or not value.strip():
        return None
    return web_url(value, what)


def reference(value: str, what: str) -> str:
    """A source: a web link, or a plain-text reference ("BBC Arabic, 2015 broadcast").

    Text is fine; a link of any other scheme is not (``javascript:…``, ``file:///…``).
    "Reuters: the original" reads as text, since no link has a space right after its colon.
    """
    seen = _browser_view(value)
    found = _SCHEME.match(seen)
    if found and not is_web_url(seen):
        scheme = found.group(1).lower()
        if scheme in WEB_SCHEMES or scheme in _ACTIVE_SCHEMES or found.group(2).strip():
            raise UnsafeURLError(
                f"{what} {shown(value)!r} is a {scheme}: link: only http:// and https:// links "
                "are accepted"
            )
    return value


def safe_or_none(value: str | None) -> str | None:
    """``value`` when it is a web link, else None: for optional links from untrusted input
    (a bundle, a page) that are dropped rather than refusing the rest of what came with them."""
    return value if value is not None and is_web_url(value) else None
