"""`oldclip run` itself, talking to a local fake of the Telegram Bot API.

The real process starts from a config file that points the bot at the fake (``[bot]
api_base_url``), with the token in the environment; users send updates through the fake and the
tests read what the bot sent back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from bot_process import (
    CHAIR_TITLE,
    FACT_CHECKER,
    STRANGER,
    Running,
    library_template,
    running,
    texts_to,
    wait_text,
)
from fake_telegram import DEFAULT_TOKEN, visible_text
from media import CHAIR_RECUT, DOORKNOB, REPO, write_declared_huge

import storage
from bot.i18n import t

__all__ = ["library_template", "running"]  # fixtures, shared with the other bot process tests


async def test_forwarded_recut_gets_the_clip_its_date_and_a_picture(running: Running) -> None:
    tg = running.tg
    user = tg.user(42)
    origin = tg.channel_origin("frontline_clips", 1202, int(time.time()) - 3600)
    tg.send_video(user, CHAIR_RECUT, forward_origin=origin)
    text = await wait_text(tg, 42, CHAIR_TITLE)
    assert "2017-06-20" in text and "@frontline_clips" in text
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.params["chat_id"] == 42, 30)
    assert len(photo.params["photo"]) > 10_000  # a real JPEG: the side-by-side evidence
    code, err = await running.stop()
    assert code == 0 and DEFAULT_TOKEN not in err and DEFAULT_TOKEN.split(":")[1] not in err


async def test_unknown_video_gets_the_honest_answer_and_key_frames(running: Running) -> None:
    tg = running.tg
    tg.send_video(tg.user(43), DOORKNOB)
    text = await wait_text(tg, 43, "Not found in the archive of 1 clip.")
    await tg.wait_for(lambda c: c.method == "sendMediaGroup" and c.params["chat_id"] == 43, 30)
    assert "does not prove it is new" in text and CHAIR_TITLE not in text


async def test_hostile_files_neither_stop_the_service_nor_spoil_other_checks(
    running: Running,
) -> None:
    """300 kB of junk used to end `oldclip run` (exit 0) and fail the checks it shared the
    decoding pool with; a 1 kB file declaring 16000x16000 pixels cost ~800 MB to refuse."""
    tg = running.tg
    tg.send_video(tg.user(47), np.random.default_rng(10).bytes(300_000))
    tg.send_video(tg.user(48), CHAIR_RECUT)  # decoded at the same time as the junk
    refused = await wait_text(tg, 47, "I could not read this file")
    assert "not a photo or video oldclip can read" in refused
    answer = await wait_text(tg, 48, CHAIR_TITLE)
    assert "2017-06-20" in answer
    huge = write_declared_huge(running.folder / "huge.mov")
    tg.send_document(tg.user(49), huge, "video/quicktime", "huge.mov")
    refused = await wait_text(tg, 49, "I could not read this file")
    assert "too large (16000x16000 pixels)" in refused
    await asyncio.sleep(1.0)
    assert running.process is not None and running.process.returncode is None
    tg.send_video(tg.user(50), DOORKNOB)  # still answering, and correctly
    await wait_text(tg, 50, "Not found in the archive of 1 clip.")
    code, log = await running.stop()
    assert code == 0 and "Traceback" not in log


async def test_arabic_speaker_is_answered_in_arabic(running: Running) -> None:
    tg = running.tg
    tg.send_text(tg.user(44, language_code="ar"), "/start")
    deadline = time.monotonic() + 30
    while not texts_to(tg, 44) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    (text,) = texts_to(tg, 44)
    assert any("\u0600" <= ch <= "\u06ff" for ch in text)


async def test_file_over_20_mb_gets_the_clear_answer(running: Running) -> None:
    tg = running.tg
    big = tg.add_file(CHAIR_RECUT, file_size=25_000_000)
    tg.send_video(tg.user(45), big)
    text = await wait_text(tg, 45, "25")
    assert "20" in text
    downloads = [c for c in tg.calls if c.method == "getFile"]
    assert all(c.params["file_id"] != big["file_id"] for c in downloads)


async def test_stranger_cannot_subscribe_and_fact_checker_feedback_is_stored(
    running: Running,
) -> None:
    tg = running.tg
    tg.send_text(tg.user(STRANGER), "/subscribe")
    await tg.wait_for(lambda c: c.params.get("chat_id") == STRANGER, 30)
    db_path = running.folder / "library.db"
    db = storage.open_db(db_path)
    assert storage.all_subscriptions(db) == []

    tg.send_text(tg.user(FACT_CHECKER), "/subscribe")
    await tg.wait_for(lambda c: c.params.get("chat_id") == FACT_CHECKER, 30)
    assert [s.user_id for s in storage.all_subscriptions(db)] == [FACT_CHECKER]

    clip = storage.list_clips(db)[0]
    alert_id = storage.add_alert(
        db,
        "repost",
        {
            "matched_media_id": clip.media_id,
            "clip_id": clip.id,
            "clip_title": CHAIR_TITLE,
            "first_seen": "2017-06-20",
            "posts": [{"post_url": "https://t.me/x/1", "source": "telegram", "score": 0.9}],
        },
        group_key=f"media:{clip.media_id}",
    )
    alert = await tg.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params["chat_id"] == FACT_CHECKER
            and CHAIR_TITLE in c.params.get("text", "")
        ),
        30,
    )
    message = tg.last_message(FACT_CHECKER)
    assert "reply_markup" in message and alert.params["reply_markup"]

    tg.press_button(tg.user(STRANGER), message, f"fb:{alert_id}:n")  # someone else's client
    await tg.wait_for(lambda c: c.method == "answerCallbackQuery", 30)
    assert storage.feedback_counts(db).get("not_a_match", 0) == 0

    tg.press_button(tg.user(FACT_CHECKER), message, f"fb:{alert_id}:n")
    deadline = time.monotonic() + 30
    while storage.feedback_counts(db).get("not_a_match", 0) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert storage.feedback_counts(db)["not_a_match"] == 1
    assert storage.is_not_a_match(db, "https://t.me/x/1", clip.media_id)


async def test_alert_survives_a_429_and_a_restart(running: Running) -> None:
    tg = running.tg
    db = storage.open_db(running.folder / "library.db")
    storage.subscribe(db, FACT_CHECKER, FACT_CHECKER)
    code, _ = await running.stop()  # the alert is queued while the bot is down
    assert code == 0
    clip = storage.list_clips(db)[0]
    alert_id = storage.add_alert(
        db,
        "repost",
        {
            "matched_media_id": clip.media_id,
            "clip_title": CHAIR_TITLE,
            "first_seen": "2017-06-20",
            "posts": [{"post_url": "https://t.me/y/2", "source": "telegram", "score": 0.8}],
        },
    )
    tg.fail_next("sendMessage", status=429, retry_after=2, chat_id=FACT_CHECKER)
    await running.start()

    def attempts() -> int:
        return sum(
            1
            for c in tg.calls
            if c.method == "sendMessage" and "https://t.me/y/2" in str(c.params.get("text"))
        )

    deadline = time.monotonic() + 60
    while attempts() < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    refused_at = time.monotonic()  # the first try was answered 429, retry after 2 s
    while attempts() < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert attempts() == 2, "the alert was not sent again after the 429"
    assert time.monotonic() - refused_at >= 1.5  # it waited as Telegram asked
    deadline = time.monotonic() + 10
    while storage.deliveries_of(db, alert_id)[0].state != "sent" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert storage.deliveries_of(db, alert_id)[0].state == "sent"


async def test_language_button_switches_to_arabic(running: Running) -> None:
    tg = running.tg
    user = tg.user(46)
    tg.send_text(user, "/language")
    await tg.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == 46, 30)
    tg.press_button(user, tg.last_message(46), "lang:ar")
    await tg.wait_for(lambda c: c.method == "editMessageText" and c.params["chat_id"] == 46, 30)
    tg.send_text(user, "/help")
    text = await wait_text(tg, 46, "/subscribe")
    assert any("\u0600" <= ch <= "\u06ff" for ch in text)  # English Telegram, Arabic chosen


async def test_without_a_token_the_watchers_run_and_the_bot_is_said_off(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[library]\ndatabase = "{tmp_path / "library.db"}"\n')
    env = {k: v for k, v in os.environ.items() if k != "OLDCLIP_BOT_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oldclip", "--config", str(config), "run",
        cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    first = await asyncio.wait_for(process.stderr.readline(), 60)
    assert b"bot is OFF" in first and b"OLDCLIP_BOT_TOKEN" in first
    await asyncio.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0 and b"stopped" in err


async def test_watchers_find_a_repost_and_the_alert_comes_with_a_picture(
    running: Running, feed_server
) -> None:
    tg = running.tg
    db = storage.open_db(running.folder / "library.db")
    storage.subscribe(db, FACT_CHECKER, FACT_CHECKER)
    await running.stop()
    running.extra_config = (
        '[network]\nallowed_networks = ["127.0.0.0/8"]\n'
        f'[[feeds]]\nkind = "mastodon"\ntarget = "{feed_server.url("/feeds/mastodon_tag.json")}"\n'
        'label = "syria"\n'
    )
    await running.start()
    alert = await tg.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params["chat_id"] == FACT_CHECKER
            and CHAIR_TITLE in str(c.params.get("text"))
        ),
        120,
    )
    assert "mastodon.example" in alert.params["text"] and alert.params["reply_markup"]
    photo = await tg.wait_for(
        lambda c: c.method == "sendPhoto" and c.params["chat_id"] == FACT_CHECKER, 60
    )
    assert len(photo.params["photo"]) > 10_000
    code, log = await running.stop()
    assert code == 0 and DEFAULT_TOKEN not in log
    alerts = [
        c for c in tg.calls
        if c.method == "sendMessage" and CHAIR_TITLE in str(c.params.get("text"))
    ]  # fmt: skip
    assert len(alerts) == 1  # one alert for the clip, however many posts


async def test_long_answers_fit_and_no_check_is_left_checking(running: Running) -> None:
    """A clip whose fields are at /add's limits is answered within Telegram's 4,096 characters
    (counted after HTML parsing) with its verdict and date; a file Telegram no longer has, and
    one it will not hand out, are answered too: no "Checking..." stays behind."""
    tg = running.tg
    db = storage.open_db(running.folder / "library.db")
    clip = storage.list_clips(db)[0]
    long_text = "Not from this war: filmed in 2016 & shared since <then> 🔥 " * 35  # 2,000
    with db.conn:
        db.execute(
            "UPDATE clips SET title = ?, description = ?, source = ? WHERE id = ?",
            [("A <very> long title & more 📼 " * 11)[:300], long_text, long_text, clip.id],
        )
    tg.send_video(tg.user(47), CHAIR_RECUT)
    ghost = {"file_id": "BAAC0000gone", "file_unique_id": "AgADgone", "file_size": 5000}
    tg.send_video(tg.user(48), ghost)
    tg.send_video(tg.user(49), tg.add_file(CHAIR_RECUT, file_size=30_000_000, size_declared=False))
    await tg.wait_for(lambda c: c.method == "sendPhoto" and c.params["chat_id"] == 47, 60)
    for user_id, expected in ((48, "file_unavailable"), (49, "too_big_unknown")):
        await wait_text(tg, user_id, t("en", expected), timeout=30)

    def shown(user_id: int) -> list[str]:  # what each chat shows now, as last edited
        return [
            str(m.get("text") or m.get("caption") or "")
            for (chat, _), m in tg.messages.items()
            if chat == user_id and m["from"]["is_bot"]
        ]

    answer = next(text for text in shown(47) if "2017-06-20" in text)
    visible = visible_text(answer, "HTML")
    assert len(visible.encode("utf-16-le")) // 2 <= 4096
    assert "Old footage" in visible and "A <very> long title" in visible and "…" in visible
    for user_id in (47, 48, 49):
        assert t("en", "checking") not in shown(user_id)
        assert t("en", "error_generic") not in shown(user_id)
