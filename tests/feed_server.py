"""A local aiohttp server that plays the public sources for tests (no network needed).

It serves the recorded pages in tests/fixtures/feeds/ with "{BASE}" replaced by its own base
URL (so media links in the fixtures point back at it), the shared test media read-only under
/media/..., and hostile routes that a real source or attacker could produce:

  /feeds/NAME          a fixture (ETag + Last-Modified; answers 304 to a matching If-None-Match)
  /nocache/NAME        a fixture without validators: every poll gets every post again
  /flaky/NAME          HTTP 503 while `flaky_down` is true (the default), else the fixture
  /media/PATH          a file from ../shared/media (path traversal refused)
  /files/NAME          bytes a test put in `files[NAME]` (ETag; a test-made frame, a bundle)
  /500                 a server error
  /slow                waits `slow_seconds` (default 30 s) before answering
  /redirect-loop       302 -> /redirect-loop-b -> 302 -> /redirect-loop
  /redirect-chain/N    N redirects in a row, then a fixture
  /redirect-to/NAME    one relative redirect to /feeds/NAME
  /redirect-private    302 -> http://10.0.0.1/
  /huge                1 GB streamed lazily, chunked, without Content-Length
  /malformed.xml       a truncated RSS document
  /malformed.json      a truncated JSON array
  /html-as-video.mp4   an HTML page (text/html) at a .mp4 path
  /trickle/NAME        video/mp4 sent one byte every `trickle_seconds` (default 5 s), never ending
  /zeros/N.mp4         N zero bytes as video/mp4 with a Content-Length, produced lazily

Every request is recorded in `requests` (method, path, headers) for assertions.
Use as `async with FeedServer() as server: ... server.url("/feeds/rss.xml")`.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "feeds"
MEDIA_DIR = (REPO_ROOT / ".." / "shared" / "media").resolve()
HUGE_BYTES = 1024**3
HUGE_CHUNK = b"\0" * (64 * 1024)
LAST_MODIFIED = "Fri, 20 Nov 2026 12:00:00 GMT"

CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/atom+xml; charset=UTF-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
FIXTURE_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "youtube_channel.xml": "text/xml; charset=UTF-8",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    """The fake source server; see the module docstring for the routes."""

    slow_seconds: float = 30.0
    trickle_seconds: float = 5.0
    flaky_down: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def fixture_bytes(self, name: str) -> bytes:
        """A fixture as this server serves it ({BASE} replaced)."""
        raw = (FIXTURES_DIR / name).read_bytes()
        return raw.replace(b"{BASE}", self.base_url.encode())

    async def __aenter__(self) -> FeedServer:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/feeds/{name}", self._fixture)
        app.router.add_get("/nocache/{name}", self._nocache)
        app.router.add_get("/flaky/{name}", self._flaky)
        app.router.add_get("/media/{path:.+}", self._media)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/500", self._error)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/redirect-loop", self._redirect("/redirect-loop-b"))
        app.router.add_get("/redirect-loop-b", self._redirect("/redirect-loop"))
        app.router.add_get("/redirect-chain/{n:\\d+}", self._chain)
        app.router.add_get("/redirect-to/{name}", self._redirect_to)
        app.router.add_get("/redirect-private", self._redirect("http://10.0.0.1/"))
        app.router.add_get("/huge", self._huge)
        app.router.add_get("/malformed.xml", self._malformed_xml)
        app.router.add_get("/malformed.json", self._malformed_json)
        app.router.add_get("/html-as-video.mp4", self._html_as_video)
        app.router.add_get("/trickle/{name}", self._trickle)
        app.router.add_get("/zeros/{n:\\d+}.mp4", self._zero_file)
        # handler_cancellation: a client that gives up (timeout, byte cap) stops the handler,
        # so /slow and /huge end with the test instead of running on.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers)))
        return await handler(request)

    async def _fixture(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = FIXTURES_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound(text=f"no fixture {name}")
        body = self.fixture_bytes(name)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            return web.Response(status=304, headers=headers)
        content_type = FIXTURE_TYPES.get(name) or CONTENT_TYPES.get(path.suffix, "text/plain")
        headers["Content-Type"] = content_type
        return web.Response(body=body, headers=headers)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.files:
            raise web.HTTPNotFound(text=f"no file {name}")
        body = self.files[name]
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": content_type})

    async def _nocache(self, request: web.Request) -> web.StreamResponse:
        response = await self._fixture(request)
        for header in ("ETag", "Last-Modified"):
            response.headers.popall(header, None)
        return response

    async def _flaky(self, request: web.Request) -> web.StreamResponse:
        if self.flaky_down:
            return web.Response(status=503, text="Service Unavailable")
        return await self._fixture(request)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        target = (MEDIA_DIR / request.match_info["path"]).resolve()
        if not target.is_relative_to(MEDIA_DIR) or not target.is_file():
            raise web.HTTPNotFound(text="no such media file")
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return web.FileResponse(target, headers={"Content-Type": content_type})

    async def _error(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.slow_seconds)
        return web.Response(text="finally")

    @staticmethod
    def _redirect(location: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPFound(location)

        return handler

    async def _chain(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect-chain/{n - 1}" if n > 1 else "/feeds/rss.xml")

    async def _redirect_to(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"../feeds/{request.match_info['name']}")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        async for chunk in _zeros(HUGE_BYTES):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def _malformed_xml(self, request: web.Request) -> web.Response:
        body = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Cut off</title><item>'
        return web.Response(body=body + b"<title>Half a", content_type="application/rss+xml")

    async def _malformed_json(self, request: web.Request) -> web.Response:
        return web.Response(body=b'[{"id": "1", "content": "cut', content_type="application/json")

    async def _html_as_video(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Login required</title><p>Please sign in</p>",
            content_type="text/html",
        )

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:
            await response.write(b"\0")
            await asyncio.sleep(self.trickle_seconds)

    async def _zero_file(self, request: web.Request) -> web.StreamResponse:
        total = int(request.match_info["n"])
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = total
        await response.prepare(request)
        async for chunk in _zeros(total):
            await response.write(chunk)
        await response.write_eof()
        return response


async def _zeros(total: int) -> AsyncIterator[bytes]:
    """`total` zero bytes in 64 KiB chunks, produced lazily (never held in memory)."""
    sent = 0
    while sent < total:
        chunk = HUGE_CHUNK[: min(len(HUGE_CHUNK), total - sent)]
        sent += len(chunk)
        yield chunk
