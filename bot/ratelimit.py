"""A per-person token bucket, so one person cannot keep the fingerprinting workers busy.

The buckets live in the database (storage.botshared.take_request), not in this process: behind a
webhook each of a person's requests may reach another bot process, and a limit kept per
process would multiply by their number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage import botshared as bot_state
from storage.engine import Database


@dataclass(frozen=True)
class RateLimit:
    """``per_minute`` requests a minute, with bursts up to ``burst``."""

    per_minute: float = 6.0
    burst: int = 3

    def take(self, db: Database, user_id: int, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one."""
        now = time.time() if now is None else now
        return bot_state.take_request(
            db, user_id, per_minute=self.per_minute, burst=self.burst, now=now
        )
