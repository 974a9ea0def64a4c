"""Media downloads for the watchers: streamed to disk, a bounded number at a time per host.

A 190 MB enclosure must not sit in memory (four at once made the service 1 GB bigger), and a
source that trickles a byte every few seconds must hold only its own download, not the other
feeds' media.  So every download streams into a partial file beside the archive (the size cap
counted while streaming, by ``watchers.http.fetch``), is renamed into place once complete, and
takes a slot: at most ``max_downloads`` at once in all, ``per_host`` at once from one host.
The queue (``oldclip.pipeline``) asks ``reserve`` before it starts an item, so an item waiting
for its host never takes a place another host's item could use.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from fingerprint import MediaError
from watchers.http import fetch

MEDIA_TYPES = ("video/", "image/", "application/octet-stream", "binary/octet-stream")
PARTIAL_DIR = ".partial"  # downloads in progress, inside the media folder


def host_of(url: str) -> str:
    """The host a download occupies (lower case; empty for a link without one)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class Downloads:
    """Streams media into the archive folder, within a global and a per-host limit."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        media_dir: Path,
        *,
        max_bytes: int,
        timeout_s: float,
        max_downloads: int,
        per_host: int,
    ) -> None:
        self.session = session
        self.media_dir = media_dir
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_downloads = max(1, max_downloads)
        self.per_host = max(1, per_host)
        self._busy: Counter[str] = Counter()
        self.partial_dir = media_dir / PARTIAL_DIR
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self._sweep()

    def _sweep(self) -> None:
        """Partial files left by a process killed mid-download: long abandoned, so removed
        (a younger one may be another oldclip's download in progress)."""
        stale = time.time() - 2 * self.timeout_s - 60
        for path in self.partial_dir.glob("*.part"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < stale:
                    path.unlink()

    def reserve(self, url: str) -> bool:
        """Take a download slot for ``url``'s host if one is free; ``release`` gives it back."""
        host = host_of(url)
        if sum(self._busy.values()) >= self.max_downloads or self._busy[host] >= self.per_host:
            return False
        self._busy[host] += 1
        return True

    def release(self, url: str) -> None:
        host = host_of(url)
        self._busy[host] -= 1
        if self._busy[host] <= 0:
            del self._busy[host]

    async def download(self, url: str, folder: Path, name: str) -> Path:
        """Stream ``url`` into the archive folder (see ``save_media``)."""
        return await save_media(
            self.session,
            url,
            folder,
            name,
            max_bytes=self.max_bytes,
            timeout_s=self.timeout_s,
            partial_dir=self.partial_dir,
        )


async def save_media(
    session: aiohttp.ClientSession,
    url: str,
    folder: Path,
    name: str,
    *,
    max_bytes: int,
    timeout_s: float,
    partial_dir: Path | None = None,
) -> Path:
    """Stream ``url`` into ``folder/name`` + a suffix from its content type; return the path.

    The body goes to a partial file in ``partial_dir`` (default ``folder``; on the same file
    system, so the rename is atomic) and never into memory.  Raises FetchError (network,
    status, size cap, timeout) or MediaError (not a video or photo); nothing is left behind
    on failure.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=partial_dir or folder, prefix=f".{name}-", suffix=".part", delete=False
    ) as sink:
        partial = Path(sink.name)
        try:
            result = await fetch(session, url, max_bytes=max_bytes, timeout_s=timeout_s, sink=sink)
        except BaseException:
            sink.close()
            partial.unlink(missing_ok=True)
            raise
    content_type = (result.content_type or "").split(";")[0].strip()
    if not content_type.startswith(MEDIA_TYPES):
        partial.unlink(missing_ok=True)
        # Final: the link is a web page (or worse), asking again gives the same page.
        raise MediaError(
            url,
            f"the server sent {content_type or 'no content type'}, not a video or photo; "
            "the link probably points to a web page",
        )
    target = folder / f"{name}{mimetypes.guess_extension(content_type) or '.bin'}"
    os.replace(partial, target)
    return target
