"""A matching process says in the database how its index replica follows the library.

``keep_fresh`` (``oldclip.replica``) reports through a ``Presence`` after every catch-up and at
least every ``HEARTBEAT_S`` between them (a ``refresh_s`` may be up to an hour), so
``oldclip status`` on any host sees every replica with its lag, and sees one that stopped
reporting (killed, hung, cut off) as behind and then gone.  A process that stops cleanly
takes its row away; rows silent for ``KEEP_S`` are pruned by the processes still running.
Reporting never stops the process: a database away for a moment costs one warning, and the
next report tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import storage
from storage.threads import run_step
from storage.txn import utc_iso_ms

if TYPE_CHECKING:
    from .library import Library

log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0  # longest time between two reports, even with a long refresh_s
KEEP_S = 3600.0  # rows of processes silent this long are deleted


class Presence:
    """This process's row in ``replicas``: who it is, and how its indexes follow the library."""

    def __init__(self, library: Library, role: str, refresh_s: float):
        self.library, self.role, self.refresh_s = library, role, refresh_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started_at = utc_iso_ms()
        self._failing = False  # a warning was logged; said again only after a success

    def report(self) -> None:
        """Write this process's row now (and prune the long-silent ones)."""
        indexes = self.library.indexes
        state = indexes.state
        behind = state.behind_s()
        now = datetime.now(UTC)
        row = storage.ReplicaRow(
            host=self.host,
            pid=self.pid,
            role=self.role,
            started_at=self.started_at,
            refresh_s=self.refresh_s,
            # The version the indexes applied (None until they are first built).
            version=indexes.version if indexes.built else None,
            behind_s=round(behind, 3),
            applied=state.applied,
            full_reads=state.full_reads,
            caught_up_at=utc_iso_ms(now - timedelta(seconds=behind)),
            seen_at=utc_iso_ms(now),
        )
        db = self.library.db
        storage.record_replica(db, row)
        storage.prune_replicas(db, now - timedelta(seconds=KEEP_S))

    async def wait(self, seconds: float) -> None:
        """Report (``keep_fresh`` calls this right after each catch-up), then sleep
        ``seconds``, reporting every ``HEARTBEAT_S`` on the way."""
        await self.report_off_loop()
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > HEARTBEAT_S:
            await asyncio.sleep(HEARTBEAT_S)
            await self.report_off_loop()
        await asyncio.sleep(max(left, 0.0))

    async def report_off_loop(self) -> None:
        """``report`` where the storage steps run: in a worker's storage thread, on its own
        connection, so a write waiting for the table holds up no job nor the heartbeat.
        Never raises: the database away for a moment (no pooled connection to be had
        included) is said once, and the next report tries again."""
        try:
            await run_step(self.library.db, self.report)
        except Exception as exc:
            if not self._failing:
                log.warning("could not report this replica's state (%s): trying again", exc)
            self._failing = True
            return
        self._failing = False

    def leave(self) -> None:
        """Take this process's row away: it stops cleanly, nobody should wait for it."""
        storage.forget_replica(self.library.db, self.host, self.pid)

    async def leave_off_loop(self) -> None:
        """``leave`` where the storage steps run; never raises (the row is pruned in time)."""
        try:
            await run_step(self.library.db, self.leave)
        except Exception as exc:
            log.warning("could not remove this replica's row (%s)", exc)
