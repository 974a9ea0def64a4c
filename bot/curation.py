"""Fact-checkers curate the library from Telegram: /add (a short dialogue), /clip and /remove.

/add is sent as a reply to a message with a video, photo, GIF, round video or media document.
The bot then asks, one message at a time, for the title, the first publication date, the
source, a description and a fact-check link, and adds the media as a clip.  Everyone who had
asked the bot about matching footage that it could not identify then is told, once.

The dialogue is a small state machine keyed by (chat, user), so other people's messages in the
same chat, or the same person's in another chat, never count as answers.  It is kept in the
database (storage.botshared dialogues), not in this process: behind a webhook the next answer may
reach another bot process, which must carry on where this one stopped.  Each answer is taken
with a compare-and-set on the step, so two processes given two messages at once never both
take them for the same answer, nor both store the clip.  Its handler runs in group -1 (before
the public handlers) and stops the update there when it took it as an answer, so a source link
is not also checked as a link to a post.  The trust check is made on /add, on every answer and
again before the clip is stored.
"""

from __future__ import annotations

import html
import logging
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from telegram import (
    Animation,
    Bot,
    Document,
    ForceReply,
    Message,
    PhotoSize,
    Update,
    Video,
    VideoNote,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import ApplicationHandlerStop, ContextTypes

import storage
from storage import botshared as bot_state

from . import access
from .deps import Deps
from .fit import fit_fields, shorten
from .i18n import fact_check_lines, pick_language, t
from .inputs import parse_id
from .outgoing import reply, send
from .pending import explain, reason_html
from .public import attachment, language_of, refused_as_too_big
from .telegram_files import download

log = logging.getLogger(__name__)

DIALOGUE = "add"  # the kind of the stored dialogue
DRAFT_TTL_S = 3600.0  # an abandoned dialogue is forgotten after an hour
SKIP = "-"
MAX_TITLE, MAX_TEXT = 300, 2000
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# What /add can take, by the name a stored draft records (rebuilt with Telegram's own de_json).
MEDIA_TYPES = {cls.__name__: cls for cls in (PhotoSize, Video, Animation, VideoNote, Document)}

# The dialogue's steps in order, each with its question.
STEPS = ("title", "first_seen", "source", "description", "verdict_url")
QUESTIONS = {
    "title": "add_ask_title",
    "first_seen": "add_ask_date",
    "source": "add_ask_source",
    "description": "add_ask_description",
    "verdict_url": "add_ask_verdict",
}


@dataclass(frozen=True)
class Draft:
    """An /add dialogue in progress: the media replied to and the answers so far."""

    item: Any  # the telegram PhotoSize / Video / Animation / VideoNote / Document
    name: str
    lang: str
    answers: dict[str, str | None]
    started_at: str = ""  # ISO 8601 UTC, as the database recorded it

    @property
    def step(self) -> str:
        return STEPS[len(self.answers)]

    @property
    def expired(self) -> bool:
        started = datetime.fromisoformat(self.started_at)
        return datetime.now(UTC) - started > timedelta(seconds=DRAFT_TTL_S)

    def stored(self) -> dict[str, Any]:
        """The draft as the database keeps it (the media as the Bot API describes it)."""
        return {
            "type": type(self.item).__name__,
            "item": self.item.to_dict(),
            "name": self.name,
            "lang": self.lang,
            "answers": self.answers,
        }


def _start(deps: Deps, key: tuple[int, int], item: Any, name: str, lang: str) -> None:
    data = Draft(item, name, lang, answers={}).stored()
    forget = datetime.now(UTC) - timedelta(seconds=DRAFT_TTL_S)
    bot_state.start_dialogue(deps.db, *key, DIALOGUE, data, forget_before=forget)


def _load(deps: Deps, key: tuple[int, int], bot: Bot) -> Draft | None:
    """The person's /add dialogue in this chat, as whichever process stored it left it."""
    dialogue = bot_state.get_dialogue(deps.db, *key)
    if dialogue is None or dialogue.kind != DIALOGUE:
        return None
    data = dialogue.data
    kind = MEDIA_TYPES.get(data.get("type"))
    if kind is None:  # written by another version: nothing to continue
        bot_state.end_dialogue(deps.db, *key)
        return None
    item = kind.de_json(data["item"], bot)
    return Draft(item, data["name"], data["lang"], dict(data["answers"]), dialogue.started_at)


def _key(update: Update) -> tuple[int, int] | None:
    """Whose dialogue an update belongs to; None for a message with no user (sent on behalf
    of a chat), which can never be an answer."""
    if update.effective_user is None or update.effective_chat is None:
        return None
    return update.effective_chat.id, update.effective_user.id


def added_by(user) -> str:
    """How a clip records who added it through the bot: the stable id, and the @name if any."""
    return f"telegram:{user.id}" + (f" @{user.username}" if user.username else "")


def media_of(message: Message | None) -> tuple[Any, str | None]:
    """The media /add can take from a message (documents only if video or image), or None."""
    if message is None:
        return None, None
    item, name = attachment(message)
    if isinstance(item, Document) and not ((item.mime_type or "").startswith(("video/", "image/"))):
        return None, None
    return item, name


async def _ask(deps: Deps, message: Message, lang: str, key: str, **values: Any) -> None:
    # In a group, ForceReply makes the answer a reply to the bot, which the bot receives even
    # in privacy mode; in a private chat it only gets in the way.
    markup = None
    if message.chat.type != ChatType.PRIVATE:
        markup = ForceReply(selective=True)
    await reply(
        deps.courier,
        message,
        t(lang, key, **values),
        reply_markup=markup,
        parse_mode=ParseMode.HTML,
    )


async def add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add, as a reply to a message with media: start the dialogue."""
    deps: Deps = context.bot_data["deps"]
    message = update.effective_message
    lang = language_of(deps, update)
    key = _key(update)
    if key is None or not deps.is_fact_checker(key[1]):
        await reply(deps.courier, message, t(lang, "not_allowed"))
        return
    item, name = media_of(message.reply_to_message)
    if item is None:
        await reply(deps.courier, message, t(lang, "add_usage"))
        return
    if await refused_as_too_big(deps, message, item, lang):
        return
    _start(deps, key, item, name, lang)
    await _ask(deps, message, lang, QUESTIONS[STEPS[0]])


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: drop this person's dialogue in this chat, if any."""
    deps: Deps = context.bot_data["deps"]
    key = _key(update)
    draft = _load(deps, key, context.bot) if key is not None else None
    if key is not None:
        bot_state.end_dialogue(deps.db, *key)
    lang = draft.lang if draft else language_of(deps, update)
    await reply(deps.courier, update.effective_message, t(lang, "add_cancelled"))


def _parse(step: str, text: str) -> tuple[str | None, str | None]:
    """(value, None) for a valid answer, or (None, error message key) to ask again."""
    if step == "title":
        return (text[:MAX_TITLE], None) if text and text != SKIP else (None, "add_ask_title")
    if step == "first_seen":
        try:
            valid = DATE_RE.fullmatch(text) and date.fromisoformat(text) <= date.today()
        except ValueError:
            valid = False
        return (text, None) if valid else (None, "bad_date")
    if step == "source":
        return (text[:MAX_TEXT], None) if text and text != SKIP else (None, "add_ask_source")
    if step == "description":
        return (None if text == SKIP else text[:MAX_TEXT]), None
    # verdict_url: it ends up in href="..." of every verdict, so only a plain web link will do
    if text == SKIP:
        return None, None
    return (text, None) if URL_RE.fullmatch(text) else (None, "bad_url")


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message in a chat where this person has an /add dialogue: the next answer.

    Runs before the other handlers; without a dialogue it returns and the update goes on.
    """
    key = _key(update)
    if key is None:
        return
    deps: Deps = context.bot_data["deps"]
    draft = _load(deps, key, context.bot)
    if draft is None:
        return
    if draft.expired:
        bot_state.end_dialogue(deps.db, *key)
        return
    message, lang = update.effective_message, draft.lang
    if not deps.is_fact_checker(update.effective_user.id):
        bot_state.end_dialogue(deps.db, *key)
        await reply(deps.courier, message, t(lang, "not_allowed"))
        raise ApplicationHandlerStop
    text = (message.text or "").strip()
    step = draft.step
    value, error = _parse(step, text)
    if error is not None:
        if error in QUESTIONS.values():
            await _ask(deps, message, lang, error)
        else:
            await reply(
                deps.courier,
                message,
                t(lang, error, value=html.escape(text[:100])),
                parse_mode=ParseMode.HTML,
            )
            await _ask(deps, message, lang, QUESTIONS[step])
        raise ApplicationHandlerStop
    taken = len(draft.answers)
    draft.answers[step] = value
    if len(draft.answers) < len(STEPS):
        # Another process may have taken an answer to this step meanwhile: then it asked on.
        if bot_state.advance_dialogue(deps.db, *key, taken, draft.stored()):
            await _ask(deps, message, lang, QUESTIONS[draft.step])
        raise ApplicationHandlerStop
    # Ended before any await, and by one process only: a message sent meanwhile is not
    # another answer, and the clip is stored once.
    if not bot_state.end_dialogue(deps.db, *key, step=taken):
        raise ApplicationHandlerStop
    # Downloading and fingerprinting take seconds: not while every other update waits.
    context.application.create_task(
        _store(deps, update, context, draft), update=update, name="curation-add"
    )
    raise ApplicationHandlerStop


async def _store(
    deps: Deps, update: Update, context: ContextTypes.DEFAULT_TYPE, draft: Draft
) -> None:
    message, user, lang = update.effective_message, update.effective_user, draft.lang
    if not deps.is_fact_checker(user.id):
        await reply(deps.courier, message, t(lang, "not_allowed"))
        return
    a = draft.answers
    try:
        with tempfile.TemporaryDirectory(prefix="oldclip-add-") as tmp:
            path = await download(draft.item, Path(tmp) / draft.name)
            clip_id, _ = await deps.checker.add_clip(
                path,
                title=a["title"],
                first_seen=a["first_seen"],
                source=a["source"],
                description=a["description"],
                verdict_url=a["verdict_url"],
                added_by=added_by(user),
            )
    except ValueError as exc:  # the library refused a value: its reason is for the person
        reason = reason_html(str(exc))
        await reply(
            deps.courier, message, t(lang, "bad_file", reason=reason), parse_mode=ParseMode.HTML
        )
        return
    except Exception as exc:  # one sentence for the fact-checker; the details go to the log
        log.info("adding a clip for user %s failed: %s", user.id, exc, exc_info=exc)
        await reply(deps.courier, message, explain(lang, exc), parse_mode=ParseMode.HTML)
        return
    clip = storage.get_clip(deps.db, clip_id)
    title = clip.title if clip else a["title"]
    await reply(
        deps.courier,
        message,
        t(lang, "add_done", clip_id=clip_id, title=html.escape(shorten(title, MAX_TITLE))),
        parse_mode=ParseMode.HTML,
    )
    await tell_askers(deps, clip_id, adder=user.id)


async def tell_askers(deps: Deps, clip_id: int, *, adder: int | None = None) -> int:
    """Tell everyone still waiting about footage that matches the clip, once each.

    The question is claimed (compare-and-set) before the message is queued, so two additions
    racing, or a retry, never tell anyone twice; the message then waits in storage.outgoing
    like any other (a crash between the two loses that one answer).
    The person who added the clip is not told about their own question.  Returns how many
    were told.
    """
    clip = storage.get_clip(deps.db, clip_id)
    if clip is None:
        return 0
    told = 0
    for question in await deps.checker.askers_of(clip_id):
        if not storage.mark_question_answered(deps.db, question.id, clip_id):
            continue
        if question.user_id == adder:
            continue
        stored = storage.get_user(deps.db, question.user_id)
        lang = pick_language(stored.language if stored else None, question.language)
        text = t(
            lang,
            "identified_later",
            asked_at=question.asked_at[:10],
            title=html.escape(shorten(clip.title, MAX_TITLE)),
            first_seen=clip.first_seen,
        )
        await send(
            deps.courier,
            question.chat_id,
            text,
            reply_to=question.message_id,
            parse_mode=ParseMode.HTML,
        )
        told += 1
    return told


async def _clip_id(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str) -> int | None:
    """The clip number given to /clip or /remove; when it is not one, None (and the person
    told what to send)."""
    deps: Deps = context.bot_data["deps"]
    args = context.args or []
    clip_id = parse_id(args[0]) if len(args) == 1 else None
    if clip_id is None:
        command = (update.effective_message.text or "/clip").split()[0].split("@")[0]
        await reply(
            deps.courier,
            update.effective_message,
            t(lang, "clip_usage", command=html.escape(command[:20])),
            parse_mode=ParseMode.HTML,
        )
    return clip_id


async def _not_found(deps: Deps, update: Update, lang: str, clip_id: int) -> None:
    await reply(
        deps.courier,
        update.effective_message,
        t(lang, "clip_not_found", clip_id=clip_id),
        parse_mode=ParseMode.HTML,
    )


async def _asked_clip(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Deps, str, storage.Clip] | None:
    """The clip a fact-checker's /clip or /remove names; None when the sender may not curate,
    gave no clip number or one the library lacks (each told so)."""
    allowed = await access.fact_checker(update, context)
    if allowed is None:
        return None
    deps, lang = allowed
    clip_id = await _clip_id(update, context, lang)
    if clip_id is None:
        return None
    clip = storage.get_clip(deps.db, clip_id)
    if clip is None:
        await _not_found(deps, update, lang, clip_id)
        return None
    return deps, lang, clip


async def show_clip(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/clip ID: the clip's card."""
    asked = await _asked_clip(update, context)
    if asked is None:
        return
    deps, lang, clip = asked
    reposts = storage.count_reposts_of_clip(deps.db, clip.id)

    def card(v: Mapping[str, str | None]) -> str:
        e = html.escape
        lines = [
            t(
                lang,
                "clip_card",
                clip_id=clip.id,
                title=e(v["title"]),
                description=e(v["description"] or "—"),
                first_seen=e(clip.first_seen),
                source=e(v["source"]),
                reposts=reposts,
                added_by=e(clip.added_by or "?"),
                added_at=e(clip.added_at[:16].replace("T", " ")),
            )
        ]
        lines.extend(fact_check_lines(lang, clip.verdict_url, clip.rating, v["claim"]))
        return "\n".join(lines)

    fields = {"description": clip.description, "claim": clip.claim}
    fields |= {"source": clip.source, "title": clip.title}
    await reply(
        deps.courier,
        update.effective_message,
        fit_fields(card, fields, tuple(fields)),
        parse_mode=ParseMode.HTML,
        disable_web_page_preview=True,
    )


async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remove ID: take a clip out of the library (it stops matching)."""
    asked = await _asked_clip(update, context)
    if asked is None:
        return
    deps, lang, clip = asked
    if not deps.checker.remove_clip(clip.id):  # removed meanwhile by someone else
        await _not_found(deps, update, lang, clip.id)
        return
    log.info("clip %s removed by user %s", clip.id, update.effective_user.id)
    await reply(
        deps.courier,
        update.effective_message,
        t(lang, "clip_removed", clip_id=clip.id, title=html.escape(shorten(clip.title, MAX_TITLE))),
        parse_mode=ParseMode.HTML,
    )
