"""oldclip.links: which links are fetched at all, and the caps, offline.

The caps are exercised on yt-dlp's real downloader against the local feed server: an info dict
that points at it stands in for what a site's extractor would return (extractors themselves
need the network, and raw URLs are refused by design).
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from feed_server import FeedServer
from media import CHAIR_RECUT

from oldclip.links import (
    LinkDownloader,
    LinkError,
    UnsupportedLink,
    _download,
    download_link,
    normalize,
    supports,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://t.me/some_channel/123",
        "t.me/some_channel/123",
        "https://x.com/someone/status/1790000000000000000",
        "https://twitter.com/someone/status/1790000000000000000",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "youtu.be/dQw4w9WgXcQ",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.tiktok.com/@someone/video/7300000000000000000",
        "https://www.facebook.com/watch/?v=1234567890",
        "https://www.instagram.com/p/C1abcDEFghi/",
        "https://www.reddit.com/r/videos/comments/abc123/some_title/",
        "https://bsky.app/profile/someone.bsky.social/post/3kabcdefghi2x",
        "https://vimeo.com/123456789",
    ],
)
def test_posts_on_supported_sites_are_supported(url: str) -> None:
    assert supports(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/video.mp4",
        "http://localhost/video.mp4",
        "http://10.0.0.1/internal",
        "http://[::1]/x.mp4",
        "https://example.org/clip.mp4",
        "file:///etc/passwd",
        "ftp://example.org/a.mp4",
        "https://www.youtube.com/@somechannel",  # a whole channel, not a post
        "https://t.me/s/some_channel",
    ],
)
def test_other_links_are_refused_before_any_request(url: str) -> None:
    assert not supports(url)
    with pytest.raises(UnsupportedLink):
        download_link(url, Path("/nonexistent"), max_bytes=1, max_duration_s=1)


def test_normalize() -> None:
    assert normalize(" t.me/a/1 ") == "https://t.me/a/1"
    assert normalize("http://x.com/a") == "http://x.com/a"


async def test_a_local_server_never_sees_a_request(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.url("/media/videos/chair-20-sd-bar.mp4")
    with pytest.raises(UnsupportedLink):
        await asyncio.to_thread(download_link, url, tmp_path, max_bytes=10**8, max_duration_s=3600)
    assert feed_server.requests == []
    assert list(tmp_path.iterdir()) == []


def _info(url: str, **extra: object) -> dict:
    return {"id": "clip1", "title": "a clip", "url": url, "ext": "mp4", **extra}


def _fetch(folder: Path, info: dict, *, max_bytes: int, max_duration_s: float = 600) -> Path:
    return _download(
        folder,
        lambda ydl: ydl.process_ie_result(info, download=True),
        max_bytes=max_bytes,
        max_duration_s=max_duration_s,
        socket_timeout_s=5,
        proxy=None,
    )


async def test_a_video_within_the_caps_is_downloaded(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    info = _info(feed_server.url("/media/videos/chair-20-sd-bar.mp4"), duration=20)
    path = await asyncio.to_thread(_fetch, tmp_path, info, max_bytes=50_000_000)
    assert path.parent == tmp_path and path.read_bytes() == CHAIR_RECUT.read_bytes()


async def test_the_size_cap_holds_without_content_length(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """/huge is 1 GB, chunked, with no Content-Length: yt-dlp's max_filesize would not stop it."""
    started = time.monotonic()
    with pytest.raises(LinkError, match="larger than 2 MB"):
        await asyncio.to_thread(_fetch, tmp_path, _info(feed_server.url("/huge")), max_bytes=2**21)
    assert time.monotonic() - started < 30
    kept = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert kept < 20 * 2**20  # it stopped near the cap, not at 1 GB


async def test_the_size_cap_holds_with_content_length(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    info = _info(feed_server.url("/media/videos/chair-20-sd-bar.mp4"))
    with pytest.raises(LinkError, match="larger than"):
        await asyncio.to_thread(_fetch, tmp_path, info, max_bytes=10_000)


async def test_too_long_and_live_videos_are_refused_unfetched(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.url("/media/videos/chair-20-sd-bar.mp4")
    with pytest.raises(LinkError, match="longer than 10 minutes"):
        await asyncio.to_thread(_fetch, tmp_path, _info(url, duration=3600), max_bytes=10**8)
    with pytest.raises(LinkError, match="live stream"):
        await asyncio.to_thread(_fetch, tmp_path, _info(url, is_live=True), max_bytes=10**8)
    assert feed_server.requests == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_supported_site_unreachable_fails_fast_with_the_reason(tmp_path: Path) -> None:
    links = LinkDownloader(
        max_bytes=10**7,
        max_duration_s=600,
        socket_timeout_s=5,
        proxy=f"http://127.0.0.1:{_closed_port()}",  # no network, whatever the machine has
    )
    assert links.supports("https://t.me/some_channel/123")
    started = time.monotonic()
    with pytest.raises(LinkError) as caught:
        await links.fetch("https://t.me/some_channel/123", tmp_path)
    assert time.monotonic() - started < 30
    reason = str(caught.value)
    assert reason and "Traceback" not in reason and not reason.startswith("ERROR")
    assert not isinstance(caught.value, UnsupportedLink)
