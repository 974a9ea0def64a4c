"""Shared pytest fixtures.

feed_server: a local aiohttp server that fakes the public sources (see tests/feed_server.py),
started on 127.0.0.1 with a free port for each test and stopped afterwards.
db / db_path: a fresh library database file in the test's temporary folder.  In a module
marked ``pytestmark = pytest.mark.both_engines`` every test taking ``db`` (or ``db_url``, to
open it again as after a restart) runs twice: on
SQLite and on a real PostgreSQL (``OLDCLIP_TEST_DATABASE_URL``, default
postgresql://postgres@127.0.0.1:5432/test), each PostgreSQL test in a schema of its own,
created with a random name and dropped afterwards.  With no server reachable those runs are
left out and one line says so, unless ``OLDCLIP_REQUIRE_POSTGRES=1`` (CI) makes each a
failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from feed_server import FeedServer

from storage import StorageError, open_db
from storage.db import connect_postgres, safe_url
from storage.engine import Database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENGINES = ("sqlite", "postgresql")
SKIPPED_POSTGRES = pytest.StashKey[str]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    uses_db = {"db", "db_url"} & set(metafunc.fixturenames)
    chosen = any(
        "engine" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize")
    )
    if uses_db and not chosen and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


def postgres_test_url() -> str:
    return os.environ.get("OLDCLIP_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return (callspec is not None and callspec.params.get("engine") == "postgresql") or (
        "postgres_url" in getattr(item, "fixturenames", ())
    )


def server_problem(url: str) -> str | None:
    """Why the test server cannot be used, or None when it answers."""
    try:
        connect_postgres(url).close()
    except StorageError as exc:
        return str(exc)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No server: leave its tests out and say so once (per test, -ra would say it N times).
    In CI (OLDCLIP_REQUIRE_POSTGRES=1) they stay, and each fails in `postgres_url`."""
    wanted = [item for item in items if needs_postgres(item)]
    if not wanted or os.environ.get("OLDCLIP_REQUIRE_POSTGRES") == "1":
        return
    url = postgres_test_url()
    problem = server_problem(url)
    if problem is None:
        return
    items[:] = [item for item in items if not needs_postgres(item)]
    config.hook.pytest_deselected(items=wanted)
    config.stash[SKIPPED_POSTGRES] = (
        f"PostgreSQL: {len(wanted)} tests not run: {problem} (set OLDCLIP_TEST_DATABASE_URL)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    message = terminalreporter.config.stash.get(SKIPPED_POSTGRES, None)
    if message:
        terminalreporter.write_line(message, yellow=True, bold=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The engine a `db` test runs on (SQLite unless its module asks for both)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "oldclip.db"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL, once it is known to answer (its tests are left out when it
    does not, unless OLDCLIP_REQUIRE_POSTGRES=1: then they fail here)."""
    url = postgres_test_url()
    problem = server_problem(url)
    if problem is not None:
        pytest.fail(
            f"OLDCLIP_REQUIRE_POSTGRES=1 but no PostgreSQL server at {safe_url(url)}: {problem}",
            pytrace=False,
        )
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections work in ``schema`` (libpq's ``options`` parameter)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A URL to an empty schema of its own on the test server, dropped afterwards."""
    schema = f"oldclip_test_{secrets.token_hex(6)}"
    admin = connect_postgres(postgres_url)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(postgres_url, schema)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def db_url(engine: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's fresh database lives: a file path, or a PostgreSQL URL."""
    if engine == "sqlite":
        return str(db_path)
    return request.getfixturevalue("postgres_schema")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A fresh library database, at the current schema."""
    database = open_db(db_url)
    yield database
    database.close()
