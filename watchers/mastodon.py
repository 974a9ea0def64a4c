"""Mastodon (and compatible) public timelines through the REST API, no login.

Targets:
  "#tag@instance"  -> GET https://instance/api/v1/timelines/tag/tag?only_media=true&limit=40
  "@user@instance" -> the account lookup URL; the statuses endpoint needs the numeric id, so
                      fetch it once, call account_statuses_url(body, url) and store the result
                      as the source's feed URL (a full URL is used as-is from then on).
Poll with page_url(feed_url, cursor(previous_posts)) so each poll only returns newer statuses.
Boosts: the post is the boosted status (its URL, text, media); external_id, published and
author are the boost's own (what the cursor pages on, when it appeared here, who boosted), and
forwarded_from is the original's URL.  Instances may refuse anonymous timelines (401, or
{"error": ...}) since 4.5 per-feed settings: that becomes a FeedError saying so.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

from yarl import URL

from watchers.errors import FeedError
from watchers.htmltree import html_to_text
from watchers.jsonbody import expect, load_json
from watchers.mediakind import guess_kind, is_http_url
from watchers.post import MediaRef, Post
from watchers.timeutil import parse_iso

KIND = "mastodon"
PAGE_LIMIT = 40
LOOKUP_PATH = "/api/v1/accounts/lookup"
ATTACHMENT_KINDS = {"image": "photo", "gifv": "gif", "video": "video"}
log = logging.getLogger(__name__)


def _valid_host(host: str) -> bool:
    return bool(host) and "/" not in host and " " not in host and "." in host


def feed_url(target: str) -> str:
    """ "#tag@instance" or "@user@instance" -> API URL (see module docstring); full URL as-is."""
    raw = target.strip()
    if raw.lower().startswith(("http://", "https://")):
        return raw
    if raw.startswith("#") and "@" in raw:
        tag, _, host = raw[1:].rpartition("@")
        host = host.lower()
        if tag and _valid_host(host) and not any(c in tag for c in "/?#@ "):
            return (
                f"https://{host}/api/v1/timelines/tag/{quote(tag, safe='')}"
                f"?only_media=true&limit={PAGE_LIMIT}"
            )
    if raw.startswith("@") and raw.count("@") == 2:
        user, _, host = raw[1:].partition("@")
        host = host.lower()
        if user and _valid_host(host) and not any(c in user for c in "/?# "):
            return f"https://{host}{LOOKUP_PATH}?acct={quote(user, safe='')}"
    raise FeedError(
        target,
        f"{target!r} is not a Mastodon target",
        'use "#hashtag@instance.social" or "@user@instance.social"',
    )


def is_lookup_url(url: str) -> bool:
    """True for the account lookup URL that feed_url("@user@instance") returns."""
    return urlsplit(url).path.rstrip("/") == LOOKUP_PATH


def account_statuses_url(lookup_body: bytes, lookup_url: str) -> str:
    """From the account lookup answer, the URL of that account's media statuses."""
    account = expect(load_json(lookup_body, lookup_url), dict, "an account object", lookup_url)
    account_id = str(account.get("id") or "")
    if not account_id.isalnum():
        raise FeedError(lookup_url, "the account lookup answer has no account id")
    base = urlsplit(lookup_url)
    return (
        f"{base.scheme}://{base.netloc}/api/v1/accounts/{account_id}/statuses"
        f"?only_media=true&limit={PAGE_LIMIT}"
    )


def page_url(feed_url: str, min_id: str | None) -> str:
    """The feed URL asking only for statuses newer than `min_id` (None: the newest page)."""
    if not min_id:
        return feed_url
    return str(URL(feed_url).update_query(min_id=min_id))


def _id_key(value: str) -> tuple[int, str]:
    # Mastodon ids are snowflake numbers as strings: compare by length, then text.
    return (len(value), value)


def cursor(posts: list[Post]) -> str | None:
    """The newest status id among `posts`, to pass as min_id on the next poll."""
    ids = [p.external_id for p in posts if p.external_id]
    return max(ids, key=_id_key) if ids else None


def _kind_from_meta(meta: Any) -> str | None:
    """A remote attachment's kind from its dimensions: a duration or frame rate means video."""
    original = meta.get("original") if isinstance(meta, dict) else None
    if not isinstance(original, dict):
        return None
    if original.get("duration") or original.get("frame_rate"):
        return "video"
    return "photo" if original.get("width") else None


def _unknown_attachment(att: dict[str, Any]) -> MediaRef | None:
    """Remote media the instance did not cache (type "unknown").

    `remote_url` is the file on its home server and usually names it (.mp4, .jpg); `url` is
    the instance's media proxy, which serves the same file but without a file name.  The
    pipeline decodes whatever comes, so a file with no clue to its kind is tried as a video.
    """
    urls = [u for u in (att.get("remote_url"), att.get("url")) if is_http_url(u)]
    if not urls:
        return None
    for url in urls:
        kind = guess_kind(url)
        if kind is not None:
            return MediaRef(url=url, kind=kind)
    return MediaRef(url=urls[0], kind=_kind_from_meta(att.get("meta")) or "video")


def _attachment(att: dict[str, Any]) -> MediaRef | None:
    preview = att.get("preview_url")
    preview = preview if is_http_url(preview) else None
    if att.get("type") == "unknown":
        return _unknown_attachment(att)
    kind = ATTACHMENT_KINDS.get(att.get("type") or "")
    if kind is None:
        return None  # audio
    url = next((u for u in (att.get("url"), att.get("remote_url")) if is_http_url(u)), None)
    if url is None:  # the file is gone, only its preview was kept
        return MediaRef(url=preview, kind="thumbnail") if preview else None
    return MediaRef(url=url, kind=kind, thumbnail_url=preview)


def _author(account: Any, host: str) -> str | None:
    if not isinstance(account, dict):
        return None
    acct = account.get("acct") or account.get("username")
    if not acct:
        return None
    return acct if "@" in acct else f"{acct}@{host}"  # local accounts come without @instance


def _status_post(status: dict[str, Any], feed_url: str, host: str) -> Post | None:
    wrapper_id = status.get("id")
    if not wrapper_id:
        return None
    original = status.get("reblog") if isinstance(status.get("reblog"), dict) else None
    content = original or status
    post_url = content.get("url") or content.get("uri") or ""
    text = html_to_text(content.get("content") or "")
    warning = (content.get("spoiler_text") or "").strip()
    attachments = content.get("media_attachments") or []
    media = tuple(ref for att in attachments if isinstance(att, dict) and (ref := _attachment(att)))
    return Post(
        source=KIND,
        feed_url=feed_url,
        post_url=post_url,
        external_id=str(wrapper_id),
        author=_author(status.get("account"), host),
        published=parse_iso(status.get("created_at")),
        published_from="created_at",
        text=f"{warning}\n{text}".strip() if warning else text,
        media=media,
        forwarded_from=(original.get("url") or original.get("uri")) if original else None,
    )


def parse(body: bytes, feed_url: str) -> list[Post]:
    """Posts of a Mastodon timeline/statuses answer (newest first, as the API sends them)."""
    data = load_json(body, feed_url)
    if is_lookup_url(feed_url) or (isinstance(data, dict) and "acct" in data):
        raise FeedError(
            feed_url,
            "this is an account lookup, not a list of statuses",
            "pass it to mastodon.account_statuses_url() and poll the URL it returns",
        )
    statuses = expect(data, list, "a list of statuses", feed_url)
    host = urlsplit(feed_url).hostname or ""
    posts: list[Post] = []
    for status in statuses:
        if not isinstance(status, dict):
            continue
        try:
            post = _status_post(status, feed_url, host)
        except (AttributeError, TypeError, ValueError) as exc:
            log.warning("skipping an unreadable status of %s: %s", feed_url, exc)
            continue
        if post is not None:
            posts.append(post)
    return posts
