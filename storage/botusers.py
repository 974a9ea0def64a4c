"""The bot's users, their subscriptions and the clips they muted.

- Users are keyed by their Telegram id.  A row may exist for a user the bot never met (an admin
  trusted them with /trust), so first_seen_at / last_seen_at are None until they write.
  Fact-checkers listed in the config are not stored here; ``trusted`` only covers /trust.
- A subscription is one (user, chat) with its filters; subscribing again updates the filters.
- A muted clip is (user, known media): that user gets no alerts about its reposts (muted by
  the feedback "muted", storage.feedback).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .checks import id_list, telegram_id
from .engine import Database
from .rows import one
from .txn import immediate, utc_iso

_USER_COLUMNS = "user_id, language, first_seen_at, last_seen_at, trusted, muted_until"
_SUBSCRIPTION_COLUMNS = "id, user_id, chat_id, feeds, labels, min_score, language, created_at"


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


# --- users ------------------------------------------------------------------------------------


def touch_user(db: Database, user_id: int) -> BotUser:
    """Note that a user wrote to the bot now (creating them on first contact); return them."""
    telegram_id("user_id", user_id)
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
    telegram_id("user_id", user_id)
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
    telegram_id("user_id", user_id)
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
    telegram_id("user_id", user_id)
    telegram_id("chat_id", chat_id)
    feeds_json = json.dumps(sorted(id_list("feeds", feeds)))
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


def is_muted(db: Database, user_id: int, matched_media_id: int) -> bool:
    """Whether the user muted alerts about this known media."""
    row = db.execute(
        "SELECT 1 FROM muted_clips WHERE user_id = ? AND matched_media_id = ?",
        [user_id, matched_media_id],
    ).fetchone()
    return row is not None
