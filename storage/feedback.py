"""Feedback on alerts, and the counts /stats shows.

Feedback is recorded once per (alert, user, verdict).  "Not a match" is also remembered per
(post, matched media), so that clip never alerts for that post again; "muted" also mutes the
clip for that user.
"""

from __future__ import annotations

from typing import Any

from .checks import require_alert, require_media, telegram_id
from .engine import Database
from .txn import immediate, utc_iso

VERDICTS = ("confirmed", "not_a_match", "muted")


def record_feedback(
    db: Database,
    *,
    outbox_id: int,
    post_url: str,
    matched_media_id: int,
    user_id: int,
    verdict: str,
) -> bool:
    """Record a user's verdict on an alert; return False if they had already given it.

    'not_a_match' also marks (post_url, matched_media_id) so that media never alerts for that
    post again, whoever marked it; callers decide who may.  'muted' also mutes the media for
    this user.  Both happen in the same transaction as the feedback row.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if not isinstance(post_url, str) or not post_url.strip():
        raise ValueError("post_url must not be empty")
    telegram_id("user_id", user_id)
    now = utc_iso()
    with immediate(db):
        require_alert(db, outbox_id)
        require_media(db, matched_media_id)
        cursor = db.execute(
            "INSERT INTO feedback (outbox_id, post_url, matched_media_id, user_id, "
            "verdict, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [outbox_id, post_url, matched_media_id, user_id, verdict, now],
        )
        created = cursor.rowcount == 1
        if verdict == "not_a_match":
            db.execute(
                "INSERT INTO not_a_match (post_url, matched_media_id, user_id, "
                "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [post_url, matched_media_id, user_id, now],
            )
        elif verdict == "muted":
            db.execute(
                "INSERT INTO muted_clips (user_id, matched_media_id, created_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [user_id, matched_media_id, now],
            )
    return created


def is_not_a_match(db: Database, post_url: str, matched_media_id: int) -> bool:
    """Whether this known media was marked "not a match" for this post."""
    row = db.execute(
        "SELECT 1 FROM not_a_match WHERE post_url = ? AND matched_media_id = ?",
        [post_url, matched_media_id],
    ).fetchone()
    return row is not None


def feedback_counts(db: Database) -> dict[str, int]:
    """How many times each verdict was given (every verdict present, 0 if never)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for verdict, count in db.execute("SELECT verdict, count(*) FROM feedback GROUP BY verdict"):
        counts[verdict] = int(count)
    return counts


def library_stats(db: Database) -> dict[str, Any]:
    """Counts for /stats, read in one statement so they agree with each other.

    Keys: clips, media, sightings, reposts, alerts (repost alerts in the outbox), and feedback
    (a dict as from ``feedback_counts``).
    """
    row = db.execute(
        "SELECT (SELECT count(*) FROM clips), (SELECT count(*) FROM media), "
        "(SELECT count(*) FROM sightings), (SELECT count(*) FROM reposts), "
        "(SELECT count(*) FROM outbox WHERE kind = 'repost'), "
        + ", ".join("(SELECT count(*) FROM feedback WHERE verdict = ?)" for _ in VERDICTS),
        list(VERDICTS),
    ).fetchone()
    feedback = {verdict: int(n) for verdict, n in zip(VERDICTS, row[5:], strict=True)}
    return {
        "clips": int(row[0]),
        "media": int(row[1]),
        "sightings": int(row[2]),
        "reposts": int(row[3]),
        "alerts": int(row[4]),
        "feedback": feedback,
    }
