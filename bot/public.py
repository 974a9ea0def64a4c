"""The public side: /start, /help, /language, and "is this old?" for any video, photo or GIF.

One handler, one job.  The media handler downloads the file (within Telegram's limit), has the
``Checker`` fingerprint and match it off the event loop, and answers with the verdict: the
clip's provenance and a side-by-side picture when it is old, or an honest "not in the archive"
with key frames to reverse-search when it is not.  A link to a post (YouTube, X, TikTok, t.me,
...) gets the same answer: the ``LinkFetcher`` downloads the video and ``check_file`` takes over.
"""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

import storage

from .deps import Deps
from .fit import MESSAGE_LIMIT, fit_fields
from .i18n import LANGUAGES, clock, fact_check_lines, pick_language, t
from .inputs import Button, safe_file_name
from .outgoing import edit, reply, reply_photo, reply_photos
from .pending import Pending
from .ports import Checker, CheckOutcome, Finding
from .telegram_files import download, too_big_for

log = logging.getLogger(__name__)


def language_of(deps: Deps, update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "en"
    stored = storage.touch_user(deps.db, user.id)
    return pick_language(stored.language, user.language_code)


def sender_id(update: Update) -> int:
    """Who sent the update, for rate limits and remembered questions: the user, or, for a
    message with no user (sent on behalf of a chat), that chat."""
    if update.effective_user is not None:
        return update.effective_user.id
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    return update.effective_chat.id if update.effective_chat is not None else 0


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps: Deps = context.bot_data["deps"]
    lang = language_of(deps, update)
    await reply(deps.courier, update.effective_message, t(lang, "start"), parse_mode=ParseMode.HTML)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps: Deps = context.bot_data["deps"]
    lang = language_of(deps, update)
    await reply(deps.courier, update.effective_message, t(lang, "help"), parse_mode=ParseMode.HTML)


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps: Deps = context.bot_data["deps"]
    lang = language_of(deps, update)
    buttons = [
        [InlineKeyboardButton(name, callback_data=f"lang:{code}")]
        for code, name in LANGUAGES.items()
    ]
    await reply(
        deps.courier,
        update.effective_message,
        t(lang, "language_prompt"),
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def language_chosen(
    update: Update, context: ContextTypes.DEFAULT_TYPE, button: Button
) -> None:
    """lang:<code> from the /language buttons (parsed by bot.buttons)."""
    query = update.callback_query
    code = button.value
    if code not in LANGUAGES:
        lang = language_of(context.bot_data["deps"], update)
        await query.answer(t(lang, "button_unknown"))
        return
    storage.touch_user(context.bot_data["deps"].db, query.from_user.id)
    storage.set_language(context.bot_data["deps"].db, query.from_user.id, code)
    await query.answer()
    await edit(context.bot_data["deps"].courier, query.message, t(code, "language_set"))


def attachment(message: Message):
    """The file to check and a name for it: the largest photo, or the video/GIF/document."""
    if message.photo:
        return message.photo[-1], "photo.jpg"
    for kind, name in (
        ("animation", "animation.mp4"),
        ("video", "video.mp4"),
        ("video_note", "round.mp4"),
        ("document", None),
    ):
        item = getattr(message, kind)
        if item is not None:  # a document's name is the sender's choice: made safe for paths
            return item, name or safe_file_name(item.file_name, item.mime_type)
    return None, None


async def _rate_limited(deps: Deps, update: Update, lang: str) -> bool:
    """True (and the person told when to try again) when they asked too often."""
    wait = deps.rate.take(deps.db, sender_id(update))
    if wait:
        await reply(
            deps.courier, update.effective_message, t(lang, "rate_limited", seconds=int(wait) + 1)
        )
    return bool(wait)


async def refused_as_too_big(deps: Deps, message: Message, item, lang: str) -> bool:
    """Answer and say True when the file is over what the bot may download (before trying)."""
    if not too_big_for(item, deps.settings.download_limit_bytes):
        return False
    await reply(
        deps.courier,
        message,
        t(lang, "too_big", size_mb=f"{item.file_size / 1e6:.0f}"),
        parse_mode=ParseMode.HTML,
    )
    return True


async def check_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps: Deps = context.bot_data["deps"]
    message = update.effective_message
    lang = language_of(deps, update)
    if await _rate_limited(deps, update, lang):
        return
    item, name = attachment(message)
    if item is None:
        await reply(deps.courier, message, t(lang, "not_media"))
        return
    if await refused_as_too_big(deps, message, item, lang):
        return
    status = await reply(deps.courier, message, t(lang, "checking"))
    async with Pending(status, lang) as pending:
        with tempfile.TemporaryDirectory(prefix="oldclip-bot-") as tmp:
            path = await download(item, Path(tmp) / name)
            await check_file(deps, update, pending, lang, path)


def link_of(message: Message) -> str | None:
    """The first link in a text message (a URL typed out, or a text link's target)."""
    entities = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
    for entity, text in sorted(entities.items(), key=lambda item: item[0].offset):
        return entity.url if entity.type == MessageEntity.TEXT_LINK else text
    return None


async def check_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A link to a post: the video is downloaded from the site, then checked like a file."""
    deps: Deps = context.bot_data["deps"]
    message = update.effective_message
    url = link_of(message)
    if url is None:
        return
    lang = language_of(deps, update)
    if await _rate_limited(deps, update, lang):
        return
    if deps.links is None or not deps.links.supports(url):
        await reply(deps.courier, message, t(lang, "link_unsupported"))
        return
    status = await reply(deps.courier, message, t(lang, "checking"))
    async with Pending(status, lang) as pending:
        with tempfile.TemporaryDirectory(prefix="oldclip-link-") as tmp:
            path = await deps.links.fetch(url, Path(tmp))  # LinkError: explained by Pending
            await check_file(deps, update, pending, lang, path)


async def check_file(deps: Deps, update: Update, pending: Pending, lang: str, path: Path) -> None:
    """A local copy of what was sent (a file, or a link's video): check it, answer through
    ``pending`` (which also explains any failure), and remember the question when the answer
    is "not known yet"."""
    message = update.effective_message
    outcome = await deps.checker.check(path, keep=True)
    await _answer(message, pending, lang, outcome, path, deps.checker)
    identified = any(f.clip_id and f.agreement != "sound_only" for f in outcome.findings)
    if outcome.media_id is not None and not identified:
        storage.record_question(
            deps.db,
            user_id=sender_id(update),
            chat_id=message.chat_id,
            message_id=message.message_id,
            media_id=outcome.media_id,
            language=lang,
        )


async def _answer(
    message: Message,
    pending: Pending,
    lang: str,
    outcome: CheckOutcome,
    path: Path,
    checker: Checker,
) -> None:
    origin = _origin_line(message, lang)
    if not outcome.findings:
        await pending.answer(origin + t(lang, "no_match", count=outcome.library_size))
        frames = await checker.key_frames(path)
        if frames:
            await reply_photos(
                pending.status.courier, message, list(frames), caption=t(lang, "key_frames_caption")
            )
        return
    best = outcome.findings[0]
    await pending.answer(verdict_text(lang, best, origin), disable_web_page_preview=True)
    # Side by side, frames of a sound-only match would show two unrelated pictures.
    picture = None if best.agreement == "sound_only" else await _evidence(checker, path, best, lang)
    if picture is not None:
        await reply_photo(pending.status.courier, message, picture)


# Shortened first when a verdict is over Telegram's limit (the verdict line and links never are).
SHRINKABLE = ("description", "claim", "source", "title")


def verdict_text(lang: str, f: Finding, origin: str = "", limit: int = MESSAGE_LIMIT) -> str:
    """The answer for a match, after ``origin`` (a line of HTML, or ""), within ``limit``."""
    fields = {"description": f.description, "claim": f.claim, "source": f.source}
    fields["title"] = f.title
    return fit_fields(lambda v: origin + _verdict_lines(lang, f, v), fields, SHRINKABLE, limit)


def _verdict_lines(lang: str, f: Finding, v: Mapping[str, str | None]) -> str:
    e = html.escape
    if f.agreement == "sound_only":  # the picture differs: never called old footage
        lines = [t(lang, "verdict_sound_only")]
    elif f.clip_id is None:  # only seen by the watchers: not reviewed, so not called "old"
        when = (f.first_seen or "?").replace("T", " ")[:16]
        lines = [t(lang, "seen_before", where=e(v["source"] or "?"), when=e(when))]
    else:
        lines = [t(lang, "verdict_old", first_seen=e(f.first_seen or "?"))]
    if v["title"]:
        lines.append(t(lang, "clip_title", title=e(v["title"])))
    if v["description"]:
        lines.append(t(lang, "clip_shows", description=e(v["description"])))
    if v["source"] and f.clip_id is not None:
        lines.append(t(lang, "first_source", source=e(v["source"])))
    lines.extend(fact_check_lines(lang, f.verdict_url, f.rating, v["claim"]))
    lines.append(
        t(
            lang,
            "match_details",
            query_start=clock(f.query_start),
            query_end=clock(f.query_end),
            clip_start=clock(f.ref_start),
            clip_end=clock(f.ref_end),
            frames=f.frames,
            score=f"{f.score:.2f}",
        )
    )
    lines.append(t(lang, "matched_by", what=t(lang, f"agreement_{f.agreement}")))
    if f.mirrored:
        lines.append(t(lang, "mirrored_note"))
    return "\n".join(lines)


def _origin_line(message: Message, lang: str) -> str:
    origin = message.forward_origin
    chat = getattr(origin, "chat", None)
    if origin is None or chat is None:
        return ""
    where = f"@{chat.username}" if chat.username else (chat.title or str(chat.id))
    return t(lang, "forwarded_from", channel=html.escape(where), date=origin.date.date()) + "\n\n"


async def _evidence(checker: Checker, path: Path, f: Finding, lang: str) -> bytes | None:
    """The side-by-side picture, or None when the library's copy of the media is not at hand."""
    if not f.ref_path or not Path(f.ref_path).is_file():
        return None
    return await checker.side_by_side(
        path,
        f.best_pair[0],
        f"{t('en', 'label_query')} {clock(f.best_pair[0])}",
        Path(f.ref_path),
        f.best_pair[1],
        f"{t('en', 'label_library')} {f.first_seen or ''}",
        lang,
    )
