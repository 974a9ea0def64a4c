"""Deciding whether a link is a video, a photo or a GIF from its MIME type, medium or name.

Sources label media inconsistently (a MIME type, a Media RSS `medium`, or only a file name), and
the pipeline must not try to decode a podcast or a PDF as video.  Unknown means None: skip it.
"""

from __future__ import annotations

from posixpath import splitext
from urllib.parse import urlsplit

HLS_TYPES = frozenset({"application/x-mpegurl", "application/vnd.apple.mpegurl"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".m3u8", ".gifv"})
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".avif", ".heic"})


def kind_from_mime(mime: str | None) -> str | None:
    """'video' | 'photo' | 'gif' for a MIME type, None for anything else (audio, html...)."""
    if not mime:
        return None
    mime = mime.split(";", 1)[0].strip().lower()
    if mime == "image/gif":
        return "gif"
    if mime.startswith("video/") or mime in HLS_TYPES:
        return "video"
    if mime.startswith("image/"):
        return "photo"
    return None


def kind_from_url(url: str) -> str | None:
    """Guess from the file extension of the URL path (query strings ignored)."""
    ext = splitext(urlsplit(url).path)[1].lower()
    if ext == ".gif":
        return "gif"
    if ext == ".gifv":  # imgur's "GIF" is really an mp4
        return "gif"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in PHOTO_EXTENSIONS:
        return "photo"
    return None


def guess_kind(url: str, mime: str | None = None, medium: str | None = None) -> str | None:
    """Best guess, most explicit signal first: MIME type, then Media RSS medium, then name."""
    by_mime = kind_from_mime(mime)
    if by_mime:
        return by_mime
    if medium == "video":
        return "video"
    if medium == "image":
        return "gif" if kind_from_url(url) == "gif" else "photo"
    if mime and not mime.lower().startswith("application/octet-stream"):
        return None  # an explicit, non-media type (audio/mpeg, text/html, flash): trust it
    return kind_from_url(url)


def is_http_url(url: str | None) -> bool:
    """Only http(s) links are handed on; javascript:, data:, file: never are."""
    if not url:
        return False
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


# Hosts whose video links are web pages or adaptive streams, not files: without a downloader
# (yt-dlp) only their thumbnail can be fingerprinted.
PAGE_HOSTS = ("youtube.com", "youtu.be", "v.redd.it", "tiktok.com", "x.com", "twitter.com")


def is_direct_file(url: str, mime: str | None = None) -> bool:
    """False for links that are pages or HLS playlists rather than a media file to download."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in PAGE_HOSTS):
        return False
    if mime and mime.split(";", 1)[0].strip().lower() in HLS_TYPES:
        return False
    return splitext(parts.path)[1].lower() != ".m3u8"
