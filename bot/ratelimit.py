"""A per-user token bucket, so one person cannot keep the fingerprinting workers busy."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    """``per_minute`` requests a minute, with bursts up to ``burst``."""

    per_minute: float = 6.0
    burst: int = 3
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, user_id: int, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(user_id, (float(self.burst), now))
        rate = self.per_minute / 60.0
        tokens = min(float(self.burst), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[user_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[user_id] = (tokens, now)
        return (1.0 - tokens) / rate
