"""Decoding JSON API answers with one clear error for everything that is not the expected shape.

APIs answer errors with JSON too ({"error": "..."} from Mastodon, {"error", "message"} from
Bluesky), and a login wall or a CDN error page is HTML: all must become a FeedError that says
what the server said, not a KeyError three calls later.
"""

from __future__ import annotations

import json
from typing import Any

from watchers.errors import FeedError


def load_json(body: bytes, feed_url: str) -> Any:
    """json.loads with FeedError on empty/invalid input and on API error objects."""
    if not body or not body.strip():
        raise FeedError(feed_url, "the response was empty", "the source may be down; retry later")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        looks_html = body.lstrip()[:1] == b"<"
        raise FeedError(
            feed_url,
            "the response is HTML, not JSON" if looks_html else f"the response is not JSON ({exc})",
            "the URL may point to a web page, or the server sent an error page",
        ) from None
    if isinstance(data, dict) and "error" in data:
        message = data.get("message") or data.get("error_description") or data["error"]
        raise FeedError(
            feed_url,
            f"the server answered with an error: {message}",
            "the instance may require a login for this timeline, or the name is wrong",
        )
    return data


def expect(value: Any, kind: type, what: str, feed_url: str) -> Any:
    """Return `value` if it is a `kind`, else raise FeedError naming the unexpected shape."""
    if not isinstance(value, kind):
        raise FeedError(
            feed_url,
            f"expected {what} but got {type(value).__name__}",
            "the API may have changed or the URL points to another endpoint",
        )
    return value
