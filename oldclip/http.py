"""The one way oldclip's commands open an HTTP session: with the [network] settings.

Every fetch of hostile input (feeds, media, pages) must go through the same address checks
and per-host limit, whichever command (watch, worker, import-page) makes it.
"""

from __future__ import annotations

import aiohttp

from watchers.http import make_session

from .config import Config


def http_session(config: Config) -> aiohttp.ClientSession:
    """A session honouring ``[network]``: private addresses, allowed networks, per-host limit."""
    return make_session(
        allow_private_addresses=config.network.allow_private_addresses,
        per_host_limit=config.network.per_host_limit,
        allowed_networks=config.network.allowed_networks,
    )
