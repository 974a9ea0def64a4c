"""Shared pytest fixtures.

feed_server: a local aiohttp server that fakes the public sources (see tests/feed_server.py),
started on 127.0.0.1 with a free port for each test and stopped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from feed_server import FeedServer


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server
