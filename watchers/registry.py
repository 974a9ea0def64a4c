"""The source kinds by name, and the plain-text keyword filter subscribers use.

The scheduler and the admin commands only know a source by its kind string ("telegram") and a
target ("@channel"); KINDS maps the string to the module that turns the target into a URL and
the fetched bytes into Posts, so adding a source kind is one module and its name in
``watchers.kinds``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from watchers.kinds import KIND_NAMES, source_kind
from watchers.post import Post


class SourceKind(Protocol):
    """What every source module provides (pure functions, no network)."""

    KIND: str

    def feed_url(self, target: str) -> str: ...

    def parse(self, body: bytes, feed_url: str) -> list[Post]: ...


KINDS: dict[str, SourceKind] = {name: source_kind(name) for name in KIND_NAMES}


def _words(words: Iterable[str]) -> list[str]:
    return [w.strip().casefold() for w in words if w and w.strip()]


def keyword_filter(post: Post, include: list[str], exclude: list[str]) -> bool:
    """True when the post should be kept.

    Plain, case-insensitive substring tests on the post text (never regexes: keywords come
    from users, and a regex from a user is both a footgun and a denial-of-service risk).
    include: if non-empty, at least one must appear.  exclude: none may appear.  Blank
    keywords are ignored.
    """
    text = post.text.casefold()
    wanted = _words(include)
    if wanted and not any(w in text for w in wanted):
        return False
    return not any(w in text for w in _words(exclude))
