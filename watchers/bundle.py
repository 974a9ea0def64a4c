"""Hash bundles other newsrooms publish (fingerprints with provenance, see storage.bundle).

A bundle is not a feed of posts: the pipeline downloads it (conditionally, so an unchanged
bundle costs one request) to a file and imports it into the library.  This module only names
the kind and checks its target, like every source kind.
"""

from __future__ import annotations

from watchers.errors import FeedError
from watchers.mediakind import is_http_url
from watchers.post import Post

KIND = "bundle"


def feed_url(target: str) -> str:
    """A bundle is pulled from its http(s) URL."""
    url = target.strip()
    if not is_http_url(url):
        raise FeedError(
            target,
            "a bundle is pulled from an http(s) URL",
            "give the full address of the .jsonl or .jsonl.gz file the other newsroom publishes",
        )
    return url


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Bundles have no posts; the pipeline imports them whole (see Pipeline.poll_feed)."""
    raise FeedError(feed_url, "a bundle is imported, not read as posts")
