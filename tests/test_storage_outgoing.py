"""Every message the bot sends, as a durable row (storage.outgoing), against real SQLite files
with the clock moved forward: a long 429 storm delays a message and loses none, a claimed
message is never sent twice, a chat's messages keep their order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storage_helpers import make_fp, raw_sqlite

from storage import add_alert, add_media, deliveries_of, migrate, open_db, outgoing
from storage.engine import Database

# Every test taking `db` runs on SQLite and on PostgreSQL (see conftest.py).
pytestmark = pytest.mark.both_engines


T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def refuse_until(db: Database, row_id: int, end_s: float, retry_s: float) -> float:
    """Telegram answers 429 "retry after ``retry_s``" to every try until ``end_s``; each try
    comes exactly when the row is due.  Returns the time of the last try."""
    now = 0.0
    while now < end_s:
        (due,) = outgoing.due(db, now=at(now))
        assert due.id == row_id
        assert outgoing.claim(db, row_id, now=at(now))
        assert outgoing.refused(db, row_id, "429", retry_in_s=retry_s, now=at(now)) == "pending"
        assert outgoing.due(db, now=at(now + retry_s - 0.01)) == []  # not a moment early
        now += retry_s
    return now


def test_a_429_storm_of_ten_minutes_then_hours_delays_the_message_and_loses_none(
    db: Database,
) -> None:
    row = outgoing.queue(db, 42, "sendMessage", {"text": "alert"}, now=T0)
    # Ten minutes of 429 with retry_after 3 s: 200 tries (the old sender gave up after 8).
    last = refuse_until(db, row, 600, 3)
    assert outgoing.get(db, row).attempts == 200
    # ... then 40 more hours of it, Telegram asking for 15 minutes each time.
    while last < 40 * 3600:
        assert outgoing.claim(db, row, now=at(last))
        assert outgoing.refused(db, row, "429", retry_in_s=900, now=at(last)) == "pending"
        last += 900
    (due,) = outgoing.due(db, now=at(last))
    assert outgoing.claim(db, due.id, now=at(last))
    assert outgoing.sent(db, row, 7001, now=at(last))
    sent = outgoing.get(db, row)
    assert (sent.state, sent.message_id, sent.error) == ("sent", 7001, None)
    assert outgoing.due(db, now=at(last + 10)) == []


def test_a_message_is_given_up_only_after_48_hours(db: Database) -> None:
    row = outgoing.queue(db, 42, "sendMessage", {"text": "x"}, now=T0)
    assert outgoing.claim(db, row, now=at(47 * 3600))
    assert outgoing.refused(db, row, "502", retry_in_s=600, now=at(47 * 3600)) == "pending"
    assert outgoing.claim(db, row, now=at(48 * 3600 + 1))
    assert outgoing.refused(db, row, "502", retry_in_s=600, now=at(48 * 3600 + 1)) == "failed"
    assert outgoing.due(db, now=at(60 * 3600)) == []
    # A refusal for good (the person blocked the bot) fails at once.
    other = outgoing.queue(db, 43, "sendMessage", {"text": "x"}, now=T0)
    assert outgoing.claim(db, other, now=T0)
    assert outgoing.refused(db, other, "Forbidden", retry_in_s=None, now=T0) == "failed"


def test_a_claimed_send_is_never_repeated_after_a_crash_but_an_edit_is(db_url: str) -> None:
    db = open_db(db_url)
    photo = outgoing.queue(db, 42, "sendPhoto", {}, files=[b"jpeg"])
    text = outgoing.queue(db, 43, "sendMessage", {"text": "hello"})
    assert outgoing.claim(db, photo) and outgoing.claim(db, text)
    assert outgoing.sent(db, text, 9)
    edit = outgoing.queue(db, 43, "editMessageText", {"text": "hello again"}, target=text)
    assert outgoing.claim(db, edit)
    db.close()  # killed during both calls

    db = open_db(db_url)
    unknown = outgoing.recover(db)
    assert [r.id for r in unknown] == [photo]  # logged as "may or may not have arrived"
    assert outgoing.get(db, photo).state == "unknown" and outgoing.files(db, photo) == []
    assert [r.id for r in outgoing.due(db)] == [edit]  # editing again shows nothing twice
    assert not outgoing.claim(db, photo)
    assert outgoing.recover(db) == []
    db.close()


def test_a_chats_messages_keep_their_order_and_other_chats_go_on(
    db: Database,
) -> None:

    checking = outgoing.queue(db, 42, "sendMessage", {"text": "Checking..."}, now=T0)
    verdict = outgoing.queue(
        db, 42, "editMessageText", {"text": "OLD"}, target=checking, reply_to=5, now=T0
    )
    other = outgoing.queue(db, 77, "sendMessage", {"text": "/start"}, now=T0)
    assert [r.id for r in outgoing.due(db, now=T0)] == [checking, other]
    assert outgoing.claim(db, checking, now=T0)
    outgoing.refused(db, checking, "429", retry_in_s=30, now=T0)
    # The verdict waits behind "Checking..." in its chat; the other chat is not held up.
    assert [r.id for r in outgoing.due(db, now=at(1))] == [other]
    assert outgoing.next_due_at(db) is not None
    assert [r.id for r in outgoing.due(db, now=at(30))] == [checking, other]
    assert outgoing.claim(db, checking, now=at(30)) and outgoing.sent(db, checking, 11)
    assert [r.id for r in outgoing.due(db, now=at(31))] == [verdict, other]
    # An edit Telegram cannot make becomes a new message, replying to the old one.
    assert outgoing.claim(db, verdict, now=at(31))
    assert outgoing.send_instead(db, verdict)
    assert outgoing.get(db, verdict).method == "sendMessage"


def test_pending_and_sent_deliveries_of_an_older_version_carry_over(db_path: Path) -> None:
    old = raw_sqlite(db_path)
    migrate(old, target=6)
    media_id, _ = add_media(old, make_fp(1))
    alert = add_alert(old, "repost", {"matched_media_id": media_id})
    old.execute(
        "INSERT INTO deliveries (outbox_id, chat_id, message_id, state, attempts, created_at, "
        "sent_at) VALUES (?, 10, 700, 'sent', 0, '2026-12-01T00:00:00+00:00', "
        "'2026-12-01T00:00:01+00:00'), (?, 20, NULL, 'failed', 8, "
        "'2026-12-01T00:00:00+00:00', NULL), (?, 30, NULL, 'pending', 2, "
        "'2026-12-01T00:00:00+00:00', NULL)",
        [alert, alert, alert],
    )
    old.close()

    db = open_db(db_path)
    assert "deliveries" not in db.table_names()
    rows = deliveries_of(db, alert)
    assert [(d.chat_id, d.state, d.message_id) for d in rows] == [
        (10, "sent", 700),
        (20, "pending", None),  # given up after 8 tries by the old sender: tried again
        (30, "pending", None),
    ]
    assert [r.chat_id for r in outgoing.due(db)] == [20, 30]
    db.close()
