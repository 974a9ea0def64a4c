"""`oldclip status`: is the whole deployment healthy?  One look at the shared database answers
for every host: each index replica's lag (``storage.replicas``), what waits in the pipeline,
the job queue, the alerts and the bot's messages, and the feeds failing.

The report is one plain dict, the same for ``--json`` and for people (``render``), with its
``problems``: one line each, naming what is wrong and where.  A problem is something the
operator must act on: a replica over its bound (twice its ``refresh_s``) or silent, media due
and untouched for ``stuck_after_s``, alerts or messages waiting that long.  A feed failing is
the source's trouble, not the deployment's: shown, not a problem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import storage
from storage import health
from storage.schema import schema_version

from .presence import HEARTBEAT_S, KEEP_S

if TYPE_CHECKING:
    from .library import Library

STUCK_AFTER_S = 900.0  # due and untouched this long: stuck
# Silent this long, a replica is gone: it reports every HEARTBEAT_S at the latest.
GONE_AFTER_S = 4 * HEARTBEAT_S


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds_since(then: str | None, now: datetime) -> float | None:
    if not then:
        return None
    return round(max(0.0, (now - _moment(then)).total_seconds()), 3)


def span(seconds: float) -> str:
    """A duration for people: "0.4 s", "45 s", "15 min", "2.5 h", "3 d"."""
    if seconds < 10:
        return f"{round(seconds, 1):g} s"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def _replica(row: storage.ReplicaRow, version: int, now: datetime) -> dict[str, Any]:
    """One replica as the report shows it, judged: 'ok', 'behind' (over its bound) or 'gone'
    (silent: killed, hung, or cut off from the database)."""
    lag = _seconds_since(row.caught_up_at, now) or 0.0
    silent = _seconds_since(row.seen_at, now) or 0.0
    bound = 2 * row.refresh_s
    state = "gone" if silent > GONE_AFTER_S else "behind" if lag > bound else "ok"
    return {
        "host": row.host,
        "pid": row.pid,
        "role": row.role,
        "state": state,
        "behind_s": lag,
        "bound_s": bound,
        "version": row.version,
        "versions_behind": None if row.version is None else max(0, version - row.version),
        "last_caught_up_at": row.caught_up_at,
        "last_seen_at": row.seen_at,
        "silent_s": silent,
        "started_at": row.started_at,
        "changes_applied": row.applied,
        "full_reads": row.full_reads,
    }


def _restarts_replaced(replicas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark 'replaced' each gone replica whose host runs a live one of the same role started
    after it went silent: a process killed and restarted (systemd, a deploy) is not a problem,
    while its row stays listed until pruned."""
    for gone in (r for r in replicas if r["state"] == "gone"):
        if any(
            r["state"] in ("ok", "behind")
            and (r["host"], r["role"]) == (gone["host"], gone["role"])
            and _moment(r["started_at"]) >= _moment(gone["last_seen_at"])
            for r in replicas
        ):
            gone["state"] = "replaced"
    return replicas


def _replica_problem(r: dict[str, Any]) -> str | None:
    who = f"{r['role']} on {r['host']} pid {r['pid']}"
    if r["state"] == "gone":
        return (
            f"replica {who} not heard from for {span(r['silent_s'])} (since "
            f"{r['last_seen_at']}): hung, busy re-reading the whole library, cut off from the "
            f"database, or stopped without saying so (its row goes after {span(KEEP_S)})"
        )
    if r["state"] == "behind":
        return (
            f"replica {who} is {span(r['behind_s'])} behind the library (bound "
            f"{span(r['bound_s'])}; last caught up {r['last_caught_up_at']})"
        )
    return None


def _backlog_problems(
    stuck: str,
    media: health.Backlog,
    alerts: health.Backlog,
    messages: health.Backlog,
    message_error: str | None,
) -> list[str]:
    """A line for each backlog with items stuck (``stuck``: how long, for people)."""
    problems = []
    if media.stuck:
        problems.append(
            f"pipeline: {media.stuck} media due but untouched for over {stuck} (the "
            f"oldest since {media.stuck_since}): is `oldclip run`, or `oldclip worker` "
            "with `oldclip scheduler`, running?"
        )
    if alerts.stuck:
        problems.append(
            f"alerts: {alerts.stuck} undelivered for over {stuck} (the oldest queued "
            f"{alerts.stuck_since}): is `oldclip bot`, or `oldclip run` with a bot token, "
            "running?"
        )
    if messages.stuck:
        problems.append(
            f"messages: {messages.stuck} to Telegram waiting for over {stuck} (the oldest "
            f"queued {messages.stuck_since}"
            + (f"; last error: {message_error})" if message_error else ")")
        )
    return problems


def gather(
    library: Library, *, stuck_after_s: float = STUCK_AFTER_S, now: datetime | None = None
) -> dict[str, Any]:
    """The whole report, as ``oldclip status --json`` prints it."""
    db, config = library.db, library.config
    now = now or datetime.now(UTC)
    before = now - timedelta(seconds=stuck_after_s)
    version = storage.library_version(db)
    clips, media, hashes = db.execute(
        "SELECT (SELECT count(*) FROM clips), (SELECT count(*) FROM media), "
        "(SELECT coalesce(sum(frame_count), 0) FROM fingerprints)"
    ).fetchone()
    replicas = _restarts_replaced([_replica(r, version, now) for r in storage.list_replicas(db)])
    states = health.media_states(db)
    media_wait = health.media_backlog(db, before, now)
    alerts = health.alert_backlog(db, before)
    messages, message_states, message_error = health.message_backlog(db, before)
    jobs = health.job_queue(db)
    watched, failing = health.feed_health(db)
    problems = [p for r in replicas if (p := _replica_problem(r))]
    problems += _backlog_problems(span(stuck_after_s), media_wait, alerts, messages, message_error)
    return {
        "healthy": not problems,
        "problems": problems,
        "checked_at": now.isoformat(timespec="seconds"),
        "stuck_after_s": stuck_after_s,
        "database": {
            "engine": db.dialect,
            "url": config.database_label,
            "schema_version": schema_version(db),
        },
        "library": {
            "version": version,
            "clips": int(clips),
            "media": int(media),
            "hashes": int(hashes),
        },
        "replicas": replicas,
        "pipeline": {
            "states": states,
            "waiting": media_wait.waiting,
            "failed": states["failed"],
            "stuck": media_wait.stuck,
            "stuck_since": media_wait.stuck_since,
        },
        "jobs": None if jobs is None else {"queues": jobs.counts, "workers": jobs.workers},
        "alerts": {
            "undelivered": alerts.waiting,
            "oldest_undelivered_at": alerts.stuck_since,
            "oldest_undelivered_age_s": _seconds_since(alerts.stuck_since, now),
            "stuck": alerts.stuck,
        },
        "messages": {
            "states": message_states,
            "stuck": messages.stuck,
            "stuck_since": messages.stuck_since,
            "last_error": message_error,
        },
        "feeds": {
            "watched": watched,
            "failing": [
                {
                    "id": f.id,
                    "name": f.name,
                    "failures": f.failures,
                    "down": f.down,
                    "error": f.error,
                }
                for f in failing
            ],
        },
    }


def render(report: dict[str, Any]) -> list[str]:
    """The report for people, one line per part (and per replica)."""
    from .render import plural

    db, lib, pipe = report["database"], report["library"], report["pipeline"]
    problems = report["problems"]
    lines = [
        "oldclip status: "
        + ("healthy" if not problems else plural(len(problems), "problem") + " (below)"),
        f"database  {db['engine']} {db['url']} (schema {db['schema_version']})",
        f"library   version {lib['version']}: {plural(lib['clips'], 'clip')}, "
        f"{plural(lib['media'], 'media item')}, "
        f"{plural(lib['hashes'], 'frame hash', 'frame hashes')}",
        f"replicas  {len(report['replicas']) or 'none running'}",
    ]
    for r in report["replicas"]:
        applied = "index not loaded yet" if r["version"] is None else f"version {r['version']}"
        lines.append(
            f"  {r['role']:<6} {r['host']} pid {r['pid']}: {r['state'].upper()}, "
            f"{span(r['behind_s'])} behind (bound {span(r['bound_s'])}), {applied}, "
            f"last seen {span(r['silent_s'])} ago"
        )
    counts = ", ".join(f"{state} {n}" for state, n in pipe["states"].items())
    lines.append(f"pipeline  {counts}; {pipe['waiting']} waiting, {pipe['stuck']} stuck")
    jobs = report["jobs"]
    if jobs is not None:
        queues = "; ".join(
            f"{queue}: " + ", ".join(f"{status} {n}" for status, n in by_status.items())
            for queue, by_status in jobs["queues"].items()
        )
        lines.append(f"jobs      {queues or 'none'}; {plural(jobs['workers'], 'worker')} alive")
    alerts = report["alerts"]
    oldest = alerts["oldest_undelivered_age_s"]
    lines.append(
        f"alerts    {alerts['undelivered']} undelivered"
        + (f", the oldest for {span(oldest)}" if oldest is not None else "")
    )
    states = report["messages"]["states"]
    lines.append("messages  " + ", ".join(f"{state} {n}" for state, n in states.items()))
    feeds = report["feeds"]
    failing = "; ".join(
        f"{f['name']} ({plural(f['failures'], 'failure')}{', down' if f['down'] else ''}"
        + (f": {f['error']})" if f["error"] else ")")
        for f in feeds["failing"]
    )
    lines.append(
        f"feeds     {feeds['watched']} watched, {len(feeds['failing'])} failing"
        + (f": {failing}" if failing else "")
    )
    return lines
