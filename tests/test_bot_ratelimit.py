"""The per-person limit on public requests: bursts allowed, then a polite wait."""

from bot.ratelimit import RateLimit


def test_a_burst_is_allowed_then_the_wait_is_said_and_then_over() -> None:
    limit = RateLimit(per_minute=6, burst=3)
    assert [limit.take(7, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limit.take(7, now=100.0)
    assert 9.0 <= wait <= 10.0  # one request per 10 s once the burst is spent
    assert limit.take(8, now=100.0) == 0.0  # another person is not held up
    assert limit.take(7, now=100.0 + wait + 0.01) == 0.0
