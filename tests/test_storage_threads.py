"""A worker's storage threads after a PostgreSQL restart, on a real server.

What an operator would notice: the server restarted while a worker was idle killed every
connection in the storage threads' pool; each of them used to fail the next storage step
given it (so up to one job per storage thread failed and waited for its retry).  Now a step
is given a live connection: no job fails for a connection that died while nobody used it.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from test_queue import queue_config

import storage
from oldclip.library import Library
from oldclip.worker import storage_threads
from storage.db import connect_postgres
from storage.threads import run_step


async def test_steps_after_a_restart_get_live_connections(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    name = f"oldclip_restart_{secrets.token_hex(4)}"
    url = f"{postgres_schema}&application_name={name}"
    library, admin = Library.open(queue_config(url, tmp_path)), connect_postgres(postgres_schema)
    try:
        async with storage_threads(library, url, 3):
            db = library.db
            # Three steps at once: three connections in the pool, then idle.
            await asyncio.gather(
                *(run_step(db, db.execute, "SELECT pg_sleep(0.3)") for _ in range(3))
            )
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = ? AND pid <> pg_backend_pid()",
                [name],
            ).fetchone()[0]
            assert cut >= 3
            await asyncio.sleep(0.2)  # the server processes gone
            for _ in range(4):
                assert await run_step(db, storage.library_version, db) == 0
    finally:
        library.close()
        admin.close()
