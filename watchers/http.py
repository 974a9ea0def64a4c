"""A safe HTTP GET for everything oldclip downloads from strangers (feeds and media).

Every URL we fetch is attacker-influenced, so this layer enforces, in one place:
* SSRF protection on every hop (see `watchers.netguard`): redirects are followed by hand
  (at most MAX_REDIRECTS) and each target is checked before it is requested, and the connector
  re-checks the addresses it actually connects to (DNS rebinding);
* a byte cap counted while streaming, so it holds without (or with a lying) Content-Length;
* one total deadline across all hops;
* conditional GET (ETag / Last-Modified -> 304) so polling is cheap for the sources;
* an optional content-type check, so an HTML error page is never handed to a video decoder;
* a clear User-Agent, no cookies, no proxy from the environment (a proxy would make the
  address check inspect the proxy instead of the target).
Failures raise FetchError with a message that says what failed, for which URL, and what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import aiohttp
from yarl import URL

from watchers.netguard import (
    AddressPolicy,
    BlockedAddressError,
    GuardedResolver,
    check_url,
    refusal_hint,
)

USER_AGENT = "oldclip/0.1 (+https://github.com/oldclip/oldclip)"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024


class FetchError(Exception):
    """A download failed; the message is meant for a log line or an admin's chat.

    status: the HTTP status when the server answered, else None.
    retry_after: seconds the server asked us to wait (429/503), when it said so.
    """

    def __init__(
        self,
        url: str,
        what: str,
        todo: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        message = f"Could not fetch {url}: {what}."
        if todo:
            message += f" {todo}"
        super().__init__(message)
        self.url = url
        self.what = what
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """Asking again will not help: the answer was a client error (4xx) or not acceptable."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


class TooLargeError(FetchError):
    """The body is over the byte cap; fetching it again gives the same answer."""

    @property
    def permanent(self) -> bool:
        return True


@dataclass(frozen=True)
class FetchResult:
    """What a successful fetch returned. On a 304, not_modified is True and body is empty."""

    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    final_url: str
    not_modified: bool


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector whose resolver enforces the AddressPolicy; `fetch` reads the policy here
    so that a session cannot be used with a policy different from the one it connects with."""

    def __init__(self, policy: AddressPolicy, **kwargs: object) -> None:
        self.policy = policy
        self.guard = GuardedResolver(policy)
        super().__init__(resolver=self.guard, **kwargs)  # type: ignore[arg-type]


def make_session(
    *,
    allow_private_addresses: bool,
    per_host_limit: int = 4,
    allowed_networks: Iterable[str] = (),
) -> aiohttp.ClientSession:
    """A ClientSession for `fetch`.

    allow_private_addresses=True turns the SSRF guard off (trusted setups only).
    allowed_networks (e.g. ["127.0.0.0/8"]) are exceptions to the guard, for tests against a
    loopback server and for deployments with a trusted internal mirror.
    per_host_limit keeps us polite to every source (and to Telegram's CDN).
    """
    policy = AddressPolicy.build(
        allow_private=allow_private_addresses, allowed_networks=allowed_networks
    )
    connector = GuardedConnector(policy, limit=100, limit_per_host=per_host_limit)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def content_type_matches(content_type: str | None, accept_types: Sequence[str]) -> bool:
    """True when `content_type` is one of `accept_types` ("video/mp4", "video/*", or "*/*")."""
    if content_type is None:
        return False
    for wanted in accept_types:
        wanted = wanted.strip().lower()
        if wanted in ("*/*", content_type):
            return True
        if wanted.endswith("/*") and content_type.startswith(wanted[:-1]):
            return True
    return False


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _status_error(url: str, resp: aiohttp.ClientResponse) -> FetchError:
    status = resp.status
    if status == 429:
        todo = "The source is rate-limiting us; poll it less often."
    elif status in (401, 403):
        todo = "The source wants a login or blocks anonymous access; check the URL in a browser."
    elif status in (404, 410):
        todo = "The feed or file no longer exists; check the URL or remove the source."
    elif status >= 500:
        todo = "The source has a server problem; it will be retried on the next poll."
    else:
        todo = "Check the URL in a browser."
    return FetchError(
        url,
        f"the server answered HTTP {status} {resp.reason or ''}".rstrip(),
        todo,
        status=status,
        retry_after=_retry_after(resp),
    )


async def _read_capped(
    resp: aiohttp.ClientResponse, url: str, max_bytes: int, sink: BinaryIO | None
) -> bytes:
    """The body, or b"" after writing it to ``sink`` (big files need not fit in memory)."""
    todo = "The file is larger than the configured limit; raise the limit if this is expected."
    length = resp.content_length
    if length is not None and length > max_bytes:
        raise TooLargeError(url, f"it is {length} bytes, over the limit of {max_bytes} bytes", todo)
    buf = bytearray()
    size = 0
    async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise TooLargeError(url, f"it is over the limit of {max_bytes} bytes", todo)
        if sink is None:
            buf += chunk
        else:
            sink.write(chunk)
    return bytes(buf)


async def _fetch_hops(
    session: aiohttp.ClientSession,
    connector: GuardedConnector,
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    headers: dict[str, str],
    accept_types: Sequence[str] | None,
    sink: BinaryIO | None,
) -> FetchResult:
    current = URL(url)
    seen: set[str] = set()
    for _hop in range(MAX_REDIRECTS + 1):
        seen.add(str(current))
        try:
            await check_url(current, connector.policy, connector.guard)
        except BlockedAddressError:
            raise
        except OSError as exc:  # the name does not resolve
            raise FetchError(
                url,
                f"the host {current.host} cannot be resolved ({exc.strerror or exc})",
                "Check the host name for typos and that the source still exists.",
            ) from None
        client_timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10))
        async with session.get(
            current, allow_redirects=False, headers=headers, timeout=client_timeout
        ) as resp:
            if resp.status in REDIRECT_STATUSES:
                location = resp.headers.get("Location")
                if not location:
                    raise FetchError(
                        url,
                        f"HTTP {resp.status} redirect without a Location header",
                        status=resp.status,
                    )
                nxt = current.join(URL(location))
                if str(nxt) in seen:
                    raise FetchError(
                        url,
                        f"redirect loop ({current} -> {nxt})",
                        "The source is misconfigured; check the URL in a browser.",
                        status=resp.status,
                    )
                current = nxt
                continue
            final = str(current)
            if resp.status == 304:
                return FetchResult(
                    status=304,
                    body=b"",
                    content_type=_media_type(resp.headers.get("Content-Type")),
                    etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                    last_modified=resp.headers.get("Last-Modified")
                    or headers.get("If-Modified-Since"),
                    final_url=final,
                    not_modified=True,
                )
            if resp.status >= 400 or resp.status < 200:
                raise _status_error(final, resp)
            content_type = _media_type(resp.headers.get("Content-Type"))
            if accept_types is not None and not content_type_matches(content_type, accept_types):
                raise FetchError(
                    final,
                    f"the server sent {content_type or 'no content type'}, "
                    f"expected {', '.join(accept_types)}",
                    "The link probably points to a web page or an error page, not to the file.",
                    status=resp.status,
                )
            body = await _read_capped(resp, final, max_bytes, sink)
            return FetchResult(
                status=resp.status,
                body=body,
                content_type=content_type,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                final_url=final,
                not_modified=False,
            )
    raise FetchError(
        url,
        f"more than {MAX_REDIRECTS} redirects",
        "The source is misconfigured or redirects in circles; check the URL in a browser.",
    )


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    etag: str | None = None,
    last_modified: str | None = None,
    accept_types: Sequence[str] | None = None,
    sink: BinaryIO | None = None,
) -> FetchResult:
    """GET `url` safely (see the module docstring); raise FetchError on any failure.

    `session` must come from make_session(): its connector carries the address policy.
    Pass the etag/last_modified of the previous FetchResult to get not_modified=True cheaply.
    With `sink` (a binary file), the body is written there and FetchResult.body is empty.
    """
    connector = session.connector
    if not isinstance(connector, GuardedConnector):
        raise TypeError(
            "fetch() needs a session from watchers.http.make_session(), whose connector "
            "enforces the address policy at connect time"
        )
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if accept_types:
        headers["Accept"] = ", ".join(accept_types)
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch_hops(
                session,
                connector,
                url,
                max_bytes=max_bytes,
                timeout_s=timeout_s,
                headers=headers,
                accept_types=accept_types,
                sink=sink,
            )
    except FetchError:
        raise
    except BlockedAddressError as exc:
        raise FetchError(
            url,
            f"{exc.target} was refused: {exc.reason} (SSRF protection)",
            refusal_hint(exc),
        ) from None
    except TimeoutError:
        raise FetchError(
            url,
            f"no complete answer within {timeout_s:g} s",
            "The source is slow or stalled; it will be retried on the next poll.",
        ) from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, BlockedAddressError):
            blocked = exc.os_error
            raise FetchError(
                url,
                f"{blocked.target} was refused at connect time: {blocked.reason} (SSRF protection)",
                refusal_hint(blocked),
            ) from None
        raise FetchError(
            url,
            f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})",
            "Check the host name and that the source is online.",
        ) from None
    except aiohttp.InvalidURL as exc:
        raise FetchError(url, f"invalid URL ({exc})", "Check the URL for typos.") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise FetchError(
            url,
            f"network error: {type(exc).__name__}: {exc}",
            "It will be retried on the next poll.",
        ) from None
