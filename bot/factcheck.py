"""Fact-checkers' side: subscriptions, feedback buttons on alerts, /stats.

Every privileged command and button checks the user id against the trusted list each time:
buttons are visible to anyone who can see the message, and callback data comes from clients.
"""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

import storage

from . import access
from .deps import Deps
from .fit import fit_lines
from .i18n import t
from .inputs import Button, parse_score
from .outgoing import reply
from .public import language_of

VERDICTS = {"c": "confirmed", "n": "not_a_match", "m": "muted"}


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe [label ...] [min=0.5] [lang=ar]: alerts in this chat, optionally filtered."""
    allowed = await access.fact_checker(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    labels, min_score, language = [], 0.0, None
    for word in context.args or []:
        if word.startswith("min="):
            score = parse_score(word[4:])
            if score is None:
                await reply(deps.courier, update.effective_message, t(lang, "subscribe_bad_min"))
                return
            min_score = score
        elif word.startswith("lang="):
            language = word[5:] or None
        else:
            labels.append(word)
    storage.subscribe(
        deps.db,
        update.effective_user.id,
        update.effective_chat.id,
        labels=labels,
        min_score=min_score,
        language=language,
    )
    await reply(deps.courier, update.effective_message, t(lang, "subscribed"))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    allowed = await access.fact_checker(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    storage.unsubscribe(deps.db, update.effective_user.id, update.effective_chat.id)
    await reply(deps.courier, update.effective_message, t(lang, "unsubscribed"))


async def subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    allowed = await access.fact_checker(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    subs = storage.subscriptions_of(deps.db, update.effective_user.id)
    if not subs:
        await reply(deps.courier, update.effective_message, t(lang, "subscriptions_none"))
        return
    lines = [
        f"• chat {s.chat_id}: {', '.join(s.labels) or '*'}; min {s.min_score:.2f}"
        f"{'; ' + s.language if s.language else ''}"
        for s in subs
    ]
    await reply(
        deps.courier,
        update.effective_message,
        t(lang, "subscriptions_list", lines=fit_lines([html.escape(x) for x in lines], 3500)),
        parse_mode=ParseMode.HTML,
    )


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    allowed = await access.fact_checker(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    s = storage.library_stats(deps.db)
    feedback = s.get("feedback", {})
    await reply(
        deps.courier,
        update.effective_message,
        t(
            lang,
            "stats",
            clips=s.get("clips", 0),
            sightings=s.get("sightings", 0),
            reposts=s.get("reposts", 0),
            confirmed=feedback.get("confirmed", 0),
            not_a_match=feedback.get("not_a_match", 0),
            muted=feedback.get("muted", 0),
        ),
        parse_mode=ParseMode.HTML,
    )


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE, button: Button) -> None:
    """fb:<alert id>:<c|n|m> from the buttons under an alert (parsed by bot.buttons)."""
    query = update.callback_query
    deps: Deps = context.bot_data["deps"]
    lang = language_of(deps, update)
    user_id = query.from_user.id
    if not deps.is_fact_checker(user_id):
        await query.answer(t(lang, "not_allowed"), show_alert=True)
        return
    verdict = VERDICTS.get(button.value)
    alert = None
    if verdict is not None and button.alert_id is not None:
        alert = storage.get_alert(deps.db, button.alert_id)
    if alert is None or alert.kind != "repost":
        await query.answer(t(lang, "button_unknown"))
        return
    matched = alert.payload.get("matched_media_id")
    try:
        for post in alert.payload.get("posts", []) if matched is not None else []:
            if not post.get("post_url"):
                continue  # a post without a link cannot be told apart from others
            storage.record_feedback(
                deps.db,
                outbox_id=alert.id,
                post_url=post["post_url"],
                matched_media_id=matched,
                user_id=user_id,
                verdict=verdict,  # 'muted' also mutes the clip for this user
            )
    except ValueError:  # the clip was removed since the alert went out: nothing to mark
        pass
    await query.answer(t(lang, "feedback_thanks"))
