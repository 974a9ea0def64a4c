"""Finding the video or photo of an article page (og:video, og:image, <video>).

Many RSS items only link to an article; the footage is on the page.  The pipeline fetches
the page (with watchers.http) and calls parse_article_media() to get media URLs.  Pure: no
network.  Video comes first because footage is what oldclip is after; og:image is often just a
frame of it, or a logo.
"""

from __future__ import annotations

from urllib.parse import urljoin

from watchers.htmltree import parse_html
from watchers.mediakind import guess_kind, is_http_url
from watchers.post import MediaRef

OG_VIDEO_PROPS = ("og:video", "og:video:url", "og:video:secure_url")
OG_IMAGE_PROPS = ("og:image", "og:image:url", "og:image:secure_url")


def parse_article_media(html: bytes, page_url: str) -> list[MediaRef]:
    """Media an article page declares: og:video(:url), og:image, <video src>, <video><source>.

    Relative URLs are resolved against `page_url`; only http(s) URLs are returned; each URL
    once.  Never raises on bad HTML (a page without media gives []).
    """
    root = parse_html(html)
    meta: dict[str, list[str]] = {}
    for el in root.find_all("meta"):
        prop = (el.get("property") or el.get("name") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if prop and content:
            meta.setdefault(prop, []).append(content)

    first_image = next((meta[p][0] for p in OG_IMAGE_PROPS if p in meta), None)
    video_mime = (meta.get("og:video:type") or [None])[0]
    image_mime = (meta.get("og:image:type") or [None])[0]

    found: list[MediaRef] = []
    seen: set[str] = set()

    def add(raw: str | None, kind: str, mime: str | None, thumb: str | None = None) -> None:
        if not raw:
            return
        url = urljoin(page_url, raw.strip())
        if not is_http_url(url) or url in seen:
            return
        seen.add(url)
        thumb_url = urljoin(page_url, thumb) if thumb else None
        found.append(MediaRef(url=url, kind=kind, mime=mime, thumbnail_url=thumb_url))

    for prop in OG_VIDEO_PROPS:
        for value in meta.get(prop, []):
            mime = video_mime
            # og:video is often an embeddable player page (text/html): keep it, the downloader
            # (yt-dlp) handles players, but record the declared type so it can tell.
            add(value, "video", mime, first_image)
    for video in root.find_all("video"):
        poster = video.get("poster")
        add(video.get("src"), "video", video.get("type"), poster)
        for source in video.find_all("source"):
            add(source.get("src"), "video", source.get("type"), poster)
    for prop in OG_IMAGE_PROPS:
        for value in meta.get(prop, []):
            kind = guess_kind(value, image_mime) or "photo"
            add(value, "gif" if kind == "gif" else "photo", image_mime)
    return found
