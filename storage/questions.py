"""Questions: someone asked about media the library did not know.

When that media is identified, ``mark_question_answered`` is a compare-and-set, so each person
is told once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .checks import id_list, require_media, telegram_id
from .engine import Database
from .txn import immediate, utc_iso

_QUESTION_COLUMNS = (
    "id, user_id, chat_id, message_id, media_id, asked_at, answered_clip_id, notified_at, language"
)


@dataclass(frozen=True)
class Question:
    """Someone asked about media the library could not identify at the time."""

    id: int
    user_id: int
    chat_id: int
    message_id: int | None  # the asker's message, to reply to
    media_id: int | None  # the asked-about media (None if it was removed since)
    asked_at: str
    answered_clip_id: int | None
    notified_at: str | None  # when the asker was told; None: still open
    language: str | None = None  # the language the asker was answered in, if known


def record_question(
    db: Database,
    *,
    user_id: int,
    chat_id: int,
    message_id: int | None,
    media_id: int,
    language: str | None = None,
) -> int:
    """Remember that a user asked about (fingerprinted, stored) media; return the question id.

    A person has one open question per media: asking again before it is answered returns the
    same id, now pointing at the latest message (and language), so the answer arrives once, as
    a reply to it.  ``language`` is the one they were answered in, for the later answer.
    """
    telegram_id("user_id", user_id)
    telegram_id("chat_id", chat_id)
    with immediate(db):
        require_media(db, media_id)
        row = db.execute(
            "SELECT id FROM questions WHERE user_id = ? AND media_id = ? AND notified_at IS NULL",
            [user_id, media_id],
        ).fetchone()
        if row is not None:
            db.execute(
                "UPDATE questions SET chat_id = ?, message_id = ?, "
                "language = COALESCE(?, language) WHERE id = ?",
                [chat_id, message_id, language, row[0]],
            )
            return int(row[0])
        cursor = db.execute(
            "INSERT INTO questions (user_id, chat_id, message_id, media_id, asked_at, language) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [user_id, chat_id, message_id, media_id, utc_iso(), language],
        )
        return int(cursor.fetchone()[0])


def open_questions_for_media(db: Database, media_ids: Iterable[int]) -> list[Question]:
    """Questions about any of these media whose askers were not told yet, oldest first."""
    ids = id_list("media_ids", media_ids)
    if not ids:
        return []
    rows = db.query(
        f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE notified_at IS NULL "
        f"AND media_id IN ({', '.join('?' for _ in ids)}) ORDER BY id",
        ids,
    )
    return [Question(**row) for row in rows]


def open_questions(db: Database, *, limit: int | None = None) -> list[Question]:
    """Questions about media still stored whose askers were not told yet, newest first."""
    sql = (
        f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE notified_at IS NULL "
        "AND media_id IS NOT NULL ORDER BY id DESC"
    )
    rows = db.query(sql, []) if limit is None else db.query(f"{sql} LIMIT ?", [limit])
    return [Question(**row) for row in rows]


def mark_question_answered(db: Database, question_id: int, clip_id: int) -> bool:
    """Claim a question for telling its asker about ``clip_id``; return whether this call won.

    Compare-and-set on "not told yet": of two callers (or a caller and its restarted self) only
    one gets True, so call it before sending and send only on True.  A crash between the two
    loses that one answer rather than sending it twice.
    """
    with immediate(db):
        if db.execute("SELECT 1 FROM clips WHERE id = ?", [clip_id]).fetchone() is None:
            raise ValueError(f"no clip with id {clip_id}")
        cursor = db.execute(
            "UPDATE questions SET answered_clip_id = ?, notified_at = ? "
            "WHERE id = ? AND notified_at IS NULL",
            [clip_id, utc_iso(), question_id],
        )
    return cursor.rowcount == 1
