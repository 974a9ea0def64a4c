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
from pathlib import Path

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

import storage
from fingerprint import MediaError

from .deps import Deps
from .i18n import LANGUAGES, clock, fact_check_lines, pick_language, t
from .outgoing import Queued, edit, reply, reply_photo, reply_photos
from .ports import Checker, CheckOutcome, Finding, LinkError, UnsupportedLink

log = logging.getLogger(__name__)


def language_of(deps: Deps, update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "en"
    stored = storage.touch_user(deps.db, user.id)
    return pick_language(stored.language, user.language_code)


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


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    code = (query.data or "").removeprefix("lang:")
    if code not in LANGUAGES:
        await query.answer()
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
        if item is not None:
            return item, name or (getattr(item, "file_name", None) or "file")
    return None, None


async def _rate_limited(deps: Deps, update: Update, lang: str) -> bool:
    """True (and the person told when to try again) when they asked too often."""
    wait = deps.rate.take(update.effective_user.id)
    if wait:
        await reply(
            deps.courier, update.effective_message, t(lang, "rate_limited", seconds=int(wait) + 1)
        )
    return bool(wait)


async def refused_as_too_big(deps: Deps, message: Message, item, lang: str) -> bool:
    """Answer and say True when the file is over what the bot may download (before trying)."""
    limit = deps.settings.download_limit_bytes
    if limit is None or (item.file_size or 0) <= limit:
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
    with tempfile.TemporaryDirectory(prefix="oldclip-bot-") as tmp:
        path = Path(tmp) / Path(name).name
        try:
            telegram_file = await item.get_file()
            await telegram_file.download_to_drive(path)
        except BadRequest as exc:
            if "too big" in str(exc).lower():
                size = item.file_size or 0
                await status.edit_text(
                    t(lang, "too_big", size_mb=f"{size / 1e6:.0f}"), parse_mode=ParseMode.HTML
                )
                return
            raise
        await check_file(deps, update, status, lang, path)


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
    with tempfile.TemporaryDirectory(prefix="oldclip-link-") as tmp:
        try:
            path = await deps.links.fetch(url, Path(tmp))
        except UnsupportedLink:
            await status.edit_text(t(lang, "link_unsupported"), parse_mode=ParseMode.HTML)
            return
        except LinkError as exc:
            await status.edit_text(
                t(lang, "link_failed", reason=html.escape(str(exc))), parse_mode=ParseMode.HTML
            )
            return
        await check_file(deps, update, status, lang, path)


async def check_file(deps: Deps, update: Update, status: Queued, lang: str, path: Path) -> None:
    """A local copy of what was sent (a file, or a link's video): check it, answer by editing
    ``status``, and remember the question when the answer is "not known yet"."""
    message, user = update.effective_message, update.effective_user
    try:
        outcome = await deps.checker.check(path, keep=True)
    except MediaError as exc:
        await status.edit_text(
            t(lang, "bad_file", reason=html.escape(exc.reason)), parse_mode=ParseMode.HTML
        )
        return
    await _answer(message, status, lang, outcome, path, deps.checker)
    if outcome.media_id is not None and not any(f.clip_id for f in outcome.findings):
        storage.record_question(
            deps.db,
            user_id=user.id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            media_id=outcome.media_id,
            language=lang,
        )


async def _answer(
    message: Message,
    status: Queued,
    lang: str,
    outcome: CheckOutcome,
    path: Path,
    checker: Checker,
) -> None:
    origin = _origin_line(message, lang)
    if not outcome.findings:
        text = t(lang, "no_match", count=outcome.library_size)
        await status.edit_text(origin + text, parse_mode=ParseMode.HTML)
        frames = await checker.key_frames(path)
        if frames:
            await reply_photos(
                status.courier, message, list(frames), caption=t(lang, "key_frames_caption")
            )
        return
    best = outcome.findings[0]
    await status.edit_text(
        origin + verdict_text(lang, best), parse_mode=ParseMode.HTML, disable_web_page_preview=True
    )
    picture = await _evidence(checker, path, best, lang)
    if picture is not None:
        await reply_photo(status.courier, message, picture)


def verdict_text(lang: str, f: Finding) -> str:
    e = html.escape
    if f.clip_id is None:  # only seen by the watchers: not reviewed, so not called "old"
        when = (f.first_seen or "?").replace("T", " ")[:16]
        lines = [t(lang, "seen_before", where=e(f.source or "?"), when=e(when))]
    else:
        lines = [t(lang, "verdict_old", first_seen=e(f.first_seen or "?"))]
    if f.title:
        lines.append(t(lang, "clip_title", title=e(f.title)))
    if f.description:
        lines.append(t(lang, "clip_shows", description=e(f.description)))
    if f.source and f.clip_id is not None:
        lines.append(t(lang, "first_source", source=e(f.source)))
    lines.extend(fact_check_lines(lang, f.verdict_url, f.rating, f.claim))
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
