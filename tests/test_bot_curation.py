"""Fact-checkers curating the library from Telegram: /add (a dialogue), /clip and /remove.

End to end like test_bot_e2e (whose fixtures and helpers this module reuses): the real
`oldclip run` process against the fake Bot API, with the chair clip already in the library.
"""

from __future__ import annotations

import asyncio
import time

import bot_process as e2e
from bot_process import FACT_CHECKER, STRANGER, Running, texts_to
from fake_telegram import FakeTelegram, Json
from media import PATTERN, VIDEOS

import storage

# The running `oldclip run` and its library (holding the chair clip), as in bot_process.
library_template = e2e.library_template
running = e2e.running

PATTERN_RECUT = VIDEOS / "pattern-sd-with-small-logo-bar.mp4"
PATTERN_LONGER = VIDEOS / "pattern-longer-no-bar.mp4"
NEWSROOM = {"id": -100777, "type": "supergroup", "title": "Newsroom"}
ASKER = 42

# Fragments of the catalogue's English texts (bot/i18n.py).
ASK_TITLE = "What is the clip's title?"
ASK_DATE = "When was it first published?"
ASK_SOURCE = "earliest known publication"
ASK_DESCRIPTION = "What does it actually show"
ASK_VERDICT = "link to the fact-check"
BAD_DATE = "is not a date I understand"
ADDED = "Added to the library as clip #"
IDENTIFIED = "it has now been identified"
NOT_ALLOWED = "This command is for fact-checkers"


async def wait_count(
    tg: FakeTelegram, chat_id: int, needle: str, count: int = 1, timeout: float = 60
) -> list[str]:
    """The bot's messages to ``chat_id`` containing ``needle``, once there are ``count``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [text for text in texts_to(tg, chat_id) if needle in text]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"not {count} messages with {needle!r} to {chat_id}; got {texts_to(tg, chat_id)}"
    )


def in_chat(chat: Json | None) -> dict:
    return {"chat": chat} if chat else {}


async def add_by_dialogue(
    tg: FakeTelegram,
    user: Json,
    video: Json,
    answers: list[str],
    *,
    chat: Json | None = None,
) -> int:
    """Reply /add to ``video`` and give ``answers`` one per question; return the clip id."""
    chat_id = chat["id"] if chat else user["id"]
    asked = len([x for x in texts_to(tg, chat_id) if ASK_TITLE in x])
    added = len([x for x in texts_to(tg, chat_id) if ADDED in x])
    tg.send_text(user, "/add", reply_to_message=video["message"], **in_chat(chat))
    await wait_count(tg, chat_id, ASK_TITLE, asked + 1)
    before = len(texts_to(tg, chat_id))
    for answer in answers:
        tg.send_text(user, answer, **in_chat(chat))
        before += 1
        # wait for the bot's reply to this answer before giving the next
        deadline = time.monotonic() + 30
        while len(texts_to(tg, chat_id)) < before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    text = (await wait_count(tg, chat_id, ADDED, added + 1))[-1]
    return int(text.split("#", 1)[1].split(":", 1)[0])


async def test_stranger_cannot_add_and_nothing_is_stored(running: Running) -> None:
    tg = running.tg
    stranger = tg.user(STRANGER)
    video = tg.send_video(stranger, PATTERN)
    await tg.wait_for(lambda c: c.method == "sendMediaGroup" and c.params["chat_id"] == STRANGER)
    tg.send_text(stranger, "/add", reply_to_message=video["message"])
    await wait_count(tg, STRANGER, NOT_ALLOWED)
    tg.send_text(stranger, "A title")  # not a dialogue: no answer is taken
    tg.send_text(stranger, "/remove 1")
    tg.send_text(stranger, "/clip 1")
    await wait_count(tg, STRANGER, NOT_ALLOWED, 3)
    db = storage.open_db(running.folder / "library.db")
    assert [c.id for c in storage.list_clips(db)] == [1]  # only the chair clip
    assert not any(ASK_TITLE in text for text in texts_to(tg, STRANGER))


async def test_add_without_a_reply_or_media_explains_how(running: Running) -> None:
    tg = running.tg
    checker = tg.user(FACT_CHECKER)
    tg.send_text(checker, "/add")
    await wait_count(tg, FACT_CHECKER, "reply to the message with the video or photo")
    note = tg.send_text(checker, "just text")
    tg.send_text(checker, "/add", reply_to_message=note["message"])
    await wait_count(tg, FACT_CHECKER, "reply to the message with the video or photo", 2)
    tg.send_text(checker, "/add", reply_to_message=note["message"])
    tg.send_text(checker, "/cancel")
    await wait_count(tg, FACT_CHECKER, "Cancelled; nothing was added.")
    assert not any(ASK_TITLE in text for text in texts_to(tg, FACT_CHECKER))


async def test_fact_checker_adds_a_clip_in_a_group_then_shows_and_removes_it(
    running: Running,
) -> None:
    tg = running.tg
    checker, stranger = tg.user(FACT_CHECKER), tg.user(STRANGER)
    chat = NEWSROOM["id"]
    video = tg.send_video(checker, PATTERN, chat=NEWSROOM)
    tg.send_text(checker, "/add", reply_to_message=video["message"], chat=NEWSROOM)
    await wait_count(tg, chat, ASK_TITLE)
    tg.send_text(checker, "Test pattern <studio>", chat=NEWSROOM)
    await wait_count(tg, chat, ASK_DATE)
    # Someone else talking in the group meanwhile is not an answer to the dialogue.
    tg.send_text(stranger, "2001-01-01", chat=NEWSROOM)
    tg.send_text(checker, "20/06/2016", chat=NEWSROOM)
    (bad,) = await wait_count(tg, chat, BAD_DATE)
    assert "20/06/2016" in bad
    await wait_count(tg, chat, ASK_DATE, 2)  # asked again
    tg.send_text(checker, "2016-06-20", chat=NEWSROOM)
    await wait_count(tg, chat, ASK_SOURCE)
    tg.send_text(checker, "https://example.org/pattern", chat=NEWSROOM)
    await wait_count(tg, chat, ASK_DESCRIPTION)
    tg.send_text(checker, "A test card filmed in a studio in 2016.", chat=NEWSROOM)
    await wait_count(tg, chat, ASK_VERDICT)
    tg.send_text(checker, "https://factcheck.example.org/pattern", chat=NEWSROOM)
    (done,) = await wait_count(tg, chat, ADDED)
    assert "Test pattern &lt;studio&gt;" in done
    assert not any(BAD_DATE in text for text in texts_to(tg, chat) if "2001-01-01" in text)

    db = storage.open_db(running.folder / "library.db")
    clip_id = int(done.split("#", 1)[1].split(":", 1)[0])
    clip = storage.get_clip(db, clip_id)
    assert clip is not None and clip.title == "Test pattern <studio>"
    assert clip.first_seen == "2016-06-20"
    assert clip.source == "https://example.org/pattern"
    assert clip.description == "A test card filmed in a studio in 2016."
    assert clip.verdict_url == "https://factcheck.example.org/pattern"
    assert clip.added_by == f"telegram:{FACT_CHECKER}"
    media = storage.get_media(db, clip.media_id)
    assert media is not None and media.path  # an archived copy, for evidence pictures

    tg.send_text(checker, f"/clip {clip_id}", chat=NEWSROOM)
    (card,) = await wait_count(tg, chat, f"Clip #{clip_id}:")
    assert "Test pattern &lt;studio&gt;" in card and "2016-06-20" in card
    assert "https://example.org/pattern" in card and "Reposts caught: 0" in card

    # The clip now matches: a viewer sending the re-cut gets its provenance.
    tg.send_video(tg.user(77), PATTERN_RECUT)
    await wait_count(tg, 77, "Test pattern &lt;studio&gt;")

    tg.send_text(checker, f"/remove {clip_id}", chat=NEWSROOM)
    await wait_count(tg, chat, f"Clip #{clip_id} (Test pattern &lt;studio&gt;) has been removed")
    assert storage.get_clip(db, clip_id) is None
    tg.send_text(checker, f"/clip {clip_id}", chat=NEWSROOM)
    await wait_count(tg, chat, f"There is no clip #{clip_id}")
    tg.send_text(checker, f"/remove {clip_id}", chat=NEWSROOM)
    await wait_count(tg, chat, f"There is no clip #{clip_id}", 2)


async def test_asker_is_told_once_when_the_footage_is_identified(running: Running) -> None:
    tg = running.tg
    asker, checker = tg.user(ASKER, language_code="ar"), tg.user(FACT_CHECKER)
    question = tg.send_video(asker, PATTERN_RECUT)
    await tg.wait_for(lambda c: c.method == "sendMediaGroup" and c.params["chat_id"] == ASKER, 60)
    db = storage.open_db(running.folder / "library.db")
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and not db.execute("SELECT 1 FROM questions WHERE user_id = ?", [ASKER]).fetchone()
    ):
        await asyncio.sleep(0.05)
    asked = len(texts_to(tg, ASKER))

    answers = ["Test pattern", "2016-06-20", "https://example.org/pattern", "-", "-"]
    video = tg.send_video(checker, PATTERN)
    clip_id = await add_by_dialogue(tg, checker, video, answers)
    told = await tg.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params["chat_id"] == ASKER
            and "reply_parameters" in c.params
        ),
        60,
    )
    text = told.params["text"]
    assert "تحديث" in text and "Test pattern" in text and "2016-06-20" in text  # in Arabic
    assert told.params["reply_parameters"]["message_id"] == question["message"]["message_id"]
    clip = storage.get_clip(db, clip_id)
    assert clip is not None and clip.description is None and clip.verdict_url is None

    # The same footage added again, and another clip of the same scene: nobody is told twice.
    again = await add_by_dialogue(tg, checker, tg.send_video(checker, PATTERN), answers)
    assert again == clip_id
    longer = tg.send_video(checker, PATTERN_LONGER)
    other = await add_by_dialogue(tg, checker, longer, ["Longer pattern", *answers[1:]])
    assert other != clip_id
    await asyncio.sleep(1.0)
    updates = texts_to(tg, ASKER)[asked:]
    assert len(updates) == 1, updates
    # The fact-checker is not told about the video they sent themselves.
    assert not any(IDENTIFIED in text for text in texts_to(tg, FACT_CHECKER))
    row = db.execute(
        "SELECT answered_clip_id, notified_at FROM questions WHERE user_id = ?", [ASKER]
    ).fetchone()
    assert row[0] == clip_id and row[1] is not None
