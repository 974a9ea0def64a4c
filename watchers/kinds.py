"""The names of the source kinds, without their modules: what `oldclip --help` lists.

Each name is also the module of ``watchers`` that implements it (``watchers.registry.KINDS``
imports them all), so adding a source kind is one module and one name here.  ``source_kind``
imports the one module a command needs: `oldclip feeds add rss URL` does not load the page
parsers the fact-check kind uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchers.registry import SourceKind

KIND_NAMES = ("rss", "telegram", "mastodon", "bluesky", "youtube", "reddit", "factcheck", "bundle")


def source_kind(name: str) -> SourceKind:
    """The module implementing the source kind ``name`` (one of ``KIND_NAMES``)."""
    if name not in KIND_NAMES:
        raise KeyError(name)
    return importlib.import_module(f"watchers.{name}")
