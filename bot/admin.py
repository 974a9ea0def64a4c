"""Admins' side: watched feeds (/feeds, /addfeed, /removefeed) and fact-checkers (/trust,
/untrust).

The admin list is checked on every command (others get ``admin_only`` and nothing changes).
Feeds are reached through the ``Feeds`` port: the bot never imports the watchers.
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
from .inputs import parse_id
from .outgoing import reply

MAX_LIST_CHARS = 3500  # /feeds stays one message (Telegram's limit is 4096)
MAX_ERROR_CHARS = 120


async def _feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Deps, str] | None:
    allowed = await access.admin(update, context)
    if allowed is not None and allowed[0].feeds is None:
        await reply(allowed[0].courier, update.effective_message, t(allowed[1], "feeds_off"))
        return None
    return allowed


async def _say(deps: Deps, update: Update, text: str) -> None:
    """Answer in HTML (feed names and reasons are escaped by the caller), no link previews:
    a feed's address is not what the admin wants to see expanded."""
    await reply(
        deps.courier,
        update.effective_message,
        text,
        parse_mode=ParseMode.HTML,
        disable_web_page_preview=True,
    )


def _name(feed: storage.Feed) -> str:
    return f"{feed.kind}:{feed.target}"


def feed_line(feed: storage.Feed) -> str:
    """One feed and its health, as plain text (escape before sending as HTML)."""
    if feed.consecutive_failures:
        error = feed.last_error or "?"
        if len(error) > MAX_ERROR_CHARS:
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        health = f"failing x{feed.consecutive_failures}: {error}"
    elif feed.last_success_at:
        health = f"ok, last polled {feed.last_success_at}"
    else:
        health = "not polled yet"
    label = f" [{feed.label}]" if feed.label else ""
    return f"• {feed.id}: {_name(feed)}{label}, every {feed.interval_s}s; {health}"


async def list_feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/feeds: every watched feed with its health."""
    allowed = await _feeds(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    feeds = deps.feeds.list()
    if not feeds:
        await reply(deps.courier, update.effective_message, t(lang, "feeds_none"))
        return
    lines = fit_lines([html.escape(feed_line(feed)) for feed in feeds], MAX_LIST_CHARS)
    await _say(deps, update, t(lang, "feeds_list", lines=lines))


async def add_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/addfeed KIND TARGET [every]"""
    allowed = await _feeds(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    args = context.args or []
    if len(args) not in (2, 3):
        await reply(
            deps.courier,
            update.effective_message,
            t(lang, "addfeed_usage"),
            disable_web_page_preview=True,
        )
        return
    kind, target = args[0].lower(), args[1]
    every = args[2] if len(args) == 3 else None
    try:
        _, created = deps.feeds.add(kind, target, every)
    except ValueError as exc:
        await reply(
            deps.courier,
            update.effective_message,
            t(lang, "feed_bad", reason=html.escape(str(exc))),
            parse_mode=ParseMode.HTML,
            disable_web_page_preview=True,
        )
        return
    name = html.escape(f"{kind}:{target}")
    await _say(deps, update, t(lang, "feed_added" if created else "feed_exists", feed=name))


async def remove_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/removefeed ID"""
    allowed = await _feeds(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    args = context.args or []
    feed_id = parse_id(args[0]) if len(args) == 1 else None
    if feed_id is None:
        await reply(deps.courier, update.effective_message, t(lang, "removefeed_usage"))
        return
    feed = next((f for f in deps.feeds.list() if f.id == feed_id), None)
    if feed is None or not deps.feeds.remove(feed_id):
        await reply(
            deps.courier, update.effective_message, t(lang, "feed_not_found", value=feed_id)
        )
        return
    await _say(deps, update, t(lang, "feed_removed", feed=html.escape(_name(feed))))


async def trust(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/trust USER_ID: a fact-checker from now on (kept in the database)."""
    await _set_trusted(update, context, True)


async def untrust(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/untrust USER_ID (fact-checkers listed in the config stay trusted)."""
    await _set_trusted(update, context, False)


async def _set_trusted(update: Update, context: ContextTypes.DEFAULT_TYPE, trusted: bool) -> None:
    allowed = await access.admin(update, context)
    if allowed is None:
        return
    deps, lang = allowed
    args = context.args or []
    user_id = parse_id(args[0]) if len(args) == 1 else None
    if user_id is None:
        await reply(deps.courier, update.effective_message, t(lang, "trust_usage"))
        return
    storage.set_trusted(deps.db, user_id, trusted)
    await reply(
        deps.courier,
        update.effective_message,
        t(lang, "trusted" if trusted else "untrusted", user=user_id),
        parse_mode=ParseMode.HTML,
    )
