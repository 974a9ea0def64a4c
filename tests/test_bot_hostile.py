"""Hostile and malformed updates: whatever comes in, the person gets a clear, short answer.

In process (the real Application, oldclip's real Checker and library, one worker process)
against the fake Bot API, which checks Telegram's HTML and its 4,096/1,024 limits the way
Telegram counts them.  Each test sends what a careless or hostile client can send and asserts
what the person sees, and that no "Checking..." is left behind.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import bot_process as e2e
import pytest
from bot_process import ADMIN, CHAIR_TITLE, FACT_CHECKER
from fake_telegram import DEFAULT_TOKEN, FakeTelegram, Json, visible_text
from media import CHAIR_RECUT
from PIL import Image

import storage
from bot.alerts import render
from bot.app import run_bot
from bot.deps import Deps
from bot.i18n import t
from bot.settings import BotSettings
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.run import LibraryChecker
from oldclip.workers import media_workers
from storage.outbox import OutboxItem

library_template = e2e.library_template

GROUP = {"id": -100321, "type": "supergroup", "title": "Newsroom"}
LONG_TITLE = "Strike on a <market> & 🚀 " * 12  # 300 characters, as /add allows
LONG_TEXT = "Filmed in 2016, not today; “this” & <that> 🔥 " * 45  # 2,000 characters each


class FailingChecker(LibraryChecker):
    """oldclip's Checker whose matching breaks (a bug, a corrupt index): a forced failure."""

    async def check(self, path: Path, *, keep: bool):
        raise RuntimeError("the index is corrupt")


@dataclass
class Bot:
    tg: FakeTelegram
    deps: Deps
    folder: Path


def copy_library(template: Path, folder: Path) -> Library:
    for item in template.iterdir():
        if item.is_file():
            (folder / item.name).write_bytes(item.read_bytes())
    return Library.open(load_config(None, folder / "library.db"))


@pytest.fixture
async def bot(tmp_path: Path, library_template: Path, request) -> AsyncIterator[Bot]:
    library = copy_library(library_template, tmp_path)
    checker_class = getattr(request, "param", LibraryChecker)
    async with media_workers(library.config) as workers, FakeTelegram() as tg:
        settings = BotSettings(
            token=DEFAULT_TOKEN,
            api_base_url=tg.base_url,
            fact_checkers=(FACT_CHECKER,),
            admins=(ADMIN,),
            requests_per_minute=600.0,
        )
        deps = Deps(db=library.db, checker=checker_class(library, workers), settings=settings)
        stop = asyncio.Event()
        task = asyncio.create_task(run_bot(deps, stop))
        await tg.wait_for("getUpdates", 30)
        try:
            yield Bot(tg, deps, tmp_path)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    library.close()


def final_texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    """What the chat shows now: the bot's messages there as last edited."""
    return [
        str(m.get("text") or m.get("caption") or "")
        for (chat, _), m in sorted(tg.messages.items(), key=lambda kv: kv[0][1])
        if chat == chat_id and m["from"]["is_bot"]
    ]


async def settled(tg: FakeTelegram, chat_id: int, lang: str = "en", timeout: float = 60) -> str:
    """The text the "Checking..." message ended as (waits until it is no longer "Checking")."""
    checking = t(lang, "checking")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = final_texts(tg, chat_id)
        if texts and checking not in texts:
            await asyncio.sleep(0.3)  # anything more the bot has to say arrives too
            return final_texts(tg, chat_id)[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {final_texts(tg, chat_id)} in {chat_id}")


async def answer_to(tg: FakeTelegram, user: Json, text: str, timeout: float = 30) -> str:
    before = len(final_texts(tg, user["id"]))
    tg.send_text(user, text)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = final_texts(tg, user["id"])
        if len(texts) > before:
            return texts[before]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text!r}")


def nothing_went_wrong(tg: FakeTelegram) -> None:
    """No "Something went wrong" anywhere, in any language: every case had its own answer."""
    generic = {t(lang, "error_generic") for lang in ("en", "ar")}
    assert not [c for c in tg.calls if c.params.get("text") in generic]


# ---- answers that used to be refused by Telegram ------------------------------------------


async def test_a_long_clip_answer_arrives_within_limits_with_verdict_and_date(
    tmp_path: Path, library_template: Path
) -> None:
    """Title, description, source and claim at /add's own limits: the answer is shortened
    (not refused), keeps the verdict, the date and the debunk link, and is valid HTML."""
    library = copy_library(library_template, tmp_path)
    clip = storage.list_clips(library.db)[0]
    library.db.execute(
        "UPDATE clips SET title = ?, description = ?, source = ?, claim = ?, verdict_url = ?"
        " WHERE id = ?",
        [
            LONG_TITLE,
            LONG_TEXT,
            LONG_TEXT,
            LONG_TEXT[:300],
            "https://fc.example/x?a=1&b=2",
            clip.id,
        ],
    )
    library.db.conn.commit()
    async with media_workers(library.config) as workers, FakeTelegram() as tg:
        settings = BotSettings(
            token=DEFAULT_TOKEN, api_base_url=tg.base_url, fact_checkers=(FACT_CHECKER,)
        )
        deps = Deps(db=library.db, checker=LibraryChecker(library, workers), settings=settings)
        stop = asyncio.Event()
        task = asyncio.create_task(run_bot(deps, stop))
        try:
            for user in (tg.user(70), tg.user(71, language_code="ar")):
                origin = tg.channel_origin("frontline_clips", 1202, int(time.time()) - 60)
                tg.send_video(user, CHAIR_RECUT, forward_origin=origin)
                lang = user["language_code"]
                answer = await settled(tg, user["id"], lang)
                shown = visible_text(answer, "HTML")  # also: the HTML still parses
                assert len(shown.encode("utf-16-le")) // 2 <= 4096
                assert "2017-06-20" in shown and "@frontline_clips" in shown
                assert t(lang, "verdict_old", first_seen="2017-06-20")[:12] in answer
                assert 'href="https://fc.example/x?a=1&amp;b=2"' in answer  # link intact
                assert "…" in shown and "Strike on a <market>" in shown
            await tg.wait_for(lambda c: c.method == "sendPhoto", 30)
            card = await answer_to(tg, tg.user(FACT_CHECKER), f"/clip {clip.id}")
            shown = visible_text(card, "HTML")
            assert len(shown.encode("utf-16-le")) // 2 <= 4096
            assert f"Clip #{clip.id}" in shown and "2017-06-20" in shown
            nothing_went_wrong(tg)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    library.close()


# ---- files that cannot be fetched ------------------------------------------------------------


async def test_an_unknown_file_id_is_answered_not_left_checking(bot: Bot) -> None:
    tg = bot.tg
    ghost = {"file_id": "BAAC9999doesnotexist", "file_unique_id": "AgADghost", "file_size": 9000}
    tg.send_video(tg.user(72, language_code="ar"), ghost)
    assert await settled(tg, 72, "ar") == t("ar", "file_unavailable")
    nothing_went_wrong(tg)


async def test_a_file_over_20_mb_of_undeclared_size_is_not_called_0_mb(bot: Bot) -> None:
    tg = bot.tg
    big = tg.add_file(CHAIR_RECUT, file_size=25_000_000, size_declared=False)
    assert "file_size" not in big
    tg.send_video(tg.user(73), big)
    text = await settled(tg, 73)
    assert text == t("en", "too_big_unknown")
    assert "larger than Telegram lets bots download (20 MB)" in text and "is 0 MB" not in text


async def test_a_failed_download_is_answered_in_the_users_language(bot: Bot) -> None:
    tg = bot.tg
    tg.send_video(tg.user(74, language_code="ar"), tg.add_file(CHAIR_RECUT, broken=True))
    assert await settled(tg, 74, "ar") == t("ar", "download_failed")
    assert tg.downloads  # it was tried


@pytest.mark.parametrize("bot", [FailingChecker], indirect=True)
async def test_when_matching_raises_the_status_says_so_and_others_are_answered(bot: Bot) -> None:
    tg = bot.tg
    tg.send_video(tg.user(75, language_code="ar"), CHAIR_RECUT)
    tg.send_photo(tg.user(76), _jpeg())
    assert await settled(tg, 75, "ar") == t("ar", "error_generic")
    assert await settled(tg, 76) == t("en", "error_generic")
    assert t("en", "start")[:20] in await answer_to(tg, tg.user(77), "/start")


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


# ---- hostile messages and values ---------------------------------------------------------


async def test_a_video_with_no_sender_gets_its_verdict(bot: Bot) -> None:
    """Sent on behalf of a chat (an anonymous admin): no user, still a person to answer."""
    tg = bot.tg
    tg.send_video(tg.user(78), CHAIR_RECUT, chat=GROUP, sender_chat=GROUP)
    text = await settled(tg, GROUP["id"])
    assert CHAIR_TITLE in text and "2017-06-20" in text
    tg.send_text(tg.user(78), "/clip 1", chat=GROUP, sender_chat=GROUP)  # nobody to trust
    deadline = time.monotonic() + 30
    while t("en", "not_allowed") not in final_texts(tg, GROUP["id"]):
        assert time.monotonic() < deadline, final_texts(tg, GROUP["id"])
        await asyncio.sleep(0.05)
    nothing_went_wrong(tg)


@pytest.mark.parametrize("name", ["..", ".", "a\0b.mp4", "x/.."])
async def test_documents_named_to_escape_the_folder_are_checked(bot: Bot, name: str) -> None:
    tg = bot.tg
    tg.send_document(tg.user(79), CHAIR_RECUT, "video/mp4", name)
    text = await settled(tg, 79)
    assert CHAIR_TITLE in text and "2017-06-20" in text


@pytest.mark.parametrize(
    "command",
    [
        "/clip 99999999999999999999999",
        "/clip ²",
        "/clip ١",
        "/clip -1",
        "/clip",
        "/remove 9223372036854775808",
        "/remove ²",
    ],
)
async def test_bad_clip_numbers_get_a_line_saying_what_to_send(bot: Bot, command: str) -> None:
    answer = await answer_to(bot.tg, bot.tg.user(FACT_CHECKER), command)
    name = command.split()[0]
    assert answer == t("en", "clip_usage", command=name)
    assert storage.count_clips(bot.deps.db) == 1
    nothing_went_wrong(bot.tg)


async def test_bad_user_ids_for_trust_get_the_usage(bot: Bot) -> None:
    for value in ("²", "99999999999999999999999", "0"):
        answer = await answer_to(bot.tg, bot.tg.user(ADMIN), f"/trust {value}")
        assert answer == t("en", "trust_usage")
    assert storage.trusted_users(bot.deps.db) == []
    nothing_went_wrong(bot.tg)


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5", "2", "0x1", "abc"])
async def test_subscribe_with_a_bad_min_is_refused_with_what_to_send(bot: Bot, value: str) -> None:
    answer = await answer_to(bot.tg, bot.tg.user(FACT_CHECKER), f"/subscribe min={value}")
    assert answer == t("en", "subscribe_bad_min")
    assert storage.all_subscriptions(bot.deps.db) == []
    assert await answer_to(bot.tg, bot.tg.user(FACT_CHECKER), "/subscribe min=0.6") == t(
        "en", "subscribed"
    )
    (sub,) = storage.all_subscriptions(bot.deps.db)
    assert sub.min_score == 0.6


@pytest.mark.parametrize(
    "data", ["fb:99999999999999999999999:c", None, "fb:1:x", "fb:²:c", "lang:zz", "nonsense"]
)
async def test_malformed_button_data_gets_a_short_notice(bot: Bot, data: str | None) -> None:
    tg = bot.tg
    checker = tg.user(FACT_CHECKER)
    tg.send_text(checker, "/language")
    await tg.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == FACT_CHECKER)
    tg.press_button(checker, tg.last_message(FACT_CHECKER), data)
    call = await tg.wait_for("answerCallbackQuery", 30)
    assert call.params.get("text") == t("en", "button_unknown")
    await asyncio.sleep(0.3)
    assert final_texts(tg, FACT_CHECKER) == [t("en", "language_prompt")]  # nothing posted
    assert not any(storage.feedback_counts(bot.deps.db).values())


async def test_add_of_a_file_telegram_no_longer_has_says_so(bot: Bot) -> None:
    tg, checker = bot.tg, bot.tg.user(FACT_CHECKER, language_code="ar")
    ghost = {"file_id": "BAAC0000vanished", "file_unique_id": "AgADvan", "file_size": 9000}
    video = tg.send_video(checker, ghost)
    tg.send_text(checker, "/add", reply_to_message=video["message"])
    for answer in ("Market", "2016-06-20", "https://example.org/m", "-", "-"):
        await asyncio.sleep(0.3)  # each answer after the bot's question
        tg.send_text(checker, answer)
    deadline = time.monotonic() + 30
    while t("ar", "file_unavailable") not in final_texts(tg, FACT_CHECKER):
        assert time.monotonic() < deadline, final_texts(tg, FACT_CHECKER)
        await asyncio.sleep(0.05)
    assert storage.count_clips(bot.deps.db) == 1
    nothing_went_wrong(tg)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_an_alert_with_long_fields_fits_one_message(lang: str) -> None:
    posts = [
        {"post_url": f"https://t.me/c/{n}", "source": "s" * 300, "score": 0.9} for n in range(10)
    ]
    payload = {"clip_title": LONG_TITLE * 10, "first_seen": "2017-06-20", "posts": posts}
    payload |= {"first_source": LONG_TEXT, "claim": LONG_TEXT, "verdict_url": "https://fc.example"}
    alert = OutboxItem(7, "repost", None, payload, 10, "", "", None, 0, None)
    text, buttons = render(alert, lang)
    assert len(visible_text(text, "HTML").encode("utf-16-le")) // 2 <= 4096
    assert "2017-06-20" in text and buttons is not None
