"""Clips from the pages where footage appeared: `oldclip import-page` and the factcheck feeds.

A news article that first published a video, or a fact-check that debunked its reuse, already
says what the footage shows, when it appeared and where: the library takes it from there
instead of from a person typing it in.  Footage already in the library (another copy, a frame
of it as a photo) is not added twice: the page becomes one more source of that clip, and the
clip's first-seen date moves back if the page is older.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp

import storage
from fingerprint import Fingerprint, MediaError
from watchers.http import FetchError, fetch
from watchers.pages import PageError, PageInfo, PageMedia, read_page
from watchers.provenance import NoDateError, Provenance, from_page

from .config import Config
from .downloads import save_media
from .http import http_session
from .library import Library
from .links import LinkDownloader, LinkError, UnsupportedLink

PAGE_MAX_BYTES = 5 * 1024 * 1024
PAGE_TIMEOUT_S = 30.0
HTML_TYPES = ("text/html", "application/xhtml+xml")


class PageImportError(Exception):
    """The page cannot give the library anything: unreadable, or no date and none given."""


@dataclass
class PageReport:
    """What one page gave the library, and what it could not use and why."""

    page: str
    provenance: Provenance
    clips: list[tuple[str, int, str]] = field(default_factory=list)  # (media, clip, outcome)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (media, why)
    saved: dict[str, Path] = field(default_factory=dict)  # media taken from --media-dir


def record_provenance(
    library: Library, media_id: int, fp: Fingerprint, provenance: Provenance, *, via: str
) -> tuple[int, str]:
    """Make stored media a clip with this provenance, or a source of the clip it repeats.

    Returns (clip id, outcome): "new" for a new clip, "merged" when an existing clip learnt
    something (a source, an earlier date, a claim), "known" when it knew it all already.
    """
    db = library.db
    target = next(
        (
            found.match.media_id
            for found in library.match(fp)
            if found.clip is not None
            and found.match.media_id != media_id
            and not found.match.sound_only  # the same sound over other footage is not a repeat
        ),
        media_id,
    )
    before = db.changes
    with db.atomic():
        clip_id, created = storage.add_clip(
            db,
            target,
            title=provenance.title,
            first_seen=provenance.source_date,
            source=provenance.source,
            source_kind=provenance.source_kind,
            source_title=provenance.title,
            date_from=provenance.date_from,
            description=provenance.description,
            # What a stranger's page links to: a link that is not http(s) is left out.
            verdict_url=storage.safe_or_none(provenance.verdict_url),
            language=provenance.language,
            claim=provenance.claim,
            rating=provenance.rating,
            added_by=via,
        )
        for url, when in provenance.appearances:
            if storage.is_web_url(url):
                storage.add_clip_source(
                    db, clip_id, url=url, first_seen=when, via=via, date_from="claimreview"
                )
    library.index_media(target)
    if created:
        return clip_id, "new"
    return clip_id, "merged" if db.changes != before else "known"


async def import_page(
    library: Library,
    config: Config,
    target: str,
    *,
    page_url: str | None = None,
    first_seen: date | None = None,
    embeds: bool = False,
    media_dir: Path | None = None,
) -> PageReport:
    """Read a page (a URL, or a saved HTML file) and add each of its media as a clip.

    ``page_url`` is where a saved file was published (default: its canonical link);
    ``first_seen`` overrides the page's date, or supplies one when the page has none;
    ``embeds`` downloads embedded YouTube/X/Telegram players with the link downloader;
    ``media_dir`` holds media saved with the page: the 2017 article's video has often
    vanished from its server, while an archived copy of the page kept it.
    """
    saved = _saved_files(media_dir) if media_dir is not None else {}
    async with http_session(config) as session:
        page = await _read(session, target, page_url)
        try:
            provenance = from_page(page, fallback_date=first_seen)
        except NoDateError as exc:
            raise PageImportError(str(exc)) from None
        if first_seen is not None:
            provenance = replace(provenance, source_date=first_seen.isoformat())
        if not storage.is_web_url(provenance.source):  # the source of every clip it makes
            raise PageImportError(
                f"the page's address {storage.shown(provenance.source)!r} is not an http(s) "
                "link; give where it was published with --url URL"
            )
        report = PageReport(page.url, provenance)
        if not page.media:
            report.skipped.append((page.url, "the page has no video or photo"))
        links = _links(config) if embeds else None
        with tempfile.TemporaryDirectory(prefix="oldclip-page-") as folder:
            for number, media in enumerate(page.media):
                try:
                    path = _saved_copy(media, saved)
                    if path is not None:
                        report.saved[media.url] = path
                    else:
                        path = await _download(session, config, media, Path(folder), number, links)
                    fp = library.fingerprint(path, store=True)
                except (FetchError, MediaError, LinkError, UnsupportedLink) as exc:
                    report.skipped.append((media.url, str(exc)))
                    continue
                media_id = library.add_fingerprint(fp, index=False)
                clip_id, outcome = record_provenance(
                    library, media_id, fp, provenance, via="import-page"
                )
                clip = storage.get_clip(library.db, clip_id)
                if clip is not None and clip.media_id == media_id:
                    library.keep_copy(media_id, path, fp.sha256)
                report.clips.append((media.url, clip_id, outcome))
    return report


def _saved_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise PageImportError(f"--media-dir {folder}: no such folder")
    return {path.name: path for path in sorted(folder.iterdir()) if path.is_file()}


def _saved_copy(media: PageMedia, saved: dict[str, Path]) -> Path | None:
    """The file saved with the page for this media item, if any.

    Browsers' "Save page as" and archivers keep each file's name from its address; a video
    downloaded by hand from an embedded player is usually named by its id (``v=`` or the last
    part of the embed's address) plus an extension.  A name that fits several files is not
    guessed at: the item is downloaded instead.
    """
    parts = urlsplit(media.url)
    video_id = parse_qs(parts.query).get("v")
    name = video_id[0] if video_id else PurePosixPath(unquote(parts.path)).name
    if not name:
        return None
    if name in saved:
        return saved[name]
    same_stem = [path for path in saved.values() if path.stem == name]
    return same_stem[0] if len(same_stem) == 1 else None


def _links(config: Config) -> LinkDownloader:
    bot = config.bot
    return LinkDownloader(
        max_bytes=bot.link_max_mb * 1_000_000,
        max_duration_s=bot.link_max_duration_s,
        socket_timeout_s=bot.link_timeout_s,
        proxy=bot.link_proxy or None,
    )


async def _read(session: aiohttp.ClientSession, target: str, page_url: str | None) -> PageInfo:
    """The page, fetched or read from disk, with the address it is known by."""
    try:
        return await _read_html(session, target, page_url)
    except PageError as exc:
        raise PageImportError(f"{target}: {exc}") from None


async def _read_html(session: aiohttp.ClientSession, target: str, page_url: str | None) -> PageInfo:
    if target.startswith(("http://", "https://")):
        try:
            result = await fetch(
                session,
                target,
                max_bytes=PAGE_MAX_BYTES,
                timeout_s=PAGE_TIMEOUT_S,
                accept_types=HTML_TYPES,
            )
        except FetchError as exc:
            raise PageImportError(str(exc)) from None
        return read_page(result.body, page_url or result.final_url)
    path = Path(target)
    if not path.is_file():
        raise PageImportError(f"{target}: no such file, and not an http(s) URL")
    if path.stat().st_size > PAGE_MAX_BYTES:
        raise PageImportError(f"{target}: larger than {PAGE_MAX_BYTES // 2**20} MB, not a page")
    html = path.read_bytes()
    if page_url is None:
        page_url = read_page(html, path.resolve().as_uri()).canonical_url
        if page_url is None:
            raise PageImportError(
                f"{target} does not say where it was published (no canonical link or "
                "og:url); give its address with --url URL"
            )
    return read_page(html, page_url)


async def _download(
    session: aiohttp.ClientSession,
    config: Config,
    media: PageMedia,
    folder: Path,
    number: int,
    links: LinkDownloader | None,
) -> Path:
    """One media item of the page, as a file in ``folder``."""
    if media.kind == "embed":
        if links is None:
            raise UnsupportedLink("an embedded player: pass --embeds to download it with yt-dlp")
        return await links.fetch(media.url, folder)
    return await save_media(
        session,
        media.url,
        folder,
        str(number),
        max_bytes=config.watch.max_media_mb * 1024 * 1024,
        timeout_s=config.watch.download_timeout_s,
    )
