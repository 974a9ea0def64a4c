"""Which network addresses oldclip may connect to (SSRF protection).

Feed URLs, redirects and media links all come from strangers.  Without a guard, a post linking
to http://169.254.169.254/ or a feed redirecting to http://10.0.0.1/admin would make oldclip
fetch internal services.  The guard works in two places (see docs/sources-and-pitfalls.md §5):

* `check_url()` before every request and every redirect hop: scheme allow-list, IP-literal hosts
  (aiohttp skips the resolver for those) and a resolution of the host name, so a refusal comes
  with a clear message naming the address;
* `GuardedResolver` inside the connector: aiohttp connects to exactly the addresses the resolver
  returns, so a DNS answer that changes between the check and the connect (DNS rebinding) is
  still refused.

`ipaddress.is_global` alone is not enough on Python 3.11.7 (NAT64, 6to4, 100.64/10 and
192.0.0.0/24 slip through), hence the explicit deny list.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Ranges that are not reachable "on the internet" but that some Python versions call global.
EXTRA_DENIED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b::/96",  # NAT64: can embed 127.0.0.1
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4: can embed any IPv4
    )
)


class BlockedAddressError(OSError):
    """A URL was refused because of where it points (scheme or address).

    Subclasses OSError so that aiohttp's connector wraps it like any resolver failure; the
    fetch layer unwraps it and turns it into a readable FetchError.
    """

    def __init__(self, url_or_host: str, reason: str, address: str | None = None) -> None:
        super().__init__(f"refused {url_or_host}: {reason}")
        self.target = url_or_host
        self.reason = reason
        self.address = address  # the refused IP address, when the address was the reason


def refusal_hint(exc: BlockedAddressError) -> str:
    """What to do about a refusal, naming the real setting (there is no command-line flag)."""
    if exc.address is None:  # a scheme, or a host with no address: no setting would help
        return "Only http(s) links to public internet addresses are fetched."
    network = ipaddress.ip_network(exc.address.split("%", 1)[0])  # one address: /32 or /128
    return (
        "Only public internet addresses are fetched; if this is a trusted internal source, "
        f'allow its network in the config file: [network] allowed_networks = ["{network}"]'
    )


def is_public_address(ip: IPAddress | str) -> bool:
    """True when `ip` is an ordinary internet address (not private, loopback, link-local,
    reserved, multicast, unspecified or in EXTRA_DENIED)."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
        or not addr.is_global
    ):
        return False
    return not any(addr in net for net in EXTRA_DENIED if net.version == addr.version)


@dataclass(frozen=True)
class AddressPolicy:
    """Where connections may go.

    allow_private: allow everything (trusted deployments, local development).
    allowed_networks: exceptions to the public-only rule, e.g. ("127.0.0.0/8",) so tests can
    reach their loopback fake server while a redirect to 10.0.0.1 is still refused.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def build(cls, *, allow_private: bool, allowed_networks: Iterable[str] = ()) -> AddressPolicy:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        return cls(allow_private=allow_private, allowed_networks=nets)

    def permits(self, ip: IPAddress | str) -> bool:
        """True when a connection to `ip` is allowed."""
        if self.allow_private:
            return True
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if any(addr in net for net in self.allowed_networks if net.version == addr.version):
            return True
        return is_public_address(addr)


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses host names resolving to forbidden addresses.

    A name with any forbidden address is refused as a whole: mixing public and private answers
    is a classic rebinding trick, and the connector might try any of them.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self.policy.allow_private:
            return results
        for result in results:
            if not self.policy.permits(result["host"]):
                raise BlockedAddressError(
                    host,
                    f"it resolves to {result['host']}, a private or internal address",
                    address=result["host"],
                )
        if not results:
            raise BlockedAddressError(host, "it does not resolve to any address")
        return results

    async def close(self) -> None:
        await self._inner.close()


async def check_url(url: str | URL, policy: AddressPolicy, resolver: GuardedResolver) -> None:
    """Refuse `url` (raise BlockedAddressError) unless it is http(s) to a permitted address.

    Called before every request and every redirect hop.
    """
    u = URL(url) if isinstance(url, str) else url
    if u.scheme not in ALLOWED_SCHEMES:
        raise BlockedAddressError(str(u), f"scheme {u.scheme or '(none)'!r} is not http or https")
    host = u.raw_host
    if not host:
        raise BlockedAddressError(str(u), "the URL has no host")
    if policy.allow_private:
        return
    literal = _literal_ip(host)
    if literal is not None:
        if not policy.permits(literal):
            raise BlockedAddressError(
                str(u), f"{literal} is a private or internal address", address=str(literal)
            )
        return
    try:
        await resolver.resolve(host, u.port or 0, socket.AF_UNSPEC)
    except BlockedAddressError as exc:
        raise BlockedAddressError(str(u), exc.reason, exc.address) from None
