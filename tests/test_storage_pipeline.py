"""The durable pipeline, feeds and outbox against real SQLite files: what a user would notice
(a post never processed twice, an alert never sent twice, a dead feed reported once)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from storage_helpers import insert_old_clip, later, make_fp, matched, raw_sqlite

from storage import (
    CURRENT_VERSION,
    add_alert,
    add_clip,
    add_feed,
    add_media,
    add_sighting,
    advance,
    archive,
    due_media,
    earliest_sighting,
    fail,
    get_alert,
    get_clip,
    get_feed,
    get_post_media,
    list_clips,
    list_feeds,
    list_reposts,
    media_of_post,
    migrate,
    open_db,
    pending_alerts,
    plan_deliveries,
    record_poll_failure,
    record_poll_success,
    record_post,
    record_repost_and_alert,
    remove_clip,
    remove_feed,
    set_feed_url,
)
from storage.engine import Database

# Every test taking `db` runs on SQLite and on PostgreSQL (see conftest.py).
pytestmark = pytest.mark.both_engines


@pytest.fixture
def feed_id(db: Database) -> int:
    fid, _ = add_feed(
        db, kind="telegram", target="@news", url="https://t.me/s/news", interval_s=300, label="News"
    )
    return fid


@pytest.fixture
def clip_media(db: Database) -> int:
    """Media of a curated clip: what reposts match."""
    media_id, _ = add_media(db, make_fp(1))
    add_clip(
        db,
        media_id,
        title="Convoy, 2014",
        first_seen="2014-07-17",
        source="https://archive.org/x",
        verdict_url="https://factcheck.example/1",
    )
    return media_id


def post(
    db: Database, feed_id: int | None, n: int, media: list[dict] | None = None
) -> tuple[int, bool]:
    return record_post(
        db,
        feed_id=feed_id,
        source="telegram",
        external_id=f"news/{n}",
        post_url=f"https://t.me/news/{n}",
        author="News",
        published=datetime(2024, 5, 1, 12, n % 60, tzinfo=UTC),
        text=f"post {n}",
        forwarded_from=None,
        media=media
        if media is not None
        else [{"url": f"https://cdn.example/{n}.mp4", "kind": "video"}],
    )


def matched_item(db: Database, feed_id: int, n: int) -> int:
    """A post's media taken to 'matched', as the pipeline would."""
    post_id, _ = post(db, feed_id, n)
    return matched(db, post_id, 100 + n)


def repost_of(media_id: int, score: float = 0.9) -> dict:
    return {
        "matched_media_id": media_id,
        "score": score,
        "query_start": 0.0,
        "query_end": 2.0,
        "agreement": "picture_and_sound",
    }


# --- migration --------------------------------------------------------------------------------


def test_v2_database_migrates_to_v3_keeping_clips(db_path: Path) -> None:
    old = raw_sqlite(db_path)
    old.execute("PRAGMA foreign_keys = ON")
    assert migrate(old, target=2) == 2
    media_id, _ = add_media(old, make_fp(7))
    clip_id = insert_old_clip(old, media_id)
    assert "feeds" not in old.table_names()
    old.close()

    db = open_db(db_path)
    assert CURRENT_VERSION >= 3
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    assert {"feeds", "posts", "post_media", "reposts", "outbox"} <= set(db.table_names())
    clip = get_clip(db, clip_id)
    assert clip is not None and clip.title == "Old" and clip.media_id == media_id
    assert [c.id for c in list_clips(db)] == [clip_id]
    db.close()


# --- posts and their media --------------------------------------------------------------------


def test_post_recorded_twice_is_stored_once_with_its_media_once(db: Database, feed_id: int) -> None:
    media = [
        {"url": "https://cdn.example/a.mp4", "kind": "video", "mime": "video/mp4"},
        {"url": "https://cdn.example/b.jpg", "kind": "photo"},
    ]
    first = post(db, feed_id, 1, media)
    second = post(db, feed_id, 1, media)
    assert first[1] is True
    assert second == (first[0], False)
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    items = media_of_post(db, first[0])
    assert [(i.url, i.state, i.feed_label) for i in items] == [
        ("https://cdn.example/a.mp4", "new", "News"),
        ("https://cdn.example/b.jpg", "new", "News"),
    ]
    assert items[0].published == "2024-05-01T12:01:00+00:00"
    assert db.execute("SELECT count(*) FROM post_media").fetchone()[0] == 2


def test_too_big_media_uses_its_thumbnail_or_fails_at_once(db: Database, feed_id: int) -> None:
    post_id, _ = post(
        db,
        feed_id,
        2,
        [
            {"url": "https://t.me/news/2?single", "kind": "video", "too_big": True},
            {
                "url": "https://t.me/news/2?x",
                "kind": "video",
                "too_big": True,
                "thumbnail_url": "https://cdn.example/thumb.jpg",
            },
        ],
    )
    failed, thumb = media_of_post(db, post_id)
    assert (failed.state, failed.error) == ("failed", "too big for the web preview")
    assert (thumb.state, thumb.url, thumb.kind) == (
        "new",
        "https://cdn.example/thumb.jpg",
        "thumbnail",
    )
    assert [i.id for i in due_media(db)] == [thumb.id]


def test_due_media_respects_next_attempt_at(db: Database, feed_id: int) -> None:
    ids = [media_of_post(db, post(db, feed_id, n)[0])[0].id for n in (1, 2, 3)]
    fail(db, ids[1], "timeout", retry_in_s=600, max_attempts=5)
    assert [i.id for i in due_media(db)] == [ids[0], ids[2]]
    assert [i.id for i in due_media(db, now=later(601))] == ids  # oldest first
    assert [i.id for i in due_media(db, limit=1)] == [ids[0]]
    assert due_media(db, states=("fetched",)) == []


def test_due_media_of_one_feed_is_not_crowded_out_by_other_feeds(
    db: Database, feed_id: int
) -> None:
    other, _ = add_feed(
        db, kind="telegram", target="@other", url="https://t.me/s/other", interval_s=300
    )
    for n in range(1, 6):  # an older backlog on another feed
        post(db, other, n)
    mine = media_of_post(db, post(db, feed_id, 50)[0])[0].id
    assert [i.id for i in due_media(db, states=("new",), limit=3, feed_id=feed_id)] == [mine]
    assert mine not in [i.id for i in due_media(db, states=("new",), limit=3)]


def test_advance_is_compare_and_set(db_url: str, db: Database, feed_id: int) -> None:
    item_id = media_of_post(db, post(db, feed_id, 1)[0])[0].id
    assert advance(db, item_id, "fetched", expect="new", file_path="/tmp/1.mp4") is True
    # A second worker, or this one after a restart, that read the row as 'new' loses.
    assert advance(db, item_id, "fetched", expect="new", file_path="/tmp/other.mp4") is False
    db.close()
    reopened = open_db(db_url)
    try:
        item = get_post_media(reopened, item_id)
        assert item is not None
        assert (item.state, item.file_path) == ("fetched", "/tmp/1.mp4")
        assert [i.id for i in due_media(reopened, states=("fetched",))] == [item_id]
        with pytest.raises(ValueError):
            advance(reopened, item_id, "fingerprinted", expect="fetched", state="notified")
    finally:
        reopened.close()


def test_fail_retries_then_gives_up_at_max_attempts(db: Database, feed_id: int) -> None:
    item_id = media_of_post(db, post(db, feed_id, 1)[0])[0].id
    assert advance(db, item_id, "fetched", expect="new")
    fail(db, item_id, "decode error", retry_in_s=30, max_attempts=3)
    item = get_post_media(db, item_id)
    assert item is not None
    assert (item.state, item.attempts, item.error) == ("fetched", 1, "decode error")
    assert item.next_attempt_at is not None
    assert due_media(db) == []
    assert [i.id for i in due_media(db, now=later(31))] == [item_id]
    fail(db, item_id, "decode error", retry_in_s=60, max_attempts=3)
    fail(db, item_id, "decode error again", retry_in_s=120, max_attempts=3)
    item = get_post_media(db, item_id)
    assert item is not None
    assert (item.state, item.attempts, item.error) == ("failed", 3, "decode error again")
    assert due_media(db, now=later(10_000)) == []
    # A permanent error gives up at once.
    other = media_of_post(db, post(db, feed_id, 2)[0])[0].id
    fail(db, other, "404", retry_in_s=None, max_attempts=5)
    item = get_post_media(db, other)
    assert item is not None and item.state == "failed"


def test_archive_finishes_an_unmatched_item_once(db: Database, feed_id: int) -> None:
    item_id = media_of_post(db, post(db, feed_id, 1)[0])[0].id
    assert archive(db, item_id) is False  # still 'new'
    assert advance(db, item_id, "fetched", expect="new")
    assert advance(db, item_id, "fingerprinted", expect="fetched")
    assert archive(db, item_id) is True
    assert archive(db, item_id) is False
    item = get_post_media(db, item_id)
    assert item is not None and item.state == "notified"
    assert due_media(db) == []
    assert pending_alerts(db) == []


# --- reposts and alerts -----------------------------------------------------------------------


def test_repost_recorded_twice_makes_one_repost_and_one_alert(
    db_url: str, db: Database, feed_id: int, clip_media: int
) -> None:
    item_id = matched_item(db, feed_id, 1)
    outbox_id, created = record_repost_and_alert(db, item_id, repost_of(clip_media), window_s=3600)
    assert created is True
    # A restart that retries the step (e.g. it crashed before noting success) changes nothing.
    db.close()
    reopened = open_db(db_url)
    try:
        again = record_repost_and_alert(reopened, item_id, repost_of(clip_media), window_s=3600)
        assert again == (outbox_id, False)
        assert reopened.execute("SELECT count(*) FROM reposts").fetchone()[0] == 1
        alerts = pending_alerts(reopened)
        assert [(a.id, a.count) for a in alerts] == [(outbox_id, 1)]
        payload = alerts[0].payload
        assert payload["clip_title"] == "Convoy, 2014"
        assert payload["first_seen"] == "2014-07-17"
        assert payload["posts"] == [
            {
                "post_url": "https://t.me/news/1",
                "source": "telegram",
                "author": "News",
                "published": "2024-05-01T12:01:00+00:00",
                "score": 0.9,
                "media_id": get_post_media(reopened, item_id).media_id,
                "query_start": 0.0,
                "query_end": 2.0,
                "ref_start": None,
                "ref_end": None,
                "agreement": "picture_and_sound",
            }
        ]
        item = get_post_media(reopened, item_id)
        assert item is not None and item.state == "notified"
        (repost,) = list_reposts(reopened)
        assert (repost.post_url, repost.clip_title, repost.first_source) == (
            "https://t.me/news/1",
            "Convoy, 2014",
            "https://archive.org/x",
        )
        assert repost.outbox_id == outbox_id
    finally:
        reopened.close()


def test_reposts_within_the_window_are_grouped_into_one_alert(
    db: Database, feed_id: int, clip_media: int
) -> None:
    ids = [matched_item(db, feed_id, n) for n in (1, 2, 3)]
    results = [
        record_repost_and_alert(db, i, repost_of(clip_media, score=0.8), window_s=3600) for i in ids
    ]
    assert [created for _, created in results] == [True, False, False]
    assert len({outbox_id for outbox_id, _ in results}) == 1
    (alert,) = pending_alerts(db)
    assert alert.count == 3
    assert [p["post_url"] for p in alert.payload["posts"]] == [
        f"https://t.me/news/{n}" for n in (1, 2, 3)
    ]
    assert [r.post_url for r in list_reposts(db)] == [f"https://t.me/news/{n}" for n in (3, 2, 1)]

    # Outside the window: a new alert.
    fourth = matched_item(db, feed_id, 4)
    new_id, created = record_repost_and_alert(db, fourth, repost_of(clip_media), window_s=0)
    assert created is True and new_id != alert.id
    # Alerts created long ago are outside the window too, even while still pending.
    db.execute("UPDATE outbox SET created_at = '2020-01-01T00:00:00+00:00'")
    fifth = matched_item(db, feed_id, 5)
    newest_id, created = record_repost_and_alert(db, fifth, repost_of(clip_media), window_s=3600)
    assert created is True
    assert newest_id not in (alert.id, new_id)
    # ... and it was not appended to the older, still pending first alert.
    first = get_alert(db, alert.id)
    assert first is not None and first.count == 3
    assert [a.count for a in pending_alerts(db)] == [3, 1, 1]


def test_a_repost_joins_its_alert_even_after_it_was_sent(
    db: Database, feed_id: int, clip_media: int
) -> None:
    """One alert per clip per window (as the README says): 20 reposts within the window, the
    first one planned and sent at once, make one alert of count 20."""
    first_id, _ = record_repost_and_alert(
        db, matched_item(db, feed_id, 1), repost_of(clip_media), window_s=3600
    )
    assert plan_deliveries(db, first_id, [10]) == 1  # planned: no longer pending
    for n in range(2, 21):
        alert_id, created = record_repost_and_alert(
            db, matched_item(db, feed_id, n), repost_of(clip_media), window_s=3600
        )
        assert (alert_id, created) == (first_id, False)
    alert = get_alert(db, first_id)
    assert alert.count == 20 and len(alert.payload["posts"]) == 20
    assert pending_alerts(db) == []  # nothing new to plan: its messages get edited instead


def test_first_seen_falls_back_to_the_earliest_sighting(db: Database, feed_id: int) -> None:
    seen_media, _ = add_media(db, make_fp(50))
    add_sighting(db, seen_media, url="u2", source="rss", seen_at="2024-02-01T00:00:00+00:00")
    add_sighting(
        db, seen_media, url="u1", source="rss", seen_at="2023-01-01T00:00:00+00:00", post_url="p1"
    )
    sighting = earliest_sighting(db, seen_media)
    assert sighting is not None and sighting.url == "u1"
    assert earliest_sighting(db, 9999) is None
    record_repost_and_alert(db, matched_item(db, feed_id, 1), repost_of(seen_media), window_s=60)
    (repost,) = list_reposts(db)
    assert (repost.first_seen, repost.first_source, repost.clip_id) == (
        "2023-01-01T00:00:00+00:00",
        "p1",
        None,
    )


def test_planned_alerts_are_no_longer_pending(db: Database) -> None:
    down = add_alert(db, "feed_down", {"feed": "News", "error": "HTTP 500"}, group_key="feed:1")
    up = add_alert(db, "feed_up", {"feed": "News"}, group_key="feed:1")
    assert [a.id for a in pending_alerts(db)] == [down, up]
    assert plan_deliveries(db, down, [10]) == 1
    assert [a.id for a in pending_alerts(db)] == [up]
    with pytest.raises(ValueError):
        add_alert(db, "spam", {})


def test_removing_a_clip_still_works_after_a_repost_of_it(
    db: Database, feed_id: int, clip_media: int
) -> None:

    record_repost_and_alert(db, matched_item(db, feed_id, 1), repost_of(clip_media), window_s=60)
    (repost,) = list_reposts(db)
    assert remove_clip(db, repost.clip_id) is True
    (repost,) = list_reposts(db)
    assert (repost.clip_id, repost.matched_media_id, repost.clip_title) == (None, None, None)


# --- feeds ------------------------------------------------------------------------------------


def test_add_feed_deduplicates_and_config_updates_settings(db: Database) -> None:
    fid, created = add_feed(
        db, kind="rss", target="example.org", url="https://example.org/feed", interval_s=600
    )
    assert created is True
    again = add_feed(
        db, kind="rss", target="other", url="https://example.org/feed", interval_s=60, label="X"
    )
    assert again == (fid, False)
    feed = get_feed(db, fid)
    assert feed is not None and (feed.interval_s, feed.label, feed.target) == (
        600,
        None,
        "example.org",
    )
    add_feed(
        db,
        kind="rss",
        target="example.org",
        url="https://example.org/feed",
        interval_s=120,
        label="Example",
        language="uk",
        include=["war"],
        exclude=["ad"],
        source="config",
    )
    (feed,) = list_feeds(db)
    assert (feed.interval_s, feed.label, feed.language) == (120, "Example", "uk")
    assert (feed.include, feed.exclude, feed.source) == (["war"], ["ad"], "cli")
    with pytest.raises(TypeError):
        add_feed(db, kind="rss", target="t", url="u", interval_s=60, include="war")


def test_removing_a_feed_keeps_its_posts(db: Database, feed_id: int) -> None:
    post_id, _ = post(db, feed_id, 1)
    assert remove_feed(db, feed_id) is True
    assert remove_feed(db, feed_id) is False
    assert get_feed(db, feed_id) is None
    (item,) = media_of_post(db, post_id)
    assert (item.feed_id, item.post_url) == (None, "https://t.me/news/1")


def test_feed_down_is_reported_once_and_recovery_once(db: Database, feed_id: int) -> None:
    results = [record_poll_failure(db, feed_id, f"HTTP 50{i}", down_after=3) for i in range(5)]
    assert results == [False, False, True, False, False]
    feed = get_feed(db, feed_id)
    assert feed is not None
    assert (feed.consecutive_failures, feed.down_alerted, feed.last_error) == (5, True, "HTTP 504")
    assert record_poll_success(db, feed_id, etag='"abc"', last_modified=None, cursor="42") is True
    assert record_poll_success(db, feed_id, etag='"abd"', last_modified=None) is False
    feed = get_feed(db, feed_id)
    assert feed is not None
    assert (feed.consecutive_failures, feed.down_alerted) == (0, False)
    assert (feed.etag, feed.cursor) == ('"abd"', "42")
    assert feed.last_success_at is not None and feed.last_polled_at is not None
    # A failure run shorter than down_after after recovery reports nothing.
    assert record_poll_failure(db, feed_id, "timeout", down_after=3) is False
    assert record_poll_success(db, feed_id, etag=None, last_modified=None) is False


def test_set_feed_url_follows_a_move_but_never_merges_two_feeds(db: Database, feed_id: int) -> None:
    assert set_feed_url(db, feed_id, "https://t.me/s/news2") is True
    assert set_feed_url(db, feed_id, "https://t.me/s/news2") is False
    other, _ = add_feed(db, kind="telegram", target="@b", url="https://t.me/s/b", interval_s=60)
    assert set_feed_url(db, other, "https://t.me/s/news2") is False
    feed = get_feed(db, other)
    assert feed is not None and feed.url == "https://t.me/s/b"
