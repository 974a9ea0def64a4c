"""The bot's durable state against real SQLite files: what a user would notice (an alert sent
once per chat and not lost on a restart, a "not a match" respected, an answer given once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from storage_helpers import insert_old_clip, make_fp, matched_post_media, raw_sqlite

from storage import (
    CURRENT_VERSION,
    add_alert,
    add_clip,
    add_feed,
    add_media,
    add_sighting,
    all_subscriptions,
    deliveries_of,
    due_deliveries,
    feedback_counts,
    get_alert,
    get_clip,
    get_media,
    get_user,
    is_muted,
    is_not_a_match,
    library_stats,
    list_clips,
    mark_question_answered,
    media_by_sha256,
    migrate,
    open_db,
    open_questions_for_media,
    outgoing,
    pending_alerts,
    plan_deliveries,
    record_feedback,
    record_question,
    record_repost_and_alert,
    remove_clip,
    set_language,
    set_media_path,
    set_trusted,
    subscribe,
    subscriptions_of,
    touch_user,
    trusted_users,
    unsubscribe,
)
from storage.engine import Database

# Every test taking `db` runs on SQLite and on PostgreSQL (see conftest.py).
pytestmark = pytest.mark.both_engines


@pytest.fixture
def clip_media(db: Database) -> int:
    """Media of a curated clip: what alerts are about."""
    media_id, _ = add_media(db, make_fp(1))
    add_clip(db, media_id, title="Convoy 2014", first_seen="2014-07-17", source="archive.org")
    return media_id


@pytest.fixture
def alert_id(db: Database, clip_media: int) -> int:
    return add_alert(db, "repost", {"matched_media_id": clip_media, "posts": []})


# --- migration --------------------------------------------------------------------------------


def test_v3_database_migrates_to_v4_keeping_its_data(db_path: Path) -> None:
    old = raw_sqlite(db_path)
    old.execute("PRAGMA foreign_keys = ON")
    assert migrate(old, target=3) == 3
    media_id, _ = add_media(old, make_fp(7))
    clip_id = insert_old_clip(old, media_id)
    feed_id, _ = add_feed(old, kind="rss", target="x", url="https://x.example/feed", interval_s=60)
    outbox_id = add_alert(old, "feed_down", {"feed_id": feed_id})
    assert ("path",) not in old.execute("SELECT name FROM pragma_table_info('media')").fetchall()
    assert "deliveries" not in old.table_names()
    old.close()

    db = open_db(db_path)
    assert CURRENT_VERSION >= 4
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    bot_tables = {
        "bot_users",
        "subscriptions",
        "muted_clips",
        "outgoing",
        "feedback",
        "not_a_match",
        "questions",
    }
    assert bot_tables <= set(db.table_names())
    clip = get_clip(db, clip_id)
    assert clip is not None and clip.title == "Old" and clip.media_id == media_id
    assert [c.id for c in list_clips(db)] == [clip_id]
    media = get_media(db, media_id)
    assert media is not None and media.path is None
    assert get_alert(db, outbox_id) is not None
    # The new tables work on the upgraded file, foreign keys included.
    assert plan_deliveries(db, outbox_id, [5]) == 1
    db.close()


def test_media_path_is_stored_and_read_back(db: Database, clip_media: int) -> None:
    assert get_media(db, clip_media).path is None
    assert set_media_path(db, clip_media, Path("/var/lib/oldclip/media/a.mp4"))
    media = get_media(db, clip_media)
    assert media.path == "/var/lib/oldclip/media/a.mp4"
    assert media_by_sha256(db, media.sha256).path == media.path
    assert not set_media_path(db, 999, "/nowhere")
    with pytest.raises(ValueError, match="path"):
        set_media_path(db, clip_media, " ")


# --- users ------------------------------------------------------------------------------------


def test_touch_user_creates_then_updates_last_seen(db: Database) -> None:
    first = touch_user(db, 42)
    assert first.user_id == 42 and not first.trusted and first.language is None
    assert first.first_seen_at is not None and first.first_seen_at == first.last_seen_at
    db.execute("UPDATE bot_users SET last_seen_at = '2020-01-01T00:00:00+00:00'")
    again = touch_user(db, 42)
    assert again.first_seen_at == first.first_seen_at
    assert again.last_seen_at > "2020-01-01T00:00:00+00:00"
    assert get_user(db, 42) == again
    assert get_user(db, 43) is None


def test_language_and_trust(db: Database) -> None:
    set_language(db, 1, "uk")
    assert get_user(db, 1).language == "uk"
    touch_user(db, 1)
    assert get_user(db, 1).language == "uk"
    with pytest.raises(ValueError, match="language"):
        set_language(db, 1, "")

    # An admin may trust someone who never wrote to the bot.
    assert set_trusted(db, 7, True)
    assert not set_trusted(db, 7, True)
    stranger = get_user(db, 7)
    assert stranger.trusted and stranger.first_seen_at is None
    assert touch_user(db, 7).first_seen_at is not None
    set_trusted(db, 3, True)
    assert trusted_users(db) == [3, 7]
    assert set_trusted(db, 7, False)
    assert not set_trusted(db, 99, False)
    assert get_user(db, 99) is None
    assert trusted_users(db) == [3]


# --- subscriptions ----------------------------------------------------------------------------


def test_subscribe_again_updates_filters_and_keeps_id(db: Database) -> None:
    sub_id, created = subscribe(db, 1, 100)
    assert created
    sub = subscriptions_of(db, 1)[0]
    assert (sub.feeds, sub.labels, sub.min_score, sub.language) == ([], [], 0.0, None)

    again, created = subscribe(
        db, 1, 100, feeds=[3, 2, 3], labels=["News", "News", "Mil"], min_score=0.5, language="uk"
    )
    assert (again, created) == (sub_id, False)
    [sub] = subscriptions_of(db, 1)
    assert sub.feeds == [2, 3] and sub.labels == ["News", "Mil"]
    assert sub.min_score == 0.5 and sub.language == "uk"

    group_id, created = subscribe(db, 1, -1001234567890)
    assert created and group_id != sub_id
    subscribe(db, 2, -1001234567890)
    assert [s.chat_id for s in subscriptions_of(db, 1)] == [100, -1001234567890]
    assert len(all_subscriptions(db)) == 3

    assert unsubscribe(db, 1, 100)
    assert not unsubscribe(db, 1, 100)
    assert [s.id for s in subscriptions_of(db, 1)] == [group_id]


@pytest.mark.parametrize(
    "kwargs",
    [{"min_score": 1.5}, {"min_score": float("nan")}, {"feeds": ["3"]}, {"language": " "}],
)
def test_subscribe_refuses_bad_filters(db: Database, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        subscribe(db, 1, 100, **kwargs)
    with pytest.raises(TypeError):
        subscribe(db, 1, 100, labels="news")
    assert all_subscriptions(db) == []


# --- deliveries -------------------------------------------------------------------------------


def test_plan_deliveries_is_idempotent_per_chat(db: Database, alert_id: int) -> None:
    assert plan_deliveries(db, alert_id, [10, 20, 10]) == 2
    assert plan_deliveries(db, alert_id, [10, 20]) == 0  # a restart plans again: nothing new
    assert plan_deliveries(db, alert_id, [20, 30]) == 1  # a chat that subscribed since
    assert [(d.chat_id, d.state) for d in deliveries_of(db, alert_id)] == [
        (10, "pending"),
        (20, "pending"),
        (30, "pending"),
    ]
    with pytest.raises(ValueError, match="no alert"):
        plan_deliveries(db, 999, [10])
    with pytest.raises(ValueError):
        plan_deliveries(db, alert_id, [True])


def test_a_repost_after_the_alert_was_sent_edits_its_messages(
    db: Database, clip_media: int
) -> None:
    """One alert per clip per window: a repost found after the alert went out joins it, and
    each chat's sent message gets one edit showing the new count (none while one waits)."""
    feed_id, _ = add_feed(db, kind="rss", target="x", url="https://x.example/feed", interval_s=60)

    def matched_row(n: int) -> int:
        return matched_post_media(db, feed_id, n, "https://x.example")

    first, created = record_repost_and_alert(
        db, matched_row(1), {"matched_media_id": clip_media}, window_s=3600
    )
    assert created and [a.id for a in pending_alerts(db)] == [first]
    assert plan_deliveries(db, first, [10, 20]) == 2
    assert pending_alerts(db) == []
    assert outgoing.plan_alert_edits(db) == 0  # nothing grew
    for row in outgoing.due(db):
        assert outgoing.claim(db, row.id)
        assert outgoing.sent(db, row.id, 500 + row.chat_id, shown_count=1)

    second, created = record_repost_and_alert(
        db, matched_row(2), {"matched_media_id": clip_media}, window_s=3600
    )
    assert (second, created) == (first, False)
    assert get_alert(db, first).count == 2
    assert outgoing.plan_alert_edits(db) == 2
    record_repost_and_alert(db, matched_row(3), {"matched_media_id": clip_media}, window_s=3600)
    assert outgoing.plan_alert_edits(db) == 0  # an edit waits already: it will show all three
    edits = outgoing.due(db)
    assert [(e.chat_id, e.method, e.target) for e in edits] == [
        (10, "editMessageText", deliveries_of(db, first)[0].id),
        (20, "editMessageText", deliveries_of(db, first)[1].id),
    ]
    for row in edits:
        assert outgoing.claim(db, row.id)
        assert outgoing.sent(db, row.id, 500 + row.chat_id, shown_count=3)
    assert outgoing.plan_alert_edits(db) == 0  # every message shows all three
    assert [d.message_id for d in deliveries_of(db, first)] == [510, 520]


def test_deliveries_survive_a_restart(db_url: str) -> None:
    db = open_db(db_url)
    media_id, _ = add_media(db, make_fp(3))
    alert = add_alert(db, "repost", {"matched_media_id": media_id})
    plan_deliveries(db, alert, [10, 20])
    first = due_deliveries(db)[0]
    assert outgoing.claim(db, first.id) and outgoing.sent(db, first.id, 1)
    db.close()

    db = open_db(db_url)
    assert [d.chat_id for d in due_deliveries(db)] == [20]
    assert plan_deliveries(db, alert, [10, 20]) == 0
    db.close()


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_is_recorded_once_per_alert_user_and_verdict(
    db: Database, alert_id: int, clip_media: int
) -> None:
    args = {"outbox_id": alert_id, "post_url": "https://t.me/a/1", "matched_media_id": clip_media}
    assert record_feedback(db, **args, user_id=1, verdict="confirmed")
    assert not record_feedback(db, **args, user_id=1, verdict="confirmed")
    assert record_feedback(db, **args, user_id=2, verdict="confirmed")
    assert record_feedback(db, **args, user_id=1, verdict="muted")
    assert is_muted(db, 1, clip_media) and not is_muted(db, 2, clip_media)
    assert feedback_counts(db) == {"confirmed": 2, "not_a_match": 0, "muted": 1}

    with pytest.raises(ValueError, match="verdict"):
        record_feedback(db, **args, user_id=1, verdict="maybe")
    with pytest.raises(ValueError, match="no alert"):
        record_feedback(db, **{**args, "outbox_id": 999}, user_id=1, verdict="confirmed")
    with pytest.raises(ValueError, match="no media"):
        record_feedback(db, **{**args, "matched_media_id": 999}, user_id=1, verdict="confirmed")
    assert feedback_counts(db) == {"confirmed": 2, "not_a_match": 0, "muted": 1}


def test_not_a_match_is_per_post_and_matched_media(
    db: Database, alert_id: int, clip_media: int
) -> None:
    other_media, _ = add_media(db, make_fp(2))
    post = "https://t.me/a/1"
    assert not is_not_a_match(db, post, clip_media)
    assert record_feedback(
        db,
        outbox_id=alert_id,
        post_url=post,
        matched_media_id=clip_media,
        user_id=1,
        verdict="not_a_match",
    )
    assert is_not_a_match(db, post, clip_media)
    assert not is_not_a_match(db, "https://t.me/a/2", clip_media)
    assert not is_not_a_match(db, "https://t.me/a/3", clip_media)
    assert not is_not_a_match(db, post, other_media)
    # Another person saying so too is their own feedback; the mark stays one row.
    assert record_feedback(
        db,
        outbox_id=alert_id,
        post_url=post,
        matched_media_id=clip_media,
        user_id=2,
        verdict="not_a_match",
    )
    assert db.execute("SELECT count(*) FROM not_a_match").fetchone()[0] == 1
    assert feedback_counts(db)["not_a_match"] == 2

    # A grouped alert lists several posts: the verdict is one feedback row per alert and user,
    # but every post it was given for is marked.
    second_post = "https://t.me/a/2"
    assert not record_feedback(
        db,
        outbox_id=alert_id,
        post_url=second_post,
        matched_media_id=clip_media,
        user_id=1,
        verdict="not_a_match",
    )
    assert is_not_a_match(db, second_post, clip_media)
    assert feedback_counts(db)["not_a_match"] == 2


def test_removing_a_clip_keeps_feedback_and_drops_its_marks(
    db: Database, alert_id: int, clip_media: int
) -> None:

    post = "https://t.me/a/1"
    for verdict in ("not_a_match", "muted"):
        record_feedback(
            db,
            outbox_id=alert_id,
            post_url=post,
            matched_media_id=clip_media,
            user_id=1,
            verdict=verdict,
        )
    question = record_question(db, user_id=5, chat_id=5, message_id=1, media_id=clip_media)
    assert remove_clip(db, get_clip_id(db, clip_media))
    assert get_media(db, clip_media) is None
    assert not is_not_a_match(db, post, clip_media) and not is_muted(db, 1, clip_media)
    assert feedback_counts(db) == {"confirmed": 0, "not_a_match": 1, "muted": 1}
    row = db.execute("SELECT media_id FROM questions WHERE id = ?", [question]).fetchone()
    assert row == (None,)


def get_clip_id(db: Database, media_id: int) -> int:
    return int(db.execute("SELECT id FROM clips WHERE media_id = ?", [media_id]).fetchone()[0])


# --- questions --------------------------------------------------------------------------------


def test_each_asker_is_told_once(db: Database) -> None:
    asked, _ = add_media(db, make_fp(10))
    unrelated, _ = add_media(db, make_fp(11))
    q1 = record_question(db, user_id=1, chat_id=1, message_id=10, media_id=asked)
    q2 = record_question(db, user_id=2, chat_id=-50, message_id=11, media_id=asked)
    # Asking again before the answer keeps one question, replying to the latest message.
    assert record_question(db, user_id=1, chat_id=1, message_id=12, media_id=asked) == q1
    record_question(db, user_id=3, chat_id=3, message_id=13, media_id=unrelated)

    open_qs = open_questions_for_media(db, [asked])
    assert [(q.id, q.user_id, q.message_id) for q in open_qs] == [(q1, 1, 12), (q2, 2, 11)]
    assert all(q.notified_at is None and q.answered_clip_id is None for q in open_qs)
    assert open_questions_for_media(db, []) == []

    clip_id, _ = add_clip(db, asked, title="Identified", first_seen="2016-03-01", source="x")
    assert mark_question_answered(db, q1, clip_id)
    assert not mark_question_answered(db, q1, clip_id)  # a second worker, or a restart
    assert [q.id for q in open_questions_for_media(db, [asked, unrelated])] == [q2] + [
        q.id for q in open_questions_for_media(db, [unrelated])
    ]
    assert mark_question_answered(db, q2, clip_id)
    assert open_questions_for_media(db, [asked]) == []
    with pytest.raises(ValueError, match="no clip"):
        mark_question_answered(db, q2, 999)

    # Once told, asking again is a new question (told again when a new clip identifies it).
    q3 = record_question(db, user_id=1, chat_id=1, message_id=20, media_id=asked)
    assert q3 not in (q1, q2)
    with pytest.raises(ValueError, match="no media"):
        record_question(db, user_id=1, chat_id=1, message_id=21, media_id=999)


# --- stats ------------------------------------------------------------------------------------


def test_library_stats_counts(db: Database, clip_media: int, alert_id: int) -> None:
    add_media(db, make_fp(2))
    add_sighting(db, clip_media, url="u", source="s", seen_at="2024-01-01T00:00:00+00:00")
    add_alert(db, "feed_down", {"feed_id": 1})  # not a repost alert
    record_feedback(
        db,
        outbox_id=alert_id,
        post_url="p",
        matched_media_id=clip_media,
        user_id=1,
        verdict="confirmed",
    )
    assert library_stats(db) == {
        "clips": 1,
        "media": 2,
        "sightings": 1,
        "reposts": 0,
        "alerts": 1,
        "feedback": {"confirmed": 1, "not_a_match": 0, "muted": 0},
    }


def test_library_stats_of_an_empty_library(db: Database) -> None:
    stats = library_stats(db)
    assert stats["feedback"] == {"confirmed": 0, "not_a_match": 0, "muted": 0}
    assert {k: v for k, v in stats.items() if k != "feedback"} == dict.fromkeys(
        ("clips", "media", "sightings", "reposts", "alerts"), 0
    )


# --- state several bot processes share (schema 12), on both engines ------------------------------


def test_a_dialogue_answer_is_taken_once_when_two_processes_race(db: Database) -> None:
    from storage import botshared as state

    state.start_dialogue(db, chat_id=-1001, user_id=7, kind="add", data={"title": None})
    dialogue = state.get_dialogue(db, -1001, 7)
    assert dialogue is not None and dialogue.step == 0 and dialogue.kind == "add"
    # Two hosts got two answers to the same question: only the first is the dialogue's.
    assert state.advance_dialogue(db, -1001, 7, 0, {"title": "Tank in Idlib"})
    assert not state.advance_dialogue(db, -1001, 7, 0, {"title": "other"})
    dialogue = state.get_dialogue(db, -1001, 7)
    assert dialogue is not None and (dialogue.step, dialogue.data) == (
        1,
        {"title": "Tank in Idlib"},
    )
    # Finishing it: one of two processes gets to store the clip.
    assert state.end_dialogue(db, -1001, 7, step=1)
    assert not state.end_dialogue(db, -1001, 7, step=1)
    assert state.get_dialogue(db, -1001, 7) is None


def test_a_persons_request_bucket_is_shared_and_refills(db: Database) -> None:
    from storage import botshared as state

    now = 1_800_000_000.0
    waits = [state.take_request(db, 42, per_minute=6, burst=2, now=now) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == pytest.approx(10.0)
    assert state.take_request(db, 42, per_minute=6, burst=2, now=now + 10.0) == 0.0
    assert state.take_request(db, 43, per_minute=6, burst=2, now=now) == 0.0  # another person


def test_an_update_is_claimed_once_and_the_secret_made_once(db: Database) -> None:
    from storage import botshared as state

    assert state.claim_update(db, 900_000_001)
    assert not state.claim_update(db, 900_000_001)  # Telegram sent it again
    made = iter(["first-secret-0123456789", "second-secret-0123456789"])
    assert state.shared_secret(db, "webhook", lambda: next(made)) == "first-secret-0123456789"
    assert state.shared_secret(db, "webhook", lambda: next(made)) == "first-secret-0123456789"
