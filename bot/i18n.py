"""Every user-visible string of the bot, in English and Arabic.

Messages are Telegram HTML (the bot sends them with ``parse_mode=HTML``): they may contain
``<b>``, ``<i>`` and ``<a href="...">`` and nothing else.  **Callers must pass every value
already escaped with** ``html.escape`` (titles, channel names, reasons, user names: anything that
came from outside), or a fragment of HTML they built themselves from escaped parts (a link, a
block of lines made with :func:`t`).  Placeholders are plain ``{name}`` fields without format
specs: callers format numbers and times (see :func:`clock`) before passing them.

Arabic is right-to-left.  So that a date, a number, a URL or a Latin-script name keeps its own
order inside Arabic text, :func:`t` wraps every value in Unicode isolates (U+2068 FSI ... U+2069
PDI) when the language is in ``RTL``; the exceptions are the placeholders in ``NOT_ISOLATED``:
``url`` (only ever used inside ``href="..."``, where an isolate would break the link) and
``lines`` (a block of whole lines, each already a message of its own).  Each line of an Arabic
message also starts with U+200F RIGHT-TO-LEFT MARK, so that a line that opens with a command
(``/help``), an emoji or a value is still laid out right-to-left.

The Arabic is formal Modern Standard Arabic, with Latin digits (as most Arabic fact-checking
outlets write dates and numbers) and gender- and number-neutral phrasing where a value is
counted ("عدد المنشورات: 3" rather than a noun that would need the dual or plural agreement).
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from typing import Any

from .plurals import Plural, plural

LANGUAGES = {"en": "English", "ar": "العربية"}
DEFAULT_LANGUAGE = "en"
RTL = {"ar"}

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
RLM = "\u200f"  # RIGHT-TO-LEFT MARK

# Placeholders that t() never wraps in isolates (see the module docstring).
NOT_ISOLATED = frozenset({"url", "lines"})

# Keys that may fall back from a language to English because they are not translated yet.
UNTRANSLATED: dict[str, frozenset[str]] = {"ar": frozenset()}


def isolate(value: str) -> str:
    """``value`` between FSI and PDI, so that it keeps its own direction inside RTL text."""
    return f"{FSI}{value}{PDI}"


def pick_language(stored: str | None, telegram_code: str | None) -> str:
    """The language to answer in: the user's stored choice, else Telegram's, else English.

    ``telegram_code`` is Telegram's ``User.language_code`` (an IETF tag such as ``"ar-EG"``);
    only its primary subtag counts.
    """
    if stored in LANGUAGES:
        return stored
    if telegram_code:
        primary = telegram_code.strip().replace("_", "-").split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def clock(seconds: float) -> str:
    """A time offset as a video player shows it: ``0:07``, ``12:30``, ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fact_check_lines(
    lang: str, url: str | None, rating: str | None = None, claim: str | None = None
) -> list[str]:
    """The debunk a clip already has, the same in answers and alerts (HTML-escaped).

    Pointing to the existing fact-check is the most useful thing oldclip can say: it is
    what a fact-checker would link and what a member of the public can share.
    """
    lines = []
    if claim:
        short = claim if len(claim) <= 300 else claim[:297] + "…"
        lines.append(t(lang, "claimed_as", claim=html.escape(short)))
    if url:
        key = "fact_check_rated" if rating else "fact_check_link"
        lines.append(t(lang, key, url=html.escape(url), rating=html.escape(rating or "")))
    return lines


class _Isolated:
    """A value that formats itself between isolates."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __format__(self, spec: str) -> str:
        return isolate(format(self.value, spec))


class _Formatter(string.Formatter):
    def __init__(self, rtl: bool):
        self.rtl = rtl

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        value = super().get_value(key, args, kwargs)
        if self.rtl and key not in NOT_ISOLATED:
            return _Isolated(value)
        return value


_FORMATTERS = {False: _Formatter(rtl=False), True: _Formatter(rtl=True)}


def message(lang: str, key: str) -> str | Plural:
    """The unformatted catalogue entry of ``key`` in ``lang`` (English when not translated)."""
    if key not in CATALOGUE[DEFAULT_LANGUAGE]:
        raise KeyError(f"no message {key!r} in the catalogue")
    if lang in CATALOGUE and key in CATALOGUE[lang]:
        return CATALOGUE[lang][key]
    return CATALOGUE[DEFAULT_LANGUAGE][key]


def t(lang: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``lang``, with ``values`` (HTML-escaped by the caller) filled in.

    A key missing in ``lang`` falls back to English; an unknown key, or a placeholder without a
    value, raises KeyError.  Values are isolated for right-to-left languages.  A counted message
    takes the plural form its number needs in ``lang`` (see bot.plurals).
    """
    template = message(lang, key)
    if isinstance(template, Plural):
        # The fallback's forms are English ones: pick with the rule of the text's language.
        text_lang = lang if key in CATALOGUE.get(lang, {}) else DEFAULT_LANGUAGE
        template = template.pick(text_lang, values[template.by])
    return _FORMATTERS[lang in RTL].format(template, **values)


def texts(lang: str, key: str) -> list[str]:
    """Every text of ``key`` in ``lang``: one, or one per plural form."""
    entry = message(lang, key)
    return list(entry.forms.values()) if isinstance(entry, Plural) else [entry]


def placeholders(lang: str, key: str) -> set[str]:
    """The names of the values the message ``key`` needs in ``lang`` (in any of its forms)."""
    entry = message(lang, key)
    names = {entry.by} if isinstance(entry, Plural) else set()
    for text in texts(lang, key):
        names |= {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return names


def _rtl_lines(text: str) -> str:
    return "\n".join(RLM + line if line else line for line in text.split("\n"))


EN: dict[str, str | Plural] = {
    "start": (
        "👋 <b>oldclip</b> checks whether a video or photo is old footage passed off as new.\n"
        "\n"
        "Send me a video, photo or GIF, forward a post from a channel, or paste a link to a "
        "post. I compare it with an archive of verified old footage and tell you where and "
        "when it was first published.\n"
        "\n"
        "/help lists the commands; /language changes the language."
    ),
    "help": (
        "<b>How to use</b>\n"
        "Send or forward a video, photo or GIF, or paste a link to a post.\n"
        "\n"
        "<b>Commands</b>\n"
        "/start – what this bot does\n"
        "/help – this list\n"
        "/language – choose English or Arabic\n"
        "\n"
        "<b>For fact-checkers</b>\n"
        "/subscribe [filters] – get an alert when old footage is reposted\n"
        "/unsubscribe [filters] – stop those alerts\n"
        "/subscriptions – your alert subscriptions\n"
        "/add – reply with it to a video or photo to add it to the library as a known old clip\n"
        "/clip <i>number</i> – show a clip of the library\n"
        "/remove <i>number</i> – remove a clip from the library\n"
        "/stats – figures on the archive, reposts and feedback\n"
        "\n"
        "<b>For admins</b>\n"
        "/feeds – the watched sources and their health\n"
        "/addfeed <i>kind target [every]</i> – watch a source, e.g. /addfeed telegram channel 10m\n"
        "/removefeed <i>number</i> – stop watching a source\n"
        "/trust <i>user id</i>, /untrust <i>user id</i> – add or remove a fact-checker"
    ),
    "language_prompt": "Choose your language:",
    "language_set": "Done: I will answer in English.",
    "verdict_old": ("⚠️ <b>Old footage: this matches a clip first published on {first_seen}.</b>"),
    "verdict_sound_only": (
        "🔊 <b>Only the sound matches a clip in the archive: the picture differs.</b>\n"
        "Sound (music, a voice-over) is often laid over other footage, so this does not show "
        "that the footage is old."
    ),
    "matched_by": "Matched by: {what}.",
    "agreement_picture": "the picture",
    "agreement_picture_and_sound": "the picture and the sound",
    "agreement_sound_only": "the sound only, the picture differs",
    "clip_title": "📼 <b>{title}</b>",
    "clip_shows": "What it actually shows: {description}",
    "first_source": "First published by: {source}",
    "fact_check_link": '🔎 Fact-check: <a href="{url}">read the full verdict</a>',
    "fact_check_rated": (
        '🔎 Already fact-checked: <b>{rating}</b>. <a href="{url}">Read the debunk</a>'
    ),
    "claimed_as": "🗣 Passed off as: “{claim}”",
    "match_details": plural(
        "frames",
        one=(
            "Match: {query_start}–{query_end} of your file = {clip_start}–{clip_end} of the "
            "original ({frames} frame agrees, score {score})."
        ),
        other=(
            "Match: {query_start}–{query_end} of your file = {clip_start}–{clip_end} of the "
            "original ({frames} frames agree, score {score})."
        ),
    ),
    "match_details_photo": "Match score: {score}.",
    "mirrored_note": (
        "↔️ Your copy is mirrored (flipped left to right), a common trick to dodge automatic "
        "detection."
    ),
    "seen_before": (
        "⚠️ <b>Not new: first seen on {where} at {when}.</b>\n"
        "No fact-checker has reviewed it yet, so its origin is not confirmed."
    ),
    "forwarded_from": "You forwarded this from {channel}, posted {date}.",
    "no_match": plural(
        "count",
        one="🔍 <b>Not found in the archive of {count} clip.</b>",
        other="🔍 <b>Not found in the archive of {count} clips.</b>",
        tail=(
            " That does not prove it is new: the archive only holds footage that has already "
            "been checked or seen.\n"
            "\n"
            "To dig further, run a reverse image search on the key frames below (Google Lens, "
            "Bing Visual Search, Yandex or TinEye), compare weather, shadows, signs and uniforms "
            "with the claimed place and date, and look for the earliest upload."
        ),
    ),
    "key_frames_caption": "Key frames from your file, for a reverse image search.",
    "checking": "⏳ Checking… this takes a few seconds.",
    "too_big": (
        "This file is {size_mb} MB; bots can only download up to 20 MB. Send a link to the "
        "post instead, or a shorter clip."
    ),
    "not_media": (
        "Send me a video, photo, GIF or a link to a post, and I will check whether it is old "
        "footage."
    ),
    "too_big_unknown": (
        "This file is larger than Telegram lets bots download (20 MB). Send a link to the post "
        "instead, or a shorter clip."
    ),
    "file_unavailable": (
        "Telegram no longer has this file for me (it may have been deleted). Please send it again."
    ),
    "download_failed": "I could not download this file from Telegram. Please send it again.",
    "button_unknown": "This button no longer works.",
    "clip_usage": "Send a clip number after {command}, for example {command} 12.",
    "subscribe_bad_min": (
        "min= takes a number from 0 to 1, for example min=0.6. You have not been subscribed."
    ),
    "bad_file": "I could not read this file: {reason}",
    "link_unsupported": (
        "I cannot fetch media from this link. Send the video or photo itself, or a link to a "
        "public post."
    ),
    "link_failed": "I could not download that link: {reason}",
    "rate_limited": "You're sending a lot at once. Please wait {seconds} s and try again.",
    "identified_later": (
        "🔔 Update on the video you asked about on {asked_at}: it has now been identified as "
        "old footage: {title}, first published on {first_seen}."
    ),
    "not_allowed": (
        "This command is for fact-checkers. If you are one, ask an administrator to add your "
        "account."
    ),
    "admin_only": "Only administrators can use this command.",
    "alert_repost": (
        "🚨 <b>Old footage reposted: {title}</b> (first published {first_seen})\n"
        "Posts reusing it: {count}"
    ),
    "alert_post_line": '• <a href="{url}">{source}</a> (score {score}, {how})',
    "alert_feed_down": "⚠️ The feed {feed} is failing: {error}",
    "alert_feed_up": "✅ The feed {feed} is working again.",
    "button_confirm": "✅ Confirmed repost",
    "button_not_match": "❌ Not a match",
    "button_mute": "🔕 Mute this clip",
    "feedback_thanks": "Thank you, your feedback has been recorded.",
    "subscribed": "🔔 You will now get an alert whenever old footage is reposted.",
    "unsubscribed": "🔕 You will no longer get alerts.",
    "subscriptions_list": "<b>Your alert subscriptions</b>\n{lines}",
    "subscriptions_none": (
        "You have no alert subscriptions. Send /subscribe to start getting alerts."
    ),
    "add_usage": (
        "To add a known old clip to the library, reply to the message with the video or photo "
        "with /add."
    ),
    "add_ask_title": (
        "What is the clip's title? (for example: “Airstrike on a market, Aleppo”)\n"
        "Send /cancel to stop."
    ),
    "add_ask_date": (
        "When was it first published? Send the date as YYYY-MM-DD, for example 2017-06-20."
    ),
    "add_ask_source": (
        "Send the link to the earliest known publication (or an archive reference)."
    ),
    "add_ask_description": (
        "What does it actually show: where, when, who? One or two sentences (or send - to skip)."
    ),
    "add_ask_verdict": "Send the link to the fact-check or verdict (or send - if there is none).",
    "bad_url": (
        "“{value}” is not a link. Send a link starting with https://, or - if there is none."
    ),
    "add_done": "✅ Added to the library as clip #{clip_id}: {title}",
    "add_cancelled": "Cancelled; nothing was added.",
    "bad_date": (
        "“{value}” is not a date I understand. Please use YYYY-MM-DD, for example 2017-06-20."
    ),
    "clip_card": (
        "<b>Clip #{clip_id}: {title}</b>\n"
        "Shows: {description}\n"
        "First published: {first_seen}\n"
        "Source: {source}\n"
        "Reposts caught: {reposts}\n"
        "Added by {added_by} on {added_at}"
    ),
    "clip_not_found": "There is no clip #{clip_id} in the library.",
    "clip_removed": "🗑 Clip #{clip_id} ({title}) has been removed from the library.",
    "stats": (
        "<b>Statistics</b>\n"
        "Clips in the library: {clips}\n"
        "Sightings recorded: {sightings}\n"
        "Reposts caught: {reposts}\n"
        "Feedback: {confirmed} confirmed, {not_a_match} not a match, {muted} muted"
    ),
    "feeds_list": "<b>Watched feeds</b>\n{lines}",
    "feeds_none": "No feeds are being watched.",
    "feed_added": "✅ Now watching {feed}.",
    "feed_removed": "🗑 Stopped watching {feed}.",
    "trusted": "✅ {user} is now a trusted fact-checker.",
    "untrusted": "{user} is no longer a trusted fact-checker.",
    "feeds_off": "Feeds are not managed from this bot.",
    "addfeed_usage": (
        "Usage: /addfeed KIND TARGET [every], e.g. /addfeed telegram some_channel 10m or "
        "/addfeed rss https://example.org/feed.xml 1h"
    ),
    "feed_bad": "Could not add that feed: {reason}",
    "feed_exists": "Already watching {feed}.",
    "removefeed_usage": "Usage: /removefeed ID (the numbers shown by /feeds).",
    "feed_not_found": "There is no feed with the id {value}.",
    "trust_usage": (
        "Usage: /trust USER_ID or /untrust USER_ID, with the person's numeric Telegram user id."
    ),
    "error_generic": "Something went wrong on our side; please try again later.",
    # Labels drawn on the side-by-side picture (see bot.evidence.picture_labels).
    "label_query": "Your copy",
    "label_query_forwarded": "Your copy — forwarded {date}",
    "label_library": "Library",
    "label_library_published": "Library — first published {date}",
    "label_sighting": "Earlier copy — first seen {date}",
}

AR: dict[str, str | Plural] = {
    "start": (
        "👋 يتحقق <b>oldclip</b> مما إذا كان مقطع فيديو أو صورة مادةً قديمة يُعاد نشرها على "
        "أنها جديدة.\n"
        "\n"
        "أرسل إليّ مقطع فيديو أو صورة أو صورة متحركة (GIF)، أو أعد توجيه منشور من قناة، أو "
        "الصق رابط المنشور. سأقارنه بأرشيف من المواد القديمة الموثّقة، وأخبرك أين نُشر أول "
        "مرة ومتى.\n"
        "\n"
        "أرسل /help لعرض الأوامر، و/language لتغيير اللغة."
    ),
    "help": (
        "<b>طريقة الاستخدام</b>\n"
        "أرسل مقطع فيديو أو صورة أو صورة متحركة (GIF) أو أعد توجيهه، أو الصق رابط المنشور.\n"
        "\n"
        "<b>الأوامر</b>\n"
        "/start – التعريف بالبوت\n"
        "/help – هذه القائمة\n"
        "/language – اختيار العربية أو الإنجليزية\n"
        "\n"
        "<b>لمدققي المعلومات</b>\n"
        "/subscribe [عوامل التصفية] – تلقّي تنبيه عند إعادة نشر مادة قديمة\n"
        "/unsubscribe [عوامل التصفية] – إيقاف هذه التنبيهات\n"
        "/subscriptions – عرض اشتراكاتك في التنبيهات\n"
        "/add – يُرسَل ردًّا على فيديو أو صورة لإضافتها إلى المكتبة بوصفها مادة قديمة موثّقة\n"
        "/clip <i>الرقم</i> – عرض مقطع من المكتبة\n"
        "/remove <i>الرقم</i> – حذف مقطع من المكتبة\n"
        "/stats – إحصاءات الأرشيف وعمليات إعادة النشر والتقييمات\n"
        "\n"
        "<b>للمشرفين</b>\n"
        "/feeds – المصادر المُتابَعة وحالتها\n"
        "/addfeed <i>النوع الهدف [الفاصل]</i> – متابعة مصدر، مثل: /addfeed telegram channel 10m\n"
        "/removefeed <i>الرقم</i> – إيقاف متابعة مصدر\n"
        "/trust <i>معرّف المستخدم</i>، /untrust <i>معرّف المستخدم</i> – إضافة مدقق معلومات أو إزالته"
    ),
    "language_prompt": "اختر لغتك:",
    "language_set": "تم. سأجيبك من الآن باللغة العربية.",
    "verdict_old": ("⚠️ <b>مادة قديمة: يطابق هذا مقطعًا نُشر لأول مرة بتاريخ {first_seen}.</b>"),
    "verdict_sound_only": (
        "🔊 <b>الصوت وحده يطابق مقطعًا في الأرشيف، أما الصورة فمختلفة.</b>\n"
        "كثيرًا ما يوضع الصوت (موسيقى أو تعليق) على مشاهد أخرى، لذا لا يدل هذا على أن المشاهد "
        "قديمة."
    ),
    "matched_by": "وجه التطابق: {what}.",
    "agreement_picture": "الصورة",
    "agreement_picture_and_sound": "الصورة والصوت",
    "agreement_sound_only": "الصوت فقط، والصورة مختلفة",
    "clip_title": "📼 <b>{title}</b>",
    "clip_shows": "ما يُظهره المقطع فعلًا: {description}",
    "first_source": "أول من نشره: {source}",
    "fact_check_link": '🔎 نتيجة التحقق: <a href="{url}">اقرأ التقرير كاملًا</a>',
    "fact_check_rated": '🔎 تم التحقق منه سابقًا: <b>{rating}</b>. <a href="{url}">اقرأ التقرير</a>',
    "claimed_as": "🗣 نُشر على أنه: «{claim}»",
    "match_details": (
        "التطابق: الجزء من {query_start} إلى {query_end} في ملفك يقابل الجزء من {clip_start} "
        "إلى {clip_end} في المقطع الأصلي (عدد الإطارات المتطابقة: {frames}، درجة التطابق: "
        "{score})."
    ),
    "match_details_photo": "درجة التطابق: {score}.",
    "mirrored_note": (
        "↔️ النسخة التي أرسلتها معكوسة أفقيًا، وهي حيلة شائعة للتحايل على أدوات الرصد الآلي."
    ),
    "seen_before": (
        "⚠️ <b>ليس جديدًا: رُصد لأول مرة على {where} بتاريخ {when}.</b>\n"
        "لم يراجعه أيٌّ من مدققي المعلومات بعد، لذا لم يتأكد مصدره الأصلي."
    ),
    "forwarded_from": "أعدت توجيه هذا من {channel}، وقد نُشر بتاريخ {date}.",
    "no_match": plural(
        "count",
        zero="🔍 <b>لم يُعثر عليه في الأرشيف، فهو لا يضم أي مقطع بعد.</b>",
        one="🔍 <b>لم يُعثر عليه في الأرشيف الذي يضم مقطعًا واحدًا.</b>",
        two="🔍 <b>لم يُعثر عليه في الأرشيف الذي يضم مقطعين.</b>",
        few="🔍 <b>لم يُعثر عليه في الأرشيف الذي يضم {count} مقاطع.</b>",
        many="🔍 <b>لم يُعثر عليه في الأرشيف الذي يضم {count} مقطعًا.</b>",
        other="🔍 <b>لم يُعثر عليه في الأرشيف الذي يضم {count} مقطع.</b>",
        tail=" وهذا لا يثبت أنه "
        "جديد، فالأرشيف لا يضم إلا مواد سبق التحقق منها أو رصدها.\n"
        "\n"
        "لمزيد من التحقق، أجرِ بحثًا عكسيًا عن اللقطات المرفقة أدناه (عبر Google Lens أو Bing "
        "Visual Search أو Yandex أو TinEye)، وقارن حالة الطقس والظلال واللافتات والأزياء "
        "العسكرية بالمكان والتاريخ المزعومَين، وابحث عن أقدم نسخة منشورة.",
    ),
    "key_frames_caption": "لقطات رئيسية من ملفك لإجراء بحث عكسي عن الصور.",
    "checking": "⏳ جارٍ التحقق… يستغرق ذلك بضع ثوانٍ.",
    "too_big": (
        "حجم هذا الملف {size_mb} ميغابايت، ولا يمكن للبوتات تنزيل ملفات يتجاوز حجمها 20 "
        "ميغابايت. أرسل رابط المنشور بدلًا منه، أو مقطعًا أقصر."
    ),
    "not_media": (
        "أرسل إليّ مقطع فيديو أو صورة أو صورة متحركة (GIF) أو رابط منشور، وسأتحقق مما إذا "
        "كان مادة قديمة."
    ),
    "bad_file": "تعذّرت قراءة هذا الملف: {reason}",
    "too_big_unknown": (
        "هذا الملف أكبر مما يسمح تيليغرام للبوتات بتنزيله (20 ميغابايت). أرسل رابط المنشور بدلًا "
        "منه، أو مقطعًا أقصر."
    ),
    "file_unavailable": "لم يعد هذا الملف متاحًا لي على تيليغرام (ربما حُذف). يُرجى إرساله مجددًا.",
    "download_failed": "تعذّر تنزيل هذا الملف من تيليغرام. يُرجى إرساله مجددًا.",
    "button_unknown": "لم يعد هذا الزر يعمل.",
    "clip_usage": "أرسل رقم المقطع بعد {command}، مثل: {command} 12.",
    "subscribe_bad_min": ("يجب أن تكون قيمة min= عددًا من 0 إلى 1، مثل min=0.6. لم يُسجَّل اشتراكك."),
    "link_unsupported": (
        "لا يمكنني جلب الوسائط من هذا الرابط. أرسل الفيديو أو الصورة نفسها، أو رابط منشور عام."
    ),
    "link_failed": "تعذّر تنزيل المحتوى من هذا الرابط: {reason}",
    "rate_limited": ("أرسلت طلبات كثيرة في وقت قصير. يُرجى الانتظار {seconds} ث ثم المحاولة مجددًا."),
    "identified_later": (
        "🔔 تحديث بشأن المقطع الذي استفسرت عنه بتاريخ {asked_at}: تبيّن الآن أنه مادة قديمة، "
        "وهو «{title}»، وقد نُشر لأول مرة بتاريخ {first_seen}."
    ),
    "not_allowed": (
        "هذا الأمر مخصّص لمدققي المعلومات. إن كنت منهم، فاطلب من أحد المشرفين إضافة حسابك."
    ),
    "admin_only": "هذا الأمر متاح للمشرفين فقط.",
    "alert_repost": (
        "🚨 <b>إعادة نشر مادة قديمة: {title}</b> (نُشرت لأول مرة بتاريخ {first_seen})\n"
        "عدد المنشورات التي أعادت استخدامها: {count}"
    ),
    "alert_post_line": '• <a href="{url}">{source}</a> (درجة التطابق: {score}، {how})',
    "alert_feed_down": "⚠️ يتعذّر جلب المصدر {feed}: {error}",
    "alert_feed_up": "✅ عاد المصدر {feed} إلى العمل.",
    "button_confirm": "✅ إعادة نشر مؤكدة",
    "button_not_match": "❌ لا يوجد تطابق",
    "button_mute": "🔕 كتم هذا المقطع",
    "feedback_thanks": "شكرًا لك، سُجّل تقييمك.",
    "subscribed": "🔔 سيصلك من الآن تنبيه كلما أُعيد نشر مادة قديمة.",
    "unsubscribed": "🔕 لن تصلك التنبيهات بعد الآن.",
    "subscriptions_list": "<b>اشتراكاتك في التنبيهات</b>\n{lines}",
    "subscriptions_none": "ليست لديك اشتراكات في التنبيهات. أرسل /subscribe لبدء تلقّيها.",
    "add_usage": (
        "لإضافة مادة قديمة موثّقة إلى المكتبة، ردّ على رسالة الفيديو أو الصورة بالأمر /add."
    ),
    "add_ask_title": ("ما عنوان المقطع؟ (مثلًا: «غارة جوية على سوق في حلب»)\nأرسل /cancel للإلغاء."),
    "add_ask_date": "متى نُشر لأول مرة؟ أرسل التاريخ بالصيغة YYYY-MM-DD، مثل 2017-06-20.",
    "add_ask_source": "أرسل رابط أقدم نشر معروف للمقطع (أو مرجعًا أرشيفيًا له).",
    "add_ask_description": (
        "ماذا يُظهر المقطع فعلًا: أين ومتى ومَن؟ في جملة أو جملتين (أو أرسل - للتخطي)."
    ),
    "add_ask_verdict": "أرسل رابط تقرير التحقق أو الحكم (أو أرسل - إن لم يتوفر).",
    "bad_url": "«{value}» ليس رابطًا. أرسل رابطًا يبدأ بـ https:// أو أرسل - إن لم يتوفر.",
    "add_done": "✅ أُضيف إلى المكتبة بوصفه المقطع رقم {clip_id}: {title}",
    "add_cancelled": "أُلغيت العملية، ولم يُضَف شيء.",
    "bad_date": "لم أفهم التاريخ «{value}». يُرجى استخدام الصيغة YYYY-MM-DD، مثل 2017-06-20.",
    "clip_card": (
        "<b>المقطع رقم {clip_id}: {title}</b>\n"
        "ما يُظهره: {description}\n"
        "نُشر لأول مرة: {first_seen}\n"
        "المصدر: {source}\n"
        "مرات إعادة النشر المرصودة: {reposts}\n"
        "أضافه {added_by} بتاريخ {added_at}"
    ),
    "clip_not_found": "لا يوجد في المكتبة مقطع برقم {clip_id}.",
    "clip_removed": "🗑 حُذف المقطع رقم {clip_id} ({title}) من المكتبة.",
    "stats": (
        "<b>الإحصاءات</b>\n"
        "المقاطع في المكتبة: {clips}\n"
        "مرات الرصد المسجّلة: {sightings}\n"
        "عمليات إعادة النشر المرصودة: {reposts}\n"
        "تقييمات المدققين: {confirmed} مؤكدة، و{not_a_match} غير مطابقة، و{muted} مكتومة"
    ),
    "feeds_list": "<b>المصادر المرصودة</b>\n{lines}",
    "feeds_none": "لا تُرصد أي مصادر حاليًا.",
    "feed_added": "✅ أُضيف المصدر {feed} إلى قائمة الرصد.",
    "feed_removed": "🗑 أُزيل المصدر {feed} من قائمة الرصد.",
    "trusted": "✅ أُضيف {user} إلى قائمة مدققي المعلومات الموثوقين.",
    "untrusted": "أُزيل {user} من قائمة مدققي المعلومات الموثوقين.",
    "feeds_off": "لا تُدار المصادر المرصودة من خلال هذا البوت.",
    "addfeed_usage": (
        "طريقة الاستخدام: /addfeed KIND TARGET [every]، مثل /addfeed telegram some_channel 10m "
        "أو /addfeed rss https://example.org/feed.xml 1h"
    ),
    "feed_bad": "تعذّرت إضافة هذا المصدر: {reason}",
    "feed_exists": "المصدر {feed} مرصود بالفعل.",
    "removefeed_usage": "طريقة الاستخدام: /removefeed ID (الأرقام التي يعرضها الأمر /feeds).",
    "feed_not_found": "لا يوجد مصدر بالمعرّف {value}.",
    "trust_usage": (
        "طريقة الاستخدام: /trust USER_ID أو /untrust USER_ID، "
        "مع المعرّف الرقمي للمستخدم على تيليغرام."
    ),
    "error_generic": "حدث خطأ من جانبنا؛ يُرجى المحاولة مجددًا لاحقًا.",
    "label_query": "نسختك",
    "label_query_forwarded": "نسختك، أُعيد توجيهها بتاريخ {date}",
    "label_library": "المكتبة",
    "label_library_published": "المكتبة: نُشر لأول مرة بتاريخ {date}",
    "label_sighting": "نسخة سابقة: رُصدت لأول مرة بتاريخ {date}",
}

CATALOGUE: dict[str, dict[str, str | Plural]] = {
    "en": EN,
    "ar": {
        key: text.map(_rtl_lines) if isinstance(text, Plural) else _rtl_lines(text)
        for key, text in AR.items()
    },
}
KEYS = frozenset(EN)
