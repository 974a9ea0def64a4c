"""The bot's message catalogue: complete in every language, formattable, RTL-safe."""

from __future__ import annotations

import html
import re

import pytest

from bot import i18n, plurals
from bot.i18n import FSI, LANGUAGES, PDI, RLM, RTL, UNTRANSLATED, isolate, pick_language, t

REQUIRED_KEYS = [
    "start",
    "help",
    "language_prompt",
    "language_set",
    "verdict_old",
    "clip_title",
    "clip_shows",
    "first_source",
    "fact_check_link",
    "match_details",
    "mirrored_note",
    "seen_before",
    "forwarded_from",
    "no_match",
    "key_frames_caption",
    "checking",
    "too_big",
    "not_media",
    "bad_file",
    "link_unsupported",
    "link_failed",
    "rate_limited",
    "identified_later",
    "not_allowed",
    "admin_only",
    "alert_repost",
    "alert_post_line",
    "alert_feed_down",
    "alert_feed_up",
    "button_confirm",
    "button_not_match",
    "button_mute",
    "feedback_thanks",
    "subscribed",
    "unsubscribed",
    "subscriptions_list",
    "subscriptions_none",
    "add_usage",
    "add_ask_title",
    "add_ask_date",
    "add_ask_source",
    "add_ask_description",
    "add_done",
    "add_cancelled",
    "bad_date",
    "clip_card",
    "clip_not_found",
    "clip_removed",
    "stats",
    "feeds_list",
    "feed_added",
    "feed_removed",
    "trusted",
    "untrusted",
    "error_generic",
    "too_big_unknown",
    "file_unavailable",
    "download_failed",
    "button_unknown",
    "clip_usage",
    "subscribe_bad_min",
]

# A value for every placeholder the catalogue uses (already HTML-escaped, as callers must).
SAMPLES = {
    "first_seen": "2017-06-20",
    "title": html.escape("Airstrike on a market <Aleppo>"),
    "description": "A market in Aleppo after an airstrike, 2016",
    "url": "https://example.org/post/1?a=1&amp;b=2",
    "source": "@aleppo_news",
    "rating": "Misleading",
    "claim": html.escape("Syrian rebels threaten Hamas <today>"),
    "query_start": "0:03",
    "query_end": "0:10",
    "clip_start": "1:02",
    "clip_end": "1:09",
    "frames": 42,
    "score": "0.93",
    "where": "@some_channel",
    "when": "2024-05-01 14:03 UTC",
    "channel": "@some_channel",
    "date": "2024-05-01",
    "count": 1234,
    "size_mb": "48.2",
    "reason": "the file is empty (0 bytes)",
    "seconds": 30,
    "asked_at": "2024-05-01",
    "lines": "• one\n• two",
    "feed": "telegram:@some_channel",
    "clip_id": 17,
    "value": "yesterday",
    "reposts": 5,
    "added_by": "@checker",
    "added_at": "2024-05-02",
    "clips": 812,
    "sightings": 90211,
    "confirmed": 40,
    "not_a_match": 3,
    "muted": 1,
    "error": "HTTP 503",
    "user": "@checker",
    "command": "/clip",
    "what": "the picture and the sound",
    "how": "the picture",
}

ALLOWED_TAG = re.compile(r'</?(b|i)>|<a href="[^"<>]*">|</a>')


def test_required_keys_exist_in_every_language() -> None:
    for lang in LANGUAGES:
        catalogue = i18n.CATALOGUE[lang]
        missing = set(REQUIRED_KEYS) - set(catalogue) - UNTRANSLATED.get(lang, frozenset())
        assert not missing, (lang, sorted(missing))


def test_every_key_is_translated() -> None:
    """Arabic falls back to English only for keys listed as not yet translated (none now)."""
    for lang in LANGUAGES:
        untranslated = set(i18n.CATALOGUE["en"]) - set(i18n.CATALOGUE[lang])
        assert untranslated <= UNTRANSLATED.get(lang, frozenset()), (lang, untranslated)
        assert not set(i18n.CATALOGUE[lang]) - set(i18n.CATALOGUE["en"])
    assert UNTRANSLATED["ar"] == frozenset()


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_message_formats_with_its_placeholders(lang: str) -> None:
    for key in i18n.CATALOGUE["en"]:
        needed = i18n.placeholders(lang, key)
        assert needed == i18n.placeholders("en", key), (lang, key)  # same values in every lang
        assert needed <= set(SAMPLES), (key, needed - set(SAMPLES))
        text = t(lang, key, **{name: SAMPLES[name] for name in needed})
        assert text.strip()
        assert "{" not in text and "}" not in text, (lang, key)
        for name in needed:
            assert str(SAMPLES[name]) in text, (lang, key, name)


def test_placeholders_have_no_format_specs() -> None:
    for lang in LANGUAGES:
        for key in i18n.CATALOGUE[lang]:
            for text in i18n.texts(lang, key):
                assert not re.search(r"\{[^}]*[:!][^}]*\}", text), (lang, key)


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_messages_are_valid_telegram_html(lang: str) -> None:
    for key in i18n.CATALOGUE["en"]:
        text = t(lang, key, **SAMPLES)
        bare = ALLOWED_TAG.sub("", text)
        assert "<" not in bare and ">" not in bare, (lang, key, bare)
        assert not re.search(r"&(?!(amp|lt|gt|quot|#\d+);)", bare), (lang, key)
        for tag in ("b", "i", "a"):
            assert text.count(f"<{tag}>") + text.count(f"<{tag} ") == text.count(f"</{tag}>")


def test_url_only_inside_href() -> None:
    for lang in LANGUAGES:
        for key in i18n.CATALOGUE[lang]:
            for text in i18n.texts(lang, key):
                assert text.count("{url}") == text.count('href="{url}"'), (lang, key)


def test_unknown_key_raises_and_missing_value_raises() -> None:
    with pytest.raises(KeyError):
        t("en", "no_such_key")
    with pytest.raises(KeyError):
        t("ar", "verdict_olld", first_seen="2017")
    with pytest.raises(KeyError):
        t("en", "verdict_old")  # first_seen missing


def test_missing_translation_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    arabic = dict(i18n.CATALOGUE["ar"])
    del arabic["checking"]
    monkeypatch.setitem(i18n.CATALOGUE, "ar", arabic)
    assert t("ar", "checking") == t("en", "checking")
    assert t("fr", "checking") == t("en", "checking")  # an unknown language too


def test_english_text() -> None:
    assert t("en", "verdict_old", first_seen="2017-06-20") == (
        "⚠️ <b>Old footage: this matches a clip first published on 2017-06-20.</b>"
    )
    assert t("en", "too_big", size_mb="48.2").startswith("This file is 48.2 MB;")
    assert "/language" in t("en", "help") and "/stats" in t("en", "help")
    assert FSI not in t("en", "verdict_old", first_seen="2017-06-20")


@pytest.mark.parametrize(
    ("stored", "code", "expected"),
    [
        ("ar", "en-US", "ar"),
        ("en", "ar", "en"),
        (None, "ar-EG", "ar"),
        (None, "ar", "ar"),
        (None, "AR_sa", "ar"),
        (None, "en-GB", "en"),
        (None, "fr", "en"),
        (None, None, "en"),
        (None, "", "en"),
        ("xx", "ar-EG", "ar"),  # a stored language no longer supported
        ("xx", None, "en"),
    ],
)
def test_pick_language(stored: str | None, code: str | None, expected: str) -> None:
    assert pick_language(stored, code) == expected


def test_isolate() -> None:
    assert isolate("2017-06-20") == "\u20682017-06-20\u2069"


def test_arabic_values_are_isolated() -> None:
    assert "ar" in RTL and "en" not in RTL
    text = t("ar", "verdict_old", first_seen="2017-06-20")
    assert isolate("2017-06-20") in text
    details = t("ar", "match_details", **SAMPLES)
    for name in ("query_start", "query_end", "clip_start", "clip_end", "frames", "score"):
        assert isolate(str(SAMPLES[name])) in details
    assert isolate("1234") in t("ar", "no_match", count=1234)
    # URLs in href stay bare (an isolate would break the link); the visible text is isolated.
    line = t(
        "ar", "alert_post_line", url="https://example.org/a", source="@chan", score="0.9", how="x"
    )
    assert 'href="https://example.org/a"' in line and isolate("@chan") in line
    # Blocks of lines are not wrapped: each line is its own message.
    block = t("ar", "feeds_list", lines="• one\n• two")
    assert "• one\n• two" in block and FSI not in block
    assert text.count(FSI) == text.count(PDI)


def test_arabic_lines_start_right_to_left() -> None:
    for key in i18n.CATALOGUE["ar"]:
        for line in t("ar", key, **SAMPLES).split("\n"):
            if line and not line.startswith("•"):  # "•" lines come from the lines sample
                assert line.startswith(RLM), (key, line)
    assert "ا" in t("ar", "start")  # really Arabic


def test_clock() -> None:
    assert i18n.clock(7.2) == "0:07"
    assert i18n.clock(750) == "12:30"
    assert i18n.clock(3723) == "1:02:03"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_answers_and_alerts_point_to_the_existing_debunk(lang: str) -> None:
    from bot.alerts import render
    from bot.ports import Finding
    from bot.public import verdict_text
    from storage import OutboxItem

    url = "https://misbar.example/factcheck/1?a=1&b=2"
    finding = Finding(
        media_id=1, score=0.9, query_start=0, query_end=10, ref_start=0, ref_end=10, frames=40,
        mirrored=False, best_pair=(1.0, 1.0), clip_id=7, title="Chair", first_seen="2017-06-20",
        source="https://frontline.example/a", verdict_url=url, rating="Misleading",
        claim="Shelling of <Rafah> this week",
    )  # fmt: skip
    answer = verdict_text(lang, finding)
    alert = OutboxItem(
        id=3, kind="repost", group_key="media:1", count=1, created_at="", updated_at="",
        delivered_at=None, attempts=0, next_attempt_at=None,
        payload={"clip_title": "Chair", "first_seen": "2017-06-20", "posts": [],
                 "verdict_url": url, "rating": "Misleading", "claim": finding.claim},
    )  # fmt: skip
    text, _ = render(alert, lang)
    for shown in (answer, text):
        assert 'href="https://misbar.example/factcheck/1?a=1&amp;b=2"' in shown
        # Arabic wraps values in direction isolates (U+2068 ... U+2069).
        assert re.search("<b>\u2068?Misleading\u2069?</b>", shown)
        assert "Shelling of &lt;Rafah&gt; this week" in shown  # escaped, never markup


@pytest.mark.parametrize(
    ("n", "category"),
    [(0, "zero"), (1, "one"), (2, "two"), (3, "few"), (10, "few"), (11, "many"), (99, "many"),
     (100, "other"), (101, "other"), (102, "other"), (103, "few"), (111, "many"), (1000, "other")],
)  # fmt: skip
def test_arabic_plural_categories_follow_cldr(n: int, category: str) -> None:
    assert plurals.category("ar", n) == category


def test_counted_messages_agree_with_their_number() -> None:
    """ "Not found in the archive of 1 clips" was the bug; Arabic has six forms."""
    assert "in the archive of 1 clip.</b>" in t("en", "no_match", count=1)
    assert "in the archive of 0 clips.</b>" in t("en", "no_match", count=0)
    assert "in the archive of 812 clips.</b>" in t("en", "no_match", count=812)
    assert "(1 frame agrees, score" in t("en", "match_details", **{**SAMPLES, "frames": 1})
    assert "(42 frames agree, score" in t("en", "match_details", **SAMPLES)
    arabic = {n: t("ar", "no_match", count=n) for n in (0, 1, 2, 3, 11, 100)}
    assert "لا يضم أي مقطع بعد" in arabic[0]
    assert "يضم مقطعًا واحدًا" in arabic[1]
    assert "يضم مقطعين" in arabic[2]
    assert f"يضم {isolate('3')} مقاطع" in arabic[3]
    assert f"يضم {isolate('11')} مقطعًا" in arabic[11]
    assert f"يضم {isolate('100')} مقطع." in arabic[100]
    assert len(set(arabic.values())) == 6
    # Every form keeps the rest of the message
    assert all("TinEye" in text for text in arabic.values())


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_answers_and_alerts_say_which_signals_agreed(lang: str) -> None:
    from dataclasses import replace

    from bot.alerts import render
    from bot.ports import Finding
    from bot.public import verdict_text
    from storage import OutboxItem

    both = Finding(
        media_id=1, score=0.95, query_start=0, query_end=10, ref_start=0, ref_end=10, frames=40,
        mirrored=False, best_pair=(1.0, 1.0), clip_id=7, title="Chair", first_seen="2017-06-20",
        source="https://frontline.example/a", agreement="picture_and_sound",
    )  # fmt: skip
    answer = verdict_text(lang, both)
    assert t(lang, "verdict_old", first_seen="2017-06-20") in answer
    assert t(lang, "agreement_picture_and_sound") in answer
    # The sound alone, the picture differing: said so, and never called old footage.
    sound = verdict_text(lang, replace(both, agreement="sound_only"))
    assert t(lang, "verdict_sound_only") in sound
    assert t(lang, "agreement_sound_only") in sound
    assert t(lang, "verdict_old", first_seen="2017-06-20") not in sound
    alert = OutboxItem(
        id=3, kind="repost", group_key="media:1", count=2, created_at="", updated_at="",
        delivered_at=None, attempts=0, next_attempt_at=None,
        payload={"clip_title": "Chair", "first_seen": "2017-06-20", "posts": [
            {"post_url": "https://t.me/a/1", "source": "a", "score": 0.9,
             "agreement": "picture_and_sound"},
            {"post_url": "https://t.me/b/2", "source": "b", "score": 0.8},  # before migration 11
        ]},
    )  # fmt: skip
    text, _ = render(alert, lang)
    first, second = [line for line in text.split("\n") if "t.me" in line]
    assert t(lang, "agreement_picture_and_sound") in first
    assert (
        t(lang, "agreement_picture") in second
        and t(lang, "agreement_picture_and_sound") not in second
    )
