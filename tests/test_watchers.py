"""Watchers: every parser against recorded pages, and the safe HTTP layer against a local
server with hostile routes.  No network: everything runs on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from feed_server import FIXTURES_DIR, MEDIA_DIR, FeedServer

from watchers import bluesky, mastodon, reddit, rss, telegram, youtube
from watchers.errors import FeedError
from watchers.http import USER_AGENT, FetchError, fetch, make_session
from watchers.netguard import (
    AddressPolicy,
    BlockedAddressError,
    GuardedResolver,
    check_url,
    is_public_address,
)
from watchers.post import MediaRef, Post
from watchers.registry import KINDS, keyword_filter

BASE = "https://media.example.test"
LOOPBACK = ["127.0.0.0/8"]


def fixture(name: str, base: str = BASE) -> bytes:
    return (FIXTURES_DIR / name).read_bytes().replace(b"{BASE}", base.encode())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def by_id(posts: list[Post]) -> dict[str, Post]:
    return {p.external_id: p for p in posts}


# --------------------------------------------------------------------------------- telegram


TG_URL = "https://t.me/s/frontline_clips"


def test_telegram_page_posts_in_order_without_service_messages():
    posts = telegram.parse(fixture("telegram_channel.html"), TG_URL)
    ids = [p.external_id for p in posts]
    assert ids == [f"frontline_clips/{n}" for n in (1202, 1203, 1205, 1206, 1207, 1208, 1209)]
    assert all(p.source == "telegram" and p.feed_url == TG_URL for p in posts)
    assert all(p.author == "Frontline Clips Archive" for p in posts)
    assert [telegram.post_number(p) for p in posts][:2] == [1202, 1203]


def test_telegram_video_post():
    post = by_id(telegram.parse(fixture("telegram_channel.html"), TG_URL))["frontline_clips/1202"]
    assert post.post_url == "https://t.me/frontline_clips/1202"
    assert post.published == utc(2026, 11, 20, 8, 15, 42)
    assert post.text.startswith("🔴 BREAKING: footage from the checkpoint this morning.\nShared")
    assert post.media == (
        MediaRef(
            url=f"{BASE}/media/videos/chair-orig-22-sd-bar.mp4",
            kind="video",
            mime="video/mp4",
            thumbnail_url=f"{BASE}/media/images/bridge-1-original.jpg",
        ),
    )
    assert post.forwarded_from is None


def test_telegram_album_has_both_photos():
    post = by_id(telegram.parse(fixture("telegram_channel.html"), TG_URL))["frontline_clips/1203"]
    assert [(m.kind, m.url) for m in post.media] == [
        ("photo", f"{BASE}/media/images/bridge-2-rotate-90.jpg"),
        ("photo", f"{BASE}/media/images/bridge-3-rotate-180.jpg"),
    ]
    assert post.published == utc(2026, 11, 20, 9, 2, 10)


def test_telegram_forwarded_post_keeps_origin_and_unescapes_urls():
    post = by_id(telegram.parse(fixture("telegram_channel.html"), TG_URL))["frontline_clips/1205"]
    assert post.forwarded_from == "https://t.me/old_war_footage/88"
    assert post.text == "New strike on the bridge?! Share before it gets deleted"
    (photo,) = post.media
    # t.me double-escapes "&" (&amp;amp;): the URL must come out with a plain "&".
    assert photo.url == f"{BASE}/media/images/bridge-5-flipx.jpg?token=ab&expires=1763700000"


def test_telegram_too_big_video_is_flagged_with_thumbnail():
    post = by_id(telegram.parse(fixture("telegram_channel.html"), TG_URL))["frontline_clips/1206"]
    (video,) = post.media
    assert video.too_big is True
    assert video.kind == "video"
    assert video.url == "https://t.me/frontline_clips/1206"
    assert video.thumbnail_url == f"{BASE}/media/images/bridge-4-rotate-270.jpg"


def test_telegram_text_only_reply_gif_and_round_video():
    posts = by_id(telegram.parse(fixture("telegram_channel.html"), TG_URL))
    reply = posts["frontline_clips/1207"]
    assert reply.media == ()
    assert reply.text == (
        "Update: readers say the checkpoint video is from 2022, not today.\n\nWe are checking."
    )
    (gif,) = posts["frontline_clips/1208"].media
    assert (gif.kind, gif.url) == ("gif", f"{BASE}/media/videos/pattern-sd-grey-bar.mp4")
    (round_video,) = posts["frontline_clips/1209"].media
    assert round_video.kind == "video"
    assert round_video.url == f"{BASE}/media/videos/test-padded-dimensions.mp4"
    assert round_video.thumbnail_url == f"{BASE}/media/images/square-256x256.jpg"


@pytest.mark.parametrize(
    "target",
    ["@frontline_clips", "frontline_clips", "t.me/frontline_clips", "t.me/s/frontline_clips"],
)
def test_telegram_feed_url_forms(target):
    assert telegram.feed_url(target) == TG_URL


def test_telegram_feed_url_rejects_junk():
    with pytest.raises(FeedError, match="not a Telegram channel name"):
        telegram.feed_url("@bad name!")


def test_telegram_not_a_channel_page():
    with pytest.raises(FeedError, match="not a Telegram channel preview"):
        telegram.parse(b"<html><body>Telegram: Contact @nobody</body></html>", TG_URL)
    empty_channel = b'<div class="tgme_channel_info">x</div>'
    assert telegram.parse(empty_channel, TG_URL) == []


# --------------------------------------------------------------------------------- rss / atom


RSS_URL = f"{BASE}/feeds/rss.xml"


def test_rss_items_media_and_dates():
    posts = rss.parse(fixture("rss.xml"), RSS_URL)
    assert len(posts) == 4
    video, photo, article, podcast = posts
    assert video.post_url == f"{BASE}/news/2026/11/20/convoy-border-video"
    assert video.external_id == "regional-desk-48121"
    assert video.author == "Amal Haddad"
    assert video.published == utc(2026, 11, 20, 8, 30)  # 11:30 +0300
    assert video.media == (
        MediaRef(
            url=f"{BASE}/media/videos/chair-orig-22-sd-bar.mp4",
            kind="video",
            mime="video/mp4",
            thumbnail_url=f"{BASE}/media/images/bridge-1-original.jpg",
        ),
    )
    assert "alert" not in video.text  # feedparser drops <script>
    assert video.text.startswith("Video: convoy filmed near the border crossing\nA convoy")

    assert [(m.kind, m.url) for m in photo.media] == [
        ("photo", f"{BASE}/media/images/bridge-6-flipy.jpg")
    ]
    assert rss.article_url(photo) is None

    assert article.media == ()
    assert rss.article_url(article) == f"{BASE}/news/2026/11/20/analysis"
    assert podcast.media == ()  # audio is not footage


def test_atom_enclosure_link_and_media_group():
    posts = rss.parse(fixture("atom.xml"), f"{BASE}/feeds/atom.xml")
    first, second = posts
    assert first.post_url == f"{BASE}/monitor/entries/771"
    assert first.published == utc(2026, 11, 20, 11, 45)
    assert first.author == "Monitor Desk"
    assert first.text == "Pattern footage & what it shows\nGeolocated twice."
    assert [(m.kind, m.url) for m in first.media] == [
        ("video", f"{BASE}/media/videos/pattern-hd-no-bar.mp4")
    ]
    assert second.published == utc(2026, 11, 20, 12, 0)  # only <updated>
    assert [(m.kind, m.url, m.thumbnail_url) for m in second.media] == [
        (
            "video",
            f"{BASE}/media/videos/doorknob-hd-no-bar.mp4",
            f"{BASE}/media/images/square-512x512.jpg",
        ),
        ("gif", f"{BASE}/media/images/high-contrast.gif", None),
    ]


def test_article_page_media():
    page = f"{BASE}/news/2026/11/20/analysis"
    media = rss.parse_article_media(fixture("article.html"), page)
    assert [(m.kind, m.url) for m in media] == [
        ("video", f"{BASE}/media/videos/chair-19-sd-bar.mp4"),  # og:video and og:video:url
        ("video", f"{BASE}/media/videos/pattern-longer-no-bar.mp4"),  # relative <source>
        ("video", f"{BASE}/media/videos/doorknob-hd-no-bar.mp4"),
        ("photo", f"{BASE}/media/images/bridge-1-original.jpg"),
    ]
    assert media[0].mime == "video/mp4"
    assert media[1].thumbnail_url == f"{BASE}/media/images/square-512x512.jpg"
    assert rss.parse_article_media(b"<html><p>no media", page) == []


# --------------------------------------------------------------------------------- mastodon


MASTO_URL = "https://mastodon.example/api/v1/timelines/tag/osint?only_media=true&limit=40"


def test_mastodon_tag_timeline():
    own, boost = mastodon.parse(fixture("mastodon_tag.json"), MASTO_URL)
    assert own.post_url == "https://mastodon.example/@verifier/113541200000000003"
    assert own.author == "verifier@mastodon.example"
    assert own.published == datetime(2026, 11, 20, 13, 20, 4, 512000, tzinfo=UTC)
    assert own.text.startswith('war footage\nCheckpoint clip going around again as "today".')
    assert own.media == (  # the audio attachment is skipped
        MediaRef(
            url=f"{BASE}/media/videos/chair-20-sd-bar.mp4",
            kind="video",
            thumbnail_url=f"{BASE}/media/images/blur-a-lot.jpg",
        ),
    )
    assert own.forwarded_from is None


def test_mastodon_boost_points_to_original():
    _, boost = mastodon.parse(fixture("mastodon_tag.json"), MASTO_URL)
    original = "https://other.example/@eyewitness/113530000000000555"
    assert boost.post_url == original
    assert boost.forwarded_from == original
    assert boost.external_id == "113541100000000002"  # the timeline's id, for paging
    assert boost.author == "relay_fan@mastodon.example"
    assert boost.published == utc(2026, 11, 20, 12, 0)
    assert [(m.kind, m.url) for m in boost.media] == [
        ("photo", f"{BASE}/media/images/bridge-2-rotate-90.jpg"),
        ("gif", f"{BASE}/media/videos/pattern-sd-with-small-logo-bar.mp4"),
        ("photo", f"{BASE}/media/images/sharpen-a-little.jpg"),  # "unknown": remote_url
    ]


def test_mastodon_cursor_and_urls():
    posts = mastodon.parse(fixture("mastodon_tag.json"), MASTO_URL)
    assert mastodon.cursor(posts) == "113541200000000003"
    assert mastodon.cursor([]) is None
    assert mastodon.page_url(MASTO_URL, "113541200000000003").endswith(
        "only_media=true&limit=40&min_id=113541200000000003"
    )
    assert mastodon.feed_url("#OSINT@Mastodon.Example") == (
        "https://mastodon.example/api/v1/timelines/tag/OSINT?only_media=true&limit=40"
    )
    lookup = mastodon.feed_url("@verifier@mastodon.example")
    assert lookup == "https://mastodon.example/api/v1/accounts/lookup?acct=verifier"
    assert mastodon.account_statuses_url(b'{"id": "1093", "acct": "verifier"}', lookup) == (
        "https://mastodon.example/api/v1/accounts/1093/statuses?only_media=true&limit=40"
    )
    with pytest.raises(FeedError, match="account lookup"):
        mastodon.parse(b'{"id": "1093", "acct": "verifier"}', lookup)
    with pytest.raises(FeedError, match="not a Mastodon target"):
        mastodon.feed_url("osint")


def test_mastodon_login_wall_is_a_clear_error():
    with pytest.raises(FeedError, match="This API requires an authenticated user"):
        mastodon.parse(b'{"error":"This API requires an authenticated user"}', MASTO_URL)


# --------------------------------------------------------------------------------- bluesky


BSKY_URL = bluesky.feed_url("fieldreports.bsky.social")


def test_bluesky_author_feed():
    posts = bluesky.parse(fixture("bluesky_author_feed.json"), BSKY_URL)
    video, images, quote, repost, link = posts
    assert video.post_url == "https://bsky.app/profile/fieldreports.bsky.social/post/3lbvideo00001"
    assert video.published == datetime(2026, 11, 20, 10, 5, 0, 123000, tzinfo=UTC)
    assert video.media == (
        MediaRef(
            url=f"{BASE}/hls/did:plc:abc123fieldreports/bafkreivideoblob0001/playlist.m3u8",
            kind="video",
            mime="application/vnd.apple.mpegurl",
            thumbnail_url=f"{BASE}/media/images/high-saturation.jpg",
        ),
    )
    assert [(m.kind, m.url) for m in images.media] == [
        ("photo", f"{BASE}/media/images/bridge-3-rotate-180.jpg"),
        ("photo", f"{BASE}/media/images/bridge-4-rotate-270.jpg"),
    ]
    assert [m.url for m in quote.media] == [f"{BASE}/media/images/aaa-orig.jpg"]
    assert link.media == ()


def test_bluesky_repost():
    posts = bluesky.parse(fixture("bluesky_author_feed.json"), BSKY_URL)
    repost = posts[3]
    original = "https://bsky.app/profile/eyewitness.example.org/post/3lbrepost0004"
    assert repost.post_url == original
    assert repost.forwarded_from == original
    assert repost.author == "fieldreports.bsky.social"
    assert repost.published == utc(2026, 11, 20, 7, 0)  # when it was reposted
    assert bluesky.next_cursor(fixture("bluesky_author_feed.json"), BSKY_URL) == (
        "2026-11-20T06:00:00Z"
    )


def test_bluesky_feed_url_and_errors():
    assert BSKY_URL == (
        "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed"
        "?actor=fieldreports.bsky.social&filter=posts_with_media&limit=100"
    )
    assert "actor=did:plc:abc" in bluesky.feed_url("did:plc:abc")
    with pytest.raises(FeedError, match="Profile not found"):
        bluesky.parse(b'{"error":"InvalidRequest","message":"Profile not found"}', BSKY_URL)
    with pytest.raises(FeedError, match='"feed" list'):
        bluesky.parse(b'{"posts": []}', BSKY_URL)


# --------------------------------------------------------------------------------- youtube


def test_youtube_channel_feed():
    url = youtube.feed_url("UCxxxxxxxxxxxxxxxxxxxxx1")
    assert url == "https://www.youtube.com/feeds/videos.xml?channel_id=UCxxxxxxxxxxxxxxxxxxxxx1"
    video, short = youtube.parse(fixture("youtube_channel.xml"), url)
    assert video.post_url == "https://www.youtube.com/watch?v=dQw4w9WgXcA"
    assert video.external_id == "yt:video:dQw4w9WgXcA"
    assert video.published == utc(2026, 11, 20, 6, 0, 13)
    assert video.author == "Conflict Footage Daily"
    assert "We could not confirm the date." in video.text
    assert video.media == (
        MediaRef(
            url="https://www.youtube.com/watch?v=dQw4w9WgXcA",
            kind="video",
            thumbnail_url=f"{BASE}/media/images/bridge-7-flip-plus-1.jpg",
        ),
    )
    assert short.post_url == "https://www.youtube.com/shorts/Shrt0000001"
    assert youtube.feed_url("PLabc_-123").endswith("?playlist_id=PLabc_-123")
    with pytest.raises(FeedError, match="channel id"):
        youtube.feed_url("@somehandle")


# --------------------------------------------------------------------------------- reddit


def test_reddit_new_feed():
    url = reddit.feed_url("r/CombatFootage")
    assert url == "https://www.reddit.com/r/CombatFootage/new/.rss"
    video, image, selfpost = reddit.parse(fixture("reddit_new.rss"), url)
    assert video.post_url == (
        "https://www.reddit.com/r/CombatFootage/comments/1gx0a1b/tank_column_filmed_today/"
    )
    assert video.external_id == "t3_1gx0a1b"
    assert video.author == "throwaway_watcher"
    assert video.published == utc(2026, 11, 20, 13, 58, 40)
    assert video.media == (
        MediaRef(
            url="https://v.redd.it/k3j9x0abc1d",
            kind="video",
            thumbnail_url=f"{BASE}/media/images/blur-a-little.jpg",
        ),
    )
    assert [(m.kind, m.url) for m in image.media] == [
        ("photo", f"{BASE}/media/images/bridge-1-original.jpg")
    ]
    assert selfpost.media == ()
    assert "flaired as OLD" in selfpost.text


# --------------------------------------------------------------------------------- registry


def test_registry_has_every_kind_and_full_urls_pass_through():
    assert set(KINDS) == {
        "rss",
        "telegram",
        "mastodon",
        "bluesky",
        "youtube",
        "reddit",
        "factcheck",
        "bundle",
    }
    for name, kind in KINDS.items():
        assert name == kind.KIND
        assert kind.feed_url("http://127.0.0.1:8080/x?y=1") == "http://127.0.0.1:8080/x?y=1"


MALFORMED = [
    ("rss", b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Half'),
    ("rss", b"<html><body>Too many requests</body></html>"),
    ("youtube", b""),
    ("reddit", b"\x00\x01 not xml <<<"),
    ("telegram", b"\x89PNG\r\n\x1a\n binary"),
    ("mastodon", b"[{"),
    ("mastodon", b"<html>502 Bad Gateway</html>"),
    ("bluesky", b"[]"),
]


@pytest.mark.parametrize(("kind", "body"), MALFORMED)
def test_malformed_input_raises_feed_error_with_message(kind, body):
    with pytest.raises(FeedError) as info:
        KINDS[kind].parse(body, "https://src.example/feed")
    message = str(info.value)
    assert message.startswith("Could not read the feed https://src.example/feed: ")
    assert len(message) > 50


def _post(text: str) -> Post:
    return Post("rss", "u", "u", "1", None, None, text, ())


def test_keyword_filter():
    post = _post("Airstrike on the BRIDGE in Kherson (video)")
    assert keyword_filter(post, [], [])
    assert keyword_filter(post, ["bridge"], [])
    assert keyword_filter(post, ["port", "kherson"], [])
    assert not keyword_filter(post, ["port"], [])
    assert not keyword_filter(post, ["bridge"], ["VIDEO"])
    assert keyword_filter(post, ["  ", ""], [""])  # blank keywords are ignored
    assert keyword_filter(_post("price: $5 (a+b)"), ["$5 (a+b)"], [])  # no regex semantics
    assert not keyword_filter(_post("anything"), [".*"], [])


# --------------------------------------------------------------------------------- address guard


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://[64:ff9b::7f00:1]/",
        "http://localhost/",
        "http://0x7f000001/",
        "file:///etc/passwd",
        "gopher://example.org/",
    ],
)
async def test_guard_refuses_internal_targets(url):
    policy = AddressPolicy.build(allow_private=False)
    with pytest.raises(BlockedAddressError):
        await check_url(url, policy, GuardedResolver(policy))


async def test_guard_loopback_exception_still_refuses_private_hop():
    policy = AddressPolicy.build(allow_private=False, allowed_networks=LOOPBACK)
    resolver = GuardedResolver(policy)
    await check_url("http://127.0.0.1:9/", policy, resolver)  # allowed for tests
    with pytest.raises(BlockedAddressError, match="10.0.0.1"):
        await check_url("http://10.0.0.1/", policy, resolver)
    await check_url("https://93.184.215.14/", policy, resolver)  # public literal, no DNS needed


def test_public_address_rules():
    for addr in ("8.8.8.8", "2606:4700:4700::1111"):
        assert is_public_address(addr)
    for addr in ("192.0.0.8", "2002:7f00:1::", "224.0.0.1", "::ffff:10.1.2.3", "fe80::1"):
        assert not is_public_address(addr)


async def test_connector_refuses_private_resolution_even_without_precheck(feed_server):
    """DNS rebinding: the address check in the connector itself, not only before the request."""
    port = feed_server.base_url.rsplit(":", 1)[1]
    async with make_session(allow_private_addresses=False) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.get(f"http://localhost:{port}/feeds/rss.xml")
    assert isinstance(info.value.os_error, BlockedAddressError)
    assert feed_server.requests == []


# --------------------------------------------------------------------------------- fetch


def test_session_sets_user_agent():
    assert USER_AGENT == "oldclip/0.1 (+https://github.com/oldclip/oldclip)"


async def test_fetch_parse_and_download_end_to_end(feed_server: FeedServer):
    async with make_session(allow_private_addresses=False, allowed_networks=LOOPBACK) as s:
        page = await fetch(s, feed_server.url("/feeds/telegram_channel.html"), max_bytes=2**20,
                           timeout_s=5)  # fmt: skip
        assert page.status == 200 and page.content_type == "text/html"
        posts = telegram.parse(page.body, page.final_url)
        video = posts[0].media[0]
        assert video.url == feed_server.url("/media/videos/chair-orig-22-sd-bar.mp4")
        clip = await fetch(s, video.url, max_bytes=50 * 2**20, timeout_s=5,
                           accept_types=["video/*"])  # fmt: skip
    assert clip.content_type == "video/mp4"
    assert clip.body == (MEDIA_DIR / "videos" / "chair-orig-22-sd-bar.mp4").read_bytes()
    assert feed_server.requests[0].headers["User-Agent"] == USER_AGENT


async def test_conditional_get_gives_not_modified(feed_server: FeedServer):
    url = feed_server.url("/feeds/rss.xml")
    async with make_session(allow_private_addresses=True) as s:
        first = await fetch(s, url, max_bytes=2**20, timeout_s=5)
        assert first.etag and first.last_modified and len(rss.parse(first.body, url)) == 4
        second = await fetch(s, url, max_bytes=2**20, timeout_s=5, etag=first.etag)
        third = await fetch(s, url, max_bytes=2**20, timeout_s=5,
                            last_modified=first.last_modified)  # fmt: skip
    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert second.etag == first.etag
    assert third.not_modified
    assert feed_server.requests[1].headers["If-None-Match"] == first.etag


async def test_relative_redirect_is_followed(feed_server: FeedServer):
    async with make_session(allow_private_addresses=False, allowed_networks=LOOPBACK) as s:
        result = await fetch(s, feed_server.url("/redirect-to/atom.xml"), max_bytes=2**20,
                             timeout_s=5)  # fmt: skip
        chain = await fetch(s, feed_server.url("/redirect-chain/5"), max_bytes=2**20, timeout_s=5)
    assert result.final_url == feed_server.url("/feeds/atom.xml")
    assert chain.final_url == feed_server.url("/feeds/rss.xml")


async def test_byte_cap_stops_endless_body_quickly(feed_server: FeedServer):
    started = time.monotonic()
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match="over the limit of 1048576 bytes"):
            await fetch(s, feed_server.url("/huge"), max_bytes=2**20, timeout_s=30)
    assert time.monotonic() - started < 5


async def test_content_length_over_cap_is_refused_before_reading(feed_server: FeedServer):
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match=r"it is \d+ bytes, over the limit of 1000 bytes"):
            await fetch(s, feed_server.url("/media/videos/chair-19-sd-bar.mp4"), max_bytes=1000,
                        timeout_s=5)  # fmt: skip


async def test_timeout(feed_server: FeedServer):
    started = time.monotonic()
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match=r"no complete answer within 0.3 s"):
            await fetch(s, feed_server.url("/slow"), max_bytes=2**20, timeout_s=0.3)
    assert time.monotonic() - started < 3


async def test_server_error_and_missing_feed(feed_server: FeedServer):
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match="HTTP 500") as info:
            await fetch(s, feed_server.url("/500"), max_bytes=2**20, timeout_s=5)
        assert info.value.status == 500
        with pytest.raises(FetchError, match="no longer exists"):
            await fetch(s, feed_server.url("/feeds/nope.xml"), max_bytes=2**20, timeout_s=5)


async def test_redirect_loop_and_too_many_redirects(feed_server: FeedServer):
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match="redirect loop"):
            await fetch(s, feed_server.url("/redirect-loop"), max_bytes=2**20, timeout_s=5)
        with pytest.raises(FetchError, match="more than 5 redirects"):
            await fetch(s, feed_server.url("/redirect-chain/6"), max_bytes=2**20, timeout_s=5)


async def test_redirect_to_private_address_is_refused(feed_server: FeedServer):
    async with make_session(allow_private_addresses=False, allowed_networks=LOOPBACK) as s:
        with pytest.raises(FetchError) as info:
            await fetch(s, feed_server.url("/redirect-private"), max_bytes=2**20, timeout_s=5)
    message = str(info.value)
    assert "http://10.0.0.1/" in message and "SSRF" in message
    # The real setting, as it is written in the config file (there is no such flag to run with)
    assert '[network] allowed_networks = ["10.0.0.1/32"]' in message
    assert "allow_private_addresses" not in message


async def test_loopback_refused_when_private_addresses_not_allowed(feed_server: FeedServer):
    async with make_session(allow_private_addresses=False) as s:
        with pytest.raises(FetchError, match="127.0.0.1 is a private or internal address"):
            await fetch(s, feed_server.url("/feeds/rss.xml"), max_bytes=2**20, timeout_s=5)
        with pytest.raises(FetchError, match="resolves to 127.0.0.1"):
            port = feed_server.base_url.rsplit(":", 1)[1]
            await fetch(s, f"http://localhost:{port}/", max_bytes=2**20, timeout_s=5)
    assert feed_server.requests == []  # nothing reached the server


async def test_html_served_as_video_is_refused(feed_server: FeedServer):
    async with make_session(allow_private_addresses=True) as s:
        with pytest.raises(FetchError, match="sent text/html, expected video/\\*"):
            await fetch(s, feed_server.url("/html-as-video.mp4"), max_bytes=2**20, timeout_s=5,
                        accept_types=["video/*"])  # fmt: skip


async def test_malformed_bodies_from_server_raise_feed_error(feed_server: FeedServer):
    async with make_session(allow_private_addresses=True) as s:
        xml = await fetch(s, feed_server.url("/malformed.xml"), max_bytes=2**20, timeout_s=5)
        js = await fetch(s, feed_server.url("/malformed.json"), max_bytes=2**20, timeout_s=5)
    with pytest.raises(FeedError, match="malformed or truncated"):
        rss.parse(xml.body, xml.final_url)
    with pytest.raises(FeedError, match="not JSON"):
        mastodon.parse(js.body, js.final_url)


async def test_unknown_host_is_a_clear_error():
    async with make_session(allow_private_addresses=False) as s:
        with pytest.raises(FetchError, match="cannot be resolved"):
            await fetch(s, "http://no-such-host.invalid/feed", max_bytes=1, timeout_s=5)


async def test_fetch_needs_a_guarded_session():
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(TypeError, match="make_session"):
            await fetch(plain, "http://example.org/", max_bytes=1, timeout_s=1)


def test_every_fixture_is_used():
    names = {p.name for p in Path(FIXTURES_DIR).iterdir()}
    assert names >= {
        "rss.xml", "atom.xml", "telegram_channel.html", "mastodon_tag.json",
        "bluesky_author_feed.json", "youtube_channel.xml", "reddit_new.rss", "article.html",
    }  # fmt: skip
