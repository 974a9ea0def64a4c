"""When each feed is polled: APScheduler jobs with jitter, one poll of a feed at a time, and
exponential backoff after failures.

The schedule knows feeds only by id and interval; what a poll does is the ``poll`` callback's
business (it returns True on success), so the schedule is the same for every source kind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

PollJob = Callable[[int], Awaitable[bool]]


class PollSchedule:
    """Feeds polled every ``interval_s`` seconds (plus up to ``jitter`` of it at random).

    After ``n`` failures in a row the next poll waits ``interval * 2**n`` seconds, at most
    ``max_backoff_s``: a dead source is asked less and less often, and a recovered one is back
    on its normal interval after the first success.
    """

    def __init__(self, poll: PollJob, *, jitter: float = 0.1, max_backoff_s: float = 6 * 3600):
        self._poll = poll
        self._jitter = jitter
        self._max_backoff_s = max_backoff_s
        self._intervals: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def set_feed(self, feed_id: int, interval_s: float, *, first_in_s: float = 0.0) -> None:
        """Add a feed, or change its interval; its first poll comes after ``first_in_s``."""
        self._intervals[feed_id] = interval_s
        self._scheduler.add_job(
            self._run,
            IntervalTrigger(seconds=interval_s, jitter=max(1, int(interval_s * self._jitter))),
            args=[feed_id],
            id=_job_id(feed_id),
            replace_existing=True,
            max_instances=1,  # one poll of a feed at a time
            coalesce=True,  # polls missed while busy collapse into one
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC) + timedelta(seconds=first_in_s),
        )

    def remove_feed(self, feed_id: int) -> None:
        self._intervals.pop(feed_id, None)
        self._failures.pop(feed_id, None)
        job = self._scheduler.get_job(_job_id(feed_id))
        if job is not None:
            job.remove()

    def feeds(self) -> set[int]:
        return set(self._intervals)

    def backoff_s(self, feed_id: int) -> float:
        """Seconds until the next poll of a feed given its failures so far."""
        return next_poll_in_s(
            self._intervals.get(feed_id, 0.0), self._failures.get(feed_id, 0), self._max_backoff_s
        )

    async def _run(self, feed_id: int) -> None:
        try:
            ok = await self._poll(feed_id)
        except Exception:  # the poll callback records its own errors; this is a last resort
            log.exception("poll of feed %s crashed", feed_id)
            ok = False
        self._failures[feed_id] = 0 if ok else self._failures.get(feed_id, 0) + 1
        job = self._scheduler.get_job(_job_id(feed_id))
        if job is not None and not ok:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=self.backoff_s(feed_id)))


def next_poll_in_s(interval_s: float, failures: int, max_backoff_s: float) -> float:
    """A feed's wait before its next poll: its interval, doubled after each failure in a row up
    to ``max_backoff_s`` (never below the interval).  One rule for `oldclip run`'s scheduler
    and `oldclip scheduler`, so a feed is asked as often whichever runs it."""
    if not failures:
        return interval_s
    return min(interval_s * 2 ** min(failures, 30), max(max_backoff_s, interval_s))


def _job_id(feed_id: int) -> str:
    return f"feed-{feed_id}"
