"""Links to posts -> a local video file, with yt-dlp used as a library.

Safety, from the verified pitfalls in shared/docs/sources-and-pitfalls.md:

* Only the extractors of the sites in ``SITES`` are loaded, never yt-dlp's "generic" one: a raw
  URL to an arbitrary host (``http://127.0.0.1:8080/x.mp4``, an internal address, a file) is
  refused before any request is made.  A site's own redirects are not IP-checked by yt-dlp:
  ``proxy`` can route every request through an egress proxy that refuses private addresses.
* The size cap is a progress hook that cancels the download once more than ``max_bytes`` have
  arrived or were announced: yt-dlp's ``max_filesize`` only applies when the server sends a
  Content-Length (a chunked response is downloaded whole) and it skips silently.  The format
  choice also prefers formats known to fit.
* The duration cap is a match filter; live streams are refused.
* No ``max_downloads`` (it raises even after the single download succeeded); the file is the
  one named in ``info["requested_downloads"]``.
* yt-dlp blocks: ``download_link`` runs in a worker thread (``LinkDownloader.fetch``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadCancelled, DownloadError, YoutubeDLError

from bot.ports import LinkError, UnsupportedLink

log = logging.getLogger(__name__)

__all__ = ["SITES", "LinkDownloader", "LinkError", "UnsupportedLink", "download_link", "supports"]

# yt-dlp extractor names (IE_NAME): single posts and videos on these sites, nothing else.
SITES = (
    "youtube",  # watch, shorts, youtu.be
    "twitter",  # x.com and twitter.com posts
    "twitter:shortener",  # t.co (what it points to must be a supported site too)
    "tiktok",
    "vm.tiktok",
    "facebook",
    "facebook:reel",
    "instagram",
    "reddit",
    "bluesky",
    "vimeo",
    "telegram:embed",  # t.me/channel/123
)
MAX_WALL_S = 600.0  # a download still trickling in after this long is given up
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@functools.cache
def _extractors() -> tuple[type, ...]:
    from yt_dlp.extractor import gen_extractor_classes

    wanted = set(SITES)
    return tuple(ie for ie in gen_extractor_classes() if ie.IE_NAME.lower() in wanted)


def normalize(url: str) -> str:
    """ "t.me/x/1" and "www.youtube.com/..." as people paste them get https://."""
    url = url.strip()
    return url if re.match(r"(?i)^[a-z][a-z0-9+.-]*://", url) else "https://" + url


def supports(url: str) -> bool:
    """Whether one of the allowed extractors handles this URL (no network)."""
    url = normalize(url)
    if not url.lower().startswith(("https://", "http://")):
        return False
    return any(ie.suitable(url) for ie in _extractors())


class _Log:
    """yt-dlp's messages go to logging (never to the terminal or to the person asking)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)


def _reason(exc: BaseException) -> str:
    """yt-dlp's error message as a short sentence: no "ERROR:", colours or traceback."""
    text = _ANSI.sub("", str(exc)).strip()
    text = re.sub(r"^(ERROR:\s*)+", "", text)
    text = text.splitlines()[0] if text else type(exc).__name__
    text = re.sub(r"\s*\(caused by .*\)$", "", text)  # the same again, as Python sees it
    text = re.sub(r"^\[[\w:.-]+\] [^:\s]+: ", "", text)  # "[twitter] 1790...: " (site, post id)
    return text if len(text) <= 300 else text[:297] + "..."


def download_link(
    url: str,
    folder: Path,
    *,
    max_bytes: int,
    max_duration_s: float,
    socket_timeout_s: float = 20.0,
    proxy: str | None = None,
) -> Path:
    """Download the video of a post on a supported site into ``folder``; blocking.

    Raises UnsupportedLink for any other URL (before any request) and LinkError with the
    reason when the download fails or is over a cap.
    """
    url = normalize(url)
    if not supports(url):
        raise UnsupportedLink(f"not a link to a post on a supported site: {url}")
    return _download(
        folder,
        lambda ydl: ydl.extract_info(url, download=True),
        max_bytes=max_bytes,
        max_duration_s=max_duration_s,
        socket_timeout_s=socket_timeout_s,
        proxy=proxy,
    )


def _download(
    folder: Path,
    run: Callable[[yt_dlp.YoutubeDL], Any],
    *,
    max_bytes: int,
    max_duration_s: float,
    socket_timeout_s: float,
    proxy: str | None,
) -> Path:
    """Run ``run`` (extract and download) on a YoutubeDL set up with the caps; the file."""
    refused: list[str] = []
    deadline = time.monotonic() + MAX_WALL_S
    mb = f"{max_bytes / 1e6:.0f} MB"

    def cap(progress: dict[str, Any]) -> None:
        announced = progress.get("total_bytes") or 0
        if max(progress.get("downloaded_bytes") or 0, announced) > max_bytes:
            refused.append(f"the video is larger than {mb}")
            raise DownloadCancelled(refused[-1])
        if time.monotonic() > deadline:
            refused.append(f"the download took longer than {MAX_WALL_S:.0f} s")
            raise DownloadCancelled(refused[-1])

    def match(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            refused.append("it is a live stream")
        elif (info.get("duration") or 0) > max_duration_s:
            refused.append(f"the video is longer than {max_duration_s / 60:.0f} minutes")
        else:
            return None
        return refused[-1]

    fits = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": "never",
        "logger": _Log(),
        "allowed_extractors": [re.escape(name) for name in SITES],  # never "generic"
        "noplaylist": True,
        "playlist_items": "1",
        # One file with video (audio is not needed to fingerprint): no merging, so no ffmpeg.
        "format": f"b[height<=720]{fits}/bv*[height<=720]{fits}/b{fits}/bv*{fits}",
        "match_filter": match,
        "progress_hooks": [cap],
        "outtmpl": {"default": "%(id).60B.%(ext)s"},
        "paths": {"home": str(folder), "temp": str(folder)},
        "restrictfilenames": True,
        "windowsfilenames": True,
        "overwrites": True,
        "cachedir": False,
        "socket_timeout": socket_timeout_s,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 1,
        "proxy": proxy or None,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = run(ydl)
    except DownloadCancelled as exc:
        raise LinkError(refused[-1] if refused else _reason(exc)) from None
    except DownloadError as exc:
        reason = _reason(exc)
        if "No suitable extractor" in reason or "Unsupported URL" in reason:
            raise UnsupportedLink(reason) from None
        raise LinkError(refused[-1] if refused else reason) from None
    except YoutubeDLError as exc:  # anything else yt-dlp reports
        raise LinkError(_reason(exc)) from None
    if refused:
        raise LinkError(refused[-1])
    downloads = (info or {}).get("requested_downloads") or []
    path = Path(downloads[0].get("filepath") or "") if downloads else None
    if path is None or not path.is_file():
        raise LinkError("there is no video to download in that post")
    return path


class LinkDownloader:
    """The bot's ``LinkFetcher``: ``download_link`` in a worker thread, a few at a time."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_duration_s: float,
        socket_timeout_s: float = 20.0,
        proxy: str | None = None,
        concurrency: int = 2,
    ):
        self.options = {
            "max_bytes": max_bytes,
            "max_duration_s": max_duration_s,
            "socket_timeout_s": socket_timeout_s,
            "proxy": proxy or None,
        }
        self._slots = asyncio.Semaphore(concurrency)

    def supports(self, url: str) -> bool:
        return supports(url)

    async def fetch(self, url: str, folder: Path) -> Path:
        async with self._slots:
            return await asyncio.to_thread(download_link, url, folder, **self.options)
