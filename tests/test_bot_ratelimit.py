"""The per-person limit on public requests: bursts allowed, then a polite wait, shared by every
bot process on the database."""

from pathlib import Path

import storage
from bot.ratelimit import RateLimit


def test_a_burst_is_allowed_then_the_wait_is_said_and_then_over(tmp_path: Path) -> None:
    db = storage.open_db(tmp_path / "library.db")
    limit = RateLimit(per_minute=6, burst=3)
    assert [limit.take(db, 7, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limit.take(db, 7, now=100.0)
    assert 9.0 <= wait <= 10.0  # one request per 10 s once the burst is spent
    assert limit.take(db, 8, now=100.0) == 0.0  # another person is not held up
    assert limit.take(db, 7, now=100.0 + wait + 0.01) == 0.0


def test_two_processes_on_one_database_share_a_persons_bucket(tmp_path: Path) -> None:
    """Behind a webhook, each request may reach another process: the burst is the person's,
    not each process's."""
    first, second = (storage.open_db(tmp_path / "library.db") for _ in range(2))
    limit = RateLimit(per_minute=6, burst=3)
    taken = [limit.take(db, 7, now=100.0) for db in (first, second, first)]
    assert taken == [0.0, 0.0, 0.0]
    assert limit.take(second, 7, now=100.0) > 9.0
    assert limit.take(first, 7, now=50.0) > 9.0  # a host whose clock is behind gets no refill
