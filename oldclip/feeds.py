"""Adding feeds: `feeds add`, the config's [[feeds]], the bot's /addfeed.

Apart from the watchers (``oldclip.watch``) so that `oldclip feeds list` and `feeds add` load
only the source kinds they name, not the watchers' pipeline, HTTP client and page parsers
(about 0.7 s of CPU; see bench/startup.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import storage
from watchers.errors import FeedError
from watchers.kinds import KIND_NAMES, source_kind

from .config import Config, ConfigError

if TYPE_CHECKING:
    from .library import Library


def add_feed(library: Library, kind: str, target: str, **options) -> tuple[int, bool]:
    """Register a feed by kind and target (a URL, or a channel name, handle or hashtag).

    Every way of adding a feed comes here (`feeds add`, the config's [[feeds]], the bot's
    /addfeed): a target that is a link of another kind than http(s) is refused, and so is a
    target the kind turns into anything but a web link (storage.add_feed).
    """
    if kind not in KIND_NAMES:
        raise ValueError(f"unknown feed kind {kind!r}: use one of {', '.join(sorted(KIND_NAMES))}")
    storage.reference(target, "feed target")
    url = source_kind(kind).feed_url(target)
    return storage.add_feed(library.db, kind=kind, target=target, url=url, **options)


def sync_config_feeds(library: Library, config: Config) -> None:
    """Add or update the config's [[feeds]]; a feed that cannot be watched is a config error."""
    for number, spec in enumerate(config.feeds, start=1):
        try:
            add_feed(
                library,
                spec.kind,
                spec.target,
                interval_s=spec.every_s or config.watch.poll_interval_s,
                label=spec.label,
                language=spec.language,
                include=spec.include,
                exclude=spec.exclude,
                source="config",
            )
        except (FeedError, ValueError) as exc:
            raise ConfigError(f"{config.source or 'config'}: feed {number}: {exc}") from None
