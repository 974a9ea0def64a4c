"""Errors a watcher raises when a source answers with something it cannot read.

A feed that changed its layout, an instance that now wants a login, or a truncated download
must end as one clear line in the log ("which source, what was wrong, what to try"), never as a
raw traceback from deep inside a parser, so that one broken source never stops the others.
"""

from __future__ import annotations


class FeedError(Exception):
    """The body fetched from a source is not the feed we expected.

    `feed_url` says which source; the message says what was wrong and what to try.
    """

    def __init__(self, feed_url: str, reason: str, hint: str = "") -> None:
        message = f"Could not read the feed {feed_url}: {reason}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.feed_url = feed_url
        self.reason = reason
        self.hint = hint
