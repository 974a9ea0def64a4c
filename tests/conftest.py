"""Shared pytest fixtures.

feed_server: a local aiohttp server that fakes the public sources (see tests/feed_server.py),
started on 127.0.0.1 with a free port for each test and stopped afterwards.
db / db_path: a fresh library database file in the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlite_utils
from feed_server import FeedServer

from storage import open_db


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "oldclip.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    """A fresh library database, at the current schema, in the test's folder."""
    database = open_db(db_path)
    yield database
    database.close()
