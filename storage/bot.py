"""What the Telegram bot keeps across restarts: users, subscriptions, deliveries, feedback and
the questions it still owes an answer.

- Users are keyed by their Telegram id.  A row may exist for a user the bot never met (an admin
  trusted them with /trust), so first_seen_at / last_seen_at are None until they write.
  Fact-checkers listed in the config are not stored here; ``trusted`` only covers /trust.
- A subscription is one (user, chat) with its filters; subscribing again updates the filters.
- Deliveries: the outbox holds one alert, ``plan_deliveries`` turns it into one message per
  chat in storage.outgoing (where every message the bot sends waits, is retried and is sent at
  most once), so an alert to many subscribers is sent per chat, each with its own retries, and
  a restart resumes where it stopped.  Planning is idempotent per (alert, chat).
- Feedback is recorded once per (alert, user, verdict).  "Not a match" is also remembered per
  (post, matched media), so that clip never alerts for that post again; "muted" also mutes the
  clip for that user.
- A question is someone asking about media the library did not know.  When that media is
  identified, ``mark_question_answered`` is a compare-and-set, so each person is told once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import outgoing
from .engine import Database
from .rows import one
from .txn import When, immediate, utc_iso, utc_iso_ms

DELIVERY_STATES = outgoing.STATES
VERDICTS = ("confirmed", "not_a_match", "muted")

_USER_COLUMNS = "user_id, language, first_seen_at, last_seen_at, trusted, muted_until"
_SUBSCRIPTION_COLUMNS = "id, user_id, chat_id, feeds, labels, min_score, language, created_at"
_DELIVERY_COLUMNS = (
    "id, outbox_id, chat_id, message_id, state, attempts, next_attempt_at, error, created_at, "
    "sent_at"
)  # of the alert's message in ``outgoing``
_QUESTION_COLUMNS = (
    "id, user_id, chat_id, message_id, media_id, asked_at, answered_clip_id, notified_at, language"
)


@dataclass(frozen=True)
class BotUser:
    """Someone who used the bot (or was trusted by an admin before they did)."""

    user_id: int  # Telegram user id
    language: str | None  # preferred language of the bot's replies; None: the default
    first_seen_at: str | None  # None for a user trusted before they ever wrote
    last_seen_at: str | None
    trusted: bool  # a fact-checker added by an admin with /trust
    muted_until: str | None  # ISO 8601 UTC; no alerts before this


@dataclass(frozen=True)
class Subscription:
    """A user's request to get alerts in a chat, with the filters they chose."""

    id: int
    user_id: int
    chat_id: int  # where alerts go (the user's private chat, or a group)
    feeds: list[int]  # only alerts from these feed ids (empty: all)
    labels: list[str]  # only alerts from feeds with one of these labels (empty: all)
    min_score: float  # only matches scoring at least this (0..1)
    language: str | None  # only alerts from feeds of this language (None: any)
    created_at: str


@dataclass(frozen=True)
class Delivery:
    """One alert's message to one chat (a row of storage.outgoing)."""

    id: int  # the outgoing row
    outbox_id: int
    chat_id: int
    message_id: int | None  # the Telegram message, once sent
    state: str  # one of DELIVERY_STATES
    attempts: int  # calls made
    next_attempt_at: str | None  # not due before this (ISO 8601 UTC); None: due now
    error: str | None
    created_at: str
    sent_at: str | None


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


def _telegram_id(name: str, value: Any) -> int:
    """Telegram ids are ints (chat ids of groups are negative); refuse anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer Telegram id, got {value!r}")
    return value


def _user(row: dict[str, Any]) -> BotUser:
    return BotUser(**{**row, "trusted": bool(row["trusted"])})


def _subscription(row: dict[str, Any]) -> Subscription:
    return Subscription(
        **{
            **row,
            "feeds": json.loads(row["feeds"] or "[]"),
            "labels": json.loads(row["labels"] or "[]"),
            "min_score": float(row["min_score"]),
        }
    )


def _ids(name: str, values: Iterable[int]) -> list[int]:
    """Distinct integer ids in the order given (a bare int or string is refused)."""
    if isinstance(values, int | str):
        raise TypeError(f"{name} must be a list of integer ids, not a single value")
    ids = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must hold integer ids, got {value!r}")
        ids.append(value)
    return list(dict.fromkeys(ids))


# --- users ------------------------------------------------------------------------------------


def touch_user(db: Database, user_id: int) -> BotUser:
    """Note that a user wrote to the bot now (creating them on first contact); return them."""
    _telegram_id("user_id", user_id)
    now = utc_iso()
    with immediate(db):
        db.execute(
            "INSERT INTO bot_users (user_id, first_seen_at, last_seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
            "first_seen_at = COALESCE(bot_users.first_seen_at, excluded.first_seen_at)",
            [user_id, now, now],
        )
        row = one(db, f"SELECT {_USER_COLUMNS} FROM bot_users WHERE user_id = ?", [user_id])
    assert row is not None
    return _user(row)


def get_user(db: Database, user_id: int) -> BotUser | None:
    """The user with this Telegram id, or None."""
    row = one(db, f"SELECT {_USER_COLUMNS} FROM bot_users WHERE user_id = ?", [user_id])
    return _user(row) if row else None


def set_language(db: Database, user_id: int, lang: str | None) -> None:
    """Set the language of the bot's replies to a user (None: back to the default)."""
    _telegram_id("user_id", user_id)
    if lang is not None and (not isinstance(lang, str) or not lang.strip()):
        raise ValueError(f"language must be a language code such as 'uk', got {lang!r}")
    db.execute(
        "INSERT INTO bot_users (user_id, language) VALUES (?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET language = excluded.language",
        [user_id, lang.strip() if lang else None],
    )


def set_trusted(db: Database, user_id: int, trusted: bool) -> bool:
    """Trust (/trust) or stop trusting (/untrust) a user; return whether that changed anything.

    Trusting a user the bot never met creates their row; untrusting one never adds a row.
    """
    _telegram_id("user_id", user_id)
    if not isinstance(trusted, bool):
        raise ValueError(f"trusted must be True or False, got {trusted!r}")
    if trusted:
        cursor = db.execute(
            "INSERT INTO bot_users (user_id, trusted) VALUES (?, 1) "
            "ON CONFLICT(user_id) DO UPDATE SET trusted = 1 WHERE bot_users.trusted = 0",
            [user_id],
        )
    else:
        cursor = db.execute(
            "UPDATE bot_users SET trusted = 0 WHERE user_id = ? AND trusted != 0", [user_id]
        )
    return cursor.rowcount == 1


def trusted_users(db: Database) -> list[int]:
    """The ids of users trusted with /trust, ascending."""
    return [
        int(row[0])
        for row in db.execute("SELECT user_id FROM bot_users WHERE trusted = 1 ORDER BY user_id")
    ]


# --- subscriptions ----------------------------------------------------------------------------


def subscribe(
    db: Database,
    user_id: int,
    chat_id: int,
    *,
    feeds: Iterable[int] = (),
    labels: Iterable[str] = (),
    min_score: float = 0.0,
    language: str | None = None,
) -> tuple[int, bool]:
    """Subscribe a user's chat to alerts; return (subscription id, whether it was new).

    Subscribing the same (user, chat) again keeps the id and replaces the filters with these.
    """
    _telegram_id("user_id", user_id)
    _telegram_id("chat_id", chat_id)
    feeds_json = json.dumps(sorted(_ids("feeds", feeds)))
    if isinstance(labels, str):
        # A bare string would otherwise be stored as a list of its characters.
        raise TypeError("labels must be a list of strings, not a single string")
    label_list = list(dict.fromkeys(str(label) for label in labels))
    labels_json = json.dumps(label_list, ensure_ascii=False)
    if (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not math.isfinite(min_score)
        or not 0.0 <= min_score <= 1.0
    ):
        raise ValueError(f"min_score must be a number from 0 to 1, got {min_score!r}")
    if language is not None and (not isinstance(language, str) or not language.strip()):
        raise ValueError(f"language must be a language code such as 'uk', got {language!r}")
    values = [feeds_json, labels_json, float(min_score), language]
    with immediate(db):
        cursor = db.execute(
            "INSERT INTO subscriptions (user_id, chat_id, feeds, labels, min_score, language, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, chat_id) DO NOTHING",
            [user_id, chat_id, *values, utc_iso()],
        )
        created = cursor.rowcount == 1
        subscription_id = int(
            db.execute(
                "SELECT id FROM subscriptions WHERE user_id = ? AND chat_id = ?",
                [user_id, chat_id],
            ).fetchone()[0]
        )
        if not created:
            db.execute(
                "UPDATE subscriptions SET feeds = ?, labels = ?, min_score = ?, language = ? "
                "WHERE id = ?",
                [*values, subscription_id],
            )
    return subscription_id, created


def unsubscribe(db: Database, user_id: int, chat_id: int) -> bool:
    """Stop a user's alerts in a chat; return False if there was no such subscription.

    Deliveries already planned for the chat stay queued; the sender may check
    ``subscriptions_of`` if it must not send them.
    """
    cursor = db.execute(
        "DELETE FROM subscriptions WHERE user_id = ? AND chat_id = ?", [user_id, chat_id]
    )
    return cursor.rowcount == 1


def subscriptions_of(db: Database, user_id: int) -> list[Subscription]:
    """A user's subscriptions, oldest first."""
    return [
        _subscription(row)
        for row in db.query(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = ? ORDER BY id",
            [user_id],
        )
    ]


def all_subscriptions(db: Database) -> list[Subscription]:
    """Every subscription, oldest first (what an alert is matched against)."""
    return [
        _subscription(row)
        for row in db.query(f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id")
    ]


def mute_clip(db: Database, user_id: int, matched_media_id: int) -> bool:
    """Stop alerting a user about reposts of this known media; return whether it was new.

    The mute goes away with the media (e.g. when its clip is removed).
    """
    _telegram_id("user_id", user_id)
    with immediate(db):
        _require_media(db, matched_media_id)
        cursor = db.execute(
            "INSERT INTO muted_clips (user_id, matched_media_id, created_at) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [user_id, matched_media_id, utc_iso()],
        )
    return cursor.rowcount == 1


def is_muted(db: Database, user_id: int, matched_media_id: int) -> bool:
    """Whether the user muted alerts about this known media."""
    row = db.execute(
        "SELECT 1 FROM muted_clips WHERE user_id = ? AND matched_media_id = ?",
        [user_id, matched_media_id],
    ).fetchone()
    return row is not None


# --- deliveries -------------------------------------------------------------------------------


def _require_alert(db: Database, outbox_id: int) -> None:
    if db.execute("SELECT 1 FROM outbox WHERE id = ?", [outbox_id]).fetchone() is None:
        raise ValueError(f"no alert with outbox id {outbox_id}")


def _require_media(db: Database, media_id: int) -> None:
    if db.execute("SELECT 1 FROM media WHERE id = ?", [media_id]).fetchone() is None:
        raise ValueError(f"no media with id {media_id} (was its clip removed?)")


def plan_deliveries(
    db: Database,
    outbox_id: int,
    chat_ids: Iterable[int],
    *,
    evidence: bool = False,
    now: When = None,
) -> int:
    """Queue an alert's message for each chat (see storage.outgoing); return how many are new.

    Idempotent: a chat that already has this alert's message gets no second one, so planning
    again after a crash (or with a chat that subscribed since) is safe.  With ``evidence``,
    each new message is followed by a picture replying to it (drawn when it is sent).  The
    message's text is drawn from the alert when it is sent, and a repost that joins the alert
    later is shown by an edit (``plan_alert_edits``).

    In the same transaction the outbox item is marked delivered (planned) if it was not.
    """
    chats = _ids("chat_ids", chat_ids)
    planned = 0
    with immediate(db):
        _require_alert(db, outbox_id)
        count = db.execute("SELECT count FROM outbox WHERE id = ?", [outbox_id]).fetchone()[0]
        for chat_id in chats:
            exists = db.execute(
                "SELECT 1 FROM outgoing WHERE outbox_id = ? AND chat_id = ? AND target IS NULL",
                [outbox_id, chat_id],
            ).fetchone()
            if exists:
                continue
            message = outgoing.queue(
                db, chat_id, "sendMessage", outbox_id=outbox_id, shown_count=count, now=now
            )
            if evidence:
                outgoing.queue(db, chat_id, "sendPhoto", outbox_id=outbox_id, target=message)
            planned += 1
        db.execute(
            "UPDATE outbox SET delivered_at = ?, next_attempt_at = NULL "
            "WHERE id = ? AND delivered_at IS NULL",
            [utc_iso(now), outbox_id],
        )
    return planned


def _deliveries(
    db: Database, where: str, params: list[Any], limit: int | None = None
) -> list[Delivery]:
    sql = (
        f"SELECT {_DELIVERY_COLUMNS} FROM outgoing "
        f"WHERE outbox_id IS NOT NULL AND target IS NULL AND {where} ORDER BY id"
    )
    if limit is not None:
        sql, params = f"{sql} LIMIT ?", [*params, limit]
    rows = db.query(sql, params)
    return [Delivery(**row) for row in rows]


def due_deliveries(db: Database, *, now: When = None, limit: int = 30) -> list[Delivery]:
    """Alert messages not sent yet that are due (no retry time, or it has come), oldest first."""
    return _deliveries(
        db,
        "state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        [utc_iso_ms(now)],
        limit,
    )


def deliveries_of(db: Database, outbox_id: int) -> list[Delivery]:
    """Every chat's message of one alert, in the order they were planned."""
    return _deliveries(db, "outbox_id = ?", [outbox_id])


# --- feedback ---------------------------------------------------------------------------------


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
    _telegram_id("user_id", user_id)
    now = utc_iso()
    with immediate(db):
        _require_alert(db, outbox_id)
        _require_media(db, matched_media_id)
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


# --- questions --------------------------------------------------------------------------------


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
    _telegram_id("user_id", user_id)
    _telegram_id("chat_id", chat_id)
    with immediate(db):
        _require_media(db, media_id)
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
    ids = _ids("media_ids", media_ids)
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


# --- stats ------------------------------------------------------------------------------------


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


# --- state shared by several bot processes (schema 12) -----------------------------------------
# Behind one webhook any process may take a person's next update, so nothing a conversation
# depends on may live in one process's memory.


@dataclass(frozen=True)
class Dialogue:
    """A conversation in progress with one person in one chat (e.g. the /add questions)."""

    chat_id: int
    user_id: int
    kind: str  # what the conversation is, e.g. "add"
    data: dict[str, Any]  # whatever its handler keeps between answers
    step: int  # answers taken so far: the compare-and-set between processes
    started_at: str  # ISO 8601 UTC


def start_dialogue(
    db: Database,
    chat_id: int,
    user_id: int,
    kind: str,
    data: dict[str, Any],
    *,
    forget_before: When = None,
) -> None:
    """Begin (or begin again) a person's dialogue in a chat, at step 0.

    Dialogues started before ``forget_before`` (anyone's: abandoned ones are otherwise never
    touched again) are deleted in the same transaction.
    """
    _telegram_id("chat_id", chat_id)
    _telegram_id("user_id", user_id)
    text = json.dumps(data, ensure_ascii=False)
    with immediate(db):
        if forget_before is not None:
            db.execute("DELETE FROM bot_dialogues WHERE started_at < ?", [utc_iso(forget_before)])
        db.execute(
            "INSERT INTO bot_dialogues (chat_id, user_id, kind, data, step, started_at) "
            "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(chat_id, user_id) DO UPDATE SET "
            "kind = excluded.kind, data = excluded.data, step = 0, "
            "started_at = excluded.started_at",
            [chat_id, user_id, kind, text, utc_iso()],
        )


def get_dialogue(db: Database, chat_id: int, user_id: int) -> Dialogue | None:
    """The person's dialogue in this chat, or None."""
    row = one(
        db,
        "SELECT chat_id, user_id, kind, data, step, started_at FROM bot_dialogues "
        "WHERE chat_id = ? AND user_id = ?",
        [chat_id, user_id],
    )
    return Dialogue(**{**row, "data": json.loads(row["data"])}) if row else None


def advance_dialogue(
    db: Database, chat_id: int, user_id: int, step: int, data: dict[str, Any]
) -> bool:
    """Record the answer to step ``step``; False if another process took an answer to it
    first (or the dialogue ended meanwhile): then this answer is not the dialogue's."""
    cursor = db.execute(
        "UPDATE bot_dialogues SET data = ?, step = step + 1 "
        "WHERE chat_id = ? AND user_id = ? AND step = ?",
        [json.dumps(data, ensure_ascii=False), chat_id, user_id, step],
    )
    return cursor.rowcount == 1


def end_dialogue(db: Database, chat_id: int, user_id: int, *, step: int | None = None) -> bool:
    """Delete the dialogue (only if still at ``step``, when given); True if this call did.

    With ``step``, of two processes finishing the same dialogue only one gets True.
    """
    sql = "DELETE FROM bot_dialogues WHERE chat_id = ? AND user_id = ?"
    params: list[Any] = [chat_id, user_id]
    if step is not None:
        sql += " AND step = ?"
        params.append(step)
    return db.execute(sql, params).rowcount == 1


def take_request(db: Database, user_id: int, *, per_minute: float, burst: int, now: float) -> float:
    """Take one request from the person's token bucket (``burst`` deep, refilled at
    ``per_minute``); 0 when it may go ahead, else the seconds until the next one.

    ``now`` is wall-clock seconds (time.time()): the bucket is shared by every bot process,
    so it cannot be a monotonic clock.  A clock that went back counts as no time passed.
    """
    _telegram_id("user_id", user_id)
    rate = per_minute / 60.0
    with immediate(db):
        row = db.execute(
            "SELECT tokens, updated_at FROM bot_rate_limits WHERE user_id = ?", [user_id]
        ).fetchone()
        tokens, last = (float(burst), now) if row is None else (float(row[0]), float(row[1]))
        tokens = min(float(burst), tokens + max(now - last, 0.0) * rate)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
        if not wait:
            tokens -= 1.0
        db.execute(
            "INSERT INTO bot_rate_limits (user_id, tokens, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET tokens = excluded.tokens, "
            "updated_at = excluded.updated_at",
            [user_id, tokens, max(now, last)],
        )
    return wait


def shared_secret(db: Database, name: str, make: Callable[[], str]) -> str:
    """The secret called ``name``, made with ``make`` by whichever process asks first; every
    other process (another host on the same database) gets that same value."""
    with immediate(db):
        db.execute(
            "INSERT INTO bot_secrets (name, value, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO NOTHING",
            [name, make(), utc_iso()],
        )
        return str(db.execute("SELECT value FROM bot_secrets WHERE name = ?", [name]).fetchone()[0])


def claim_update(db: Database, update_id: int, *, forget_before: When = None) -> bool:
    """Take a Telegram update for processing; False if some process already took it (Telegram
    sent it again).  Ids received before ``forget_before`` are forgotten meanwhile."""
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        raise ValueError(f"update_id must be an integer, got {update_id!r}")
    with immediate(db):
        if forget_before is not None:
            db.execute("DELETE FROM bot_updates WHERE received_at < ?", [utc_iso(forget_before)])
        cursor = db.execute(
            "INSERT INTO bot_updates (update_id, received_at) VALUES (?, ?) "
            "ON CONFLICT(update_id) DO NOTHING",
            [update_id, utc_iso()],
        )
    return cursor.rowcount == 1


def recover_stale_sends(db: Database, *, claimed_before: When) -> list[outgoing.OutgoingMessage]:
    """``outgoing.recover`` for several senders on one database: only rows claimed before
    ``claimed_before`` are settled (their sender died; a live one would have had its answer by
    then), never a row another live process is sending right now.  Returns the sends now
    'unknown', for the log."""
    cutoff = utc_iso_ms(claimed_before)
    with immediate(db):
        ids = db.execute(
            "SELECT id FROM outgoing WHERE state = 'sending' AND claimed_at < ?", [cutoff]
        ).fetchall()
        stuck = [row for (row_id,) in ids if (row := outgoing.get(db, int(row_id))) is not None]
        for row in stuck:
            outgoing.unanswered(db, row.id, "the process sending this stopped during the call")
    return [row for row in stuck if row.method != "editMessageText"]
