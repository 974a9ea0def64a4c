"""oldclip's steps as procrastinate jobs, for `oldclip worker` and `oldclip scheduler`.

The jobs are thin: a poll is ``Pipeline.poll_feed`` and a media job is ``Pipeline.process``,
the very steps `oldclip run` takes in process.  The pipeline's tables stay the truth (what a
post's media went through, what was alerted); the queue only says who works on what next.  So
a job may run twice (a killed worker's job retried by ``retry_stalled_jobs``, two schedulers
queueing the same item) and the second run finds each step done: every step is
compare-and-set, and a repost's alert is written once per media item (``storage.reposts``).

Failures of a medium keep the pipeline's own backoff (``[watch] retry_base_s``, recorded on
the item): the job queues the item's next try for that time.  An error that escapes a job (the
database gone for a moment) is procrastinate's to retry, with exponential backoff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import procrastinate
import procrastinate.manager
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Job, Status

import storage
from storage.engine import Database
from storage.threads import run_step
from storage.txn import to_datetime

log = logging.getLogger(__name__)
# procrastinate says every job start and end at INFO: too much for a terminal or a journal.
logging.getLogger("procrastinate").setLevel(logging.WARNING)

POLLS, MEDIA = "polls", "media"  # queues: a slow video never holds up the polls
POLL, MEDIA_JOB = "oldclip:poll_feed", "oldclip:process_media"  # job names: kept as they are
STALLED = "oldclip:retry_stalled_jobs"
STALLED_AFTER_S = 60.0  # a worker silent this long is dead: its jobs are run again
FORGET = "oldclip:forget_finished_jobs"
# Finished jobs carry nothing the pipeline's tables do not (they are the truth): kept a day
# for a person looking into a problem, failed ones a week, then deleted, or procrastinate's
# tables would grow by every poll and every medium for ever.
KEEP_DONE_H, KEEP_FAILED_H = 24, 7 * 24
RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2)
SCHEMA_LOCK = 0x6F6C64636C_0003  # pg_advisory_xact_lock key (see storage.engine)


def make_app(url: str) -> procrastinate.App:
    """The queue on the PostgreSQL database at ``url``, with oldclip's jobs.

    The jobs are registered on each new app (a shared blueprint would be renamed by every
    ``add_tasks_from``), under names that do not change: queued jobs outlive the processes.
    """
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    app.task(name=POLL, queue=POLLS, pass_context=True, retry=RETRY)(poll_feed)
    app.task(name=MEDIA_JOB, queue=MEDIA, pass_context=True, retry=RETRY)(process_media)
    stalled = app.task(name=STALLED, queueing_lock=STALLED, pass_context=True)
    # Every 10 s (croniter: seconds are the 6th field); the workers defer it once per tick.
    app.periodic(cron="* * * * * */10")(stalled(retry_stalled_jobs))
    forget = app.task(name=FORGET, queueing_lock=FORGET, pass_context=True)
    app.periodic(cron="17 * * * *")(forget(forget_finished_jobs))  # hourly
    return app


def ensure_schema(db: Database) -> bool:
    """Create procrastinate's tables in ``db`` unless they are there; whether it did.

    Run at every start of a worker or scheduler, so nobody applies it by hand; the advisory
    lock makes two processes starting together apply it once.
    """
    from procrastinate.schema import SchemaManager

    with db.atomic():
        db.execute("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK])
        if db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None:
            return False
        db.conn.execute(SchemaManager.get_schema())  # many statements, no parameters
    return True


def _pipeline(context: procrastinate.JobContext) -> Any:
    return context.additional_context["pipeline"]


@contextlib.contextmanager
def _told_and_retried() -> Iterator[None]:
    """The database's trouble (server restarted, write lock not free) said in one line, then
    left to procrastinate, which retries the job (its own log of it, with the traceback, is
    below WARNING and not shown); the pipeline's connection is opened again at next use."""
    try:
        yield
    except storage.DatabaseUnavailable as exc:
        log.warning("%s (the job is tried again)", exc)
        raise


async def poll_feed(context: procrastinate.JobContext, feed_id: int) -> None:
    """Poll one feed (recording its new posts and media), then queue its new media."""
    with _told_and_retried():
        await _poll_feed(context, feed_id)


async def _poll_feed(context: procrastinate.JobContext, feed_id: int) -> None:
    pipeline = _pipeline(context)
    await pipeline.poll_feed(feed_id)
    # Only this feed's: with thousands of feeds the backlog of others' would fill any limit.
    db = pipeline.library.db
    due = await run_step(db, storage.due_media, db, states=("new",), limit=10_000, feed_id=feed_id)
    new = [item.id for item in due]
    await defer_media(context.app, new)


async def process_media(context: procrastinate.JobContext, post_media_id: int) -> None:
    """Download, fingerprint, match, then record the repost and its alert, or archive."""
    with _told_and_retried():
        await _process_media(context, post_media_id)


async def _process_media(context: procrastinate.JobContext, post_media_id: int) -> None:
    pipeline = _pipeline(context)
    library = pipeline.library
    # Clips added or removed by other processes (in a storage thread, see storage.threads).
    await run_step(library.db, library.locked, library.refresh)
    outcome = await pipeline.process(post_media_id)
    if outcome in ("failed", "later"):
        item = await run_step(library.db, storage.get_post_media, library.db, post_media_id)
        if item is not None and item.state in storage.ACTIVE_STATES:
            at = to_datetime(item.next_attempt_at) if item.next_attempt_at else None
            await defer_media(context.app, [post_media_id], at=at or _soon())


async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Run again the jobs of workers that stopped sending heartbeats (killed, host lost).

    Without it they would stay "doing" for ever; running one twice is harmless (see above).
    A stalled job whose item was queued again meanwhile (the scheduler's rescan, the job's
    own retry) cannot be: the waiting job holds its queueing lock.  It is ended as aborted
    and the waiting job does the work; retrying it would fail here every tick, for ever, with
    both jobs stuck behind the dead one's lock.
    """
    after = context.additional_context.get("stalled_after_s", STALLED_AFTER_S)
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=after):
        try:
            await _end_stalled(manager, job)
        except ConnectorException as exc:
            # Not 'doing' any more: another clean-up job running alongside (two workers, one
            # tick while the last still runs) retried or ended it first.  Nothing to do.
            if not isinstance(exc.__cause__, psycopg.errors.RaiseException):
                raise


async def _end_stalled(manager: procrastinate.manager.JobManager, job: Job) -> None:
    """Run a dead worker's job again, or end it when its item was queued again meanwhile."""
    try:
        await manager.retry_job(job)
    except UniqueViolation as exc:
        if "queueing_lock" not in (exc.constraint_name or ""):
            raise
        await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
        what = "queued again meanwhile, ending it"
    else:
        what = "running it again"
    log.warning("job %s (%s) of a worker gone silent: %s", job.id, job.task_name, what)


async def forget_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete jobs that succeeded over ``KEEP_DONE_H`` hours ago, failed or aborted over
    ``KEEP_FAILED_H``."""
    manager = context.app.job_manager
    await manager.delete_old_jobs(nb_hours=KEEP_DONE_H)
    # Aborted ones too: a dead worker's job ended by ``retry_stalled_jobs``.
    await manager.delete_old_jobs(nb_hours=KEEP_FAILED_H, include_failed=True, include_aborted=True)


async def defer_media(
    app: procrastinate.App, post_media_ids: list[int], *, at: dt.datetime | None = None
) -> int:
    """Queue media jobs; an item with a job already waiting is not queued again.

    The lock runs the jobs of one item one after another, never side by side.
    """
    queued = 0
    for item_id in post_media_ids:
        try:
            await app.configure_task(
                MEDIA_JOB,
                queueing_lock=f"media:{item_id}",
                lock=f"media:{item_id}",
                schedule_at=at,
            ).defer_async(post_media_id=item_id)
            queued += 1
        except AlreadyEnqueued:
            pass
    return queued


async def defer_poll(app: procrastinate.App, feed_id: int) -> bool:
    """Queue a poll of the feed unless one is already waiting (two schedulers: one wins)."""
    try:
        await app.configure_task(
            POLL, queueing_lock=f"poll:{feed_id}", lock=f"feed:{feed_id}"
        ).defer_async(feed_id=feed_id)
    except AlreadyEnqueued:
        return False
    return True


def _soon() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
