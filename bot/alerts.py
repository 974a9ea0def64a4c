"""Alert delivery: from the outbox the watchers fill, to each subscribed fact-checker's chat.

Two durable steps, so a restart loses nothing and sends nothing twice:

1. plan: each pending outbox alert becomes one message per chat that wants it (filters, mutes
   and "not a match" verdicts applied), followed by its evidence picture, queued in
   storage.outgoing in the same transaction that marks the alert planned.  A repost grouped
   into an alert after that (same clip, within the window) makes an edit of each sent message,
   with the new count and posts, and the same buttons;
2. send: bot.outgoing's courier sends them (paced, retried for hours, at most once); the text
   is drawn from the alert when it is sent (``prepare``), so it shows every repost so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode

import storage

from .deps import Deps
from .fit import fit_lines, shorten
from .i18n import fact_check_lines, t
from .outgoing import Courier, Prepared, api_params

log = logging.getLogger(__name__)


def plan(deps: Deps) -> int:
    """Turn pending outbox alerts into per-chat deliveries; returns how many were planned."""
    planned = 0
    for alert in storage.pending_alerts(deps.db):
        chats = _recipients(deps, alert)
        evidence = bool(chats) and evidence_sources(deps, alert) is not None
        # also marks it delivered (planned)
        planned += storage.plan_deliveries(deps.db, alert.id, chats, evidence=evidence)
    return planned


def _recipients(deps: Deps, alert: storage.OutboxItem) -> list[int]:
    if alert.kind in ("feed_down", "feed_up"):
        return list(deps.settings.admins)
    payload = alert.payload
    matched = payload.get("matched_media_id")
    posts = payload.get("posts", [])
    if (
        matched is not None
        and posts
        and all(storage.is_not_a_match(deps.db, p["post_url"], matched) for p in posts)
    ):
        return []
    if matched is not None and matched in storage.benign_media_ids(deps.db):
        return []  # marked benign after the alert was queued: benign footage never alerts
    best = max((p.get("score") or 0.0 for p in posts), default=0.0)
    chats = []
    for sub in storage.all_subscriptions(deps.db):
        if not deps.is_fact_checker(sub.user_id):
            continue  # trust withdrawn since subscribing
        if matched is not None and storage.is_muted(deps.db, sub.user_id, matched):
            continue
        if best < sub.min_score:
            continue
        if sub.labels and payload.get("feed_label") not in sub.labels:
            continue
        if sub.language and payload.get("language") not in (None, sub.language):
            continue
        if sub.feeds and payload.get("feed_id") not in sub.feeds:
            continue
        chats.append(sub.chat_id)
    return sorted(set(chats))


def render(alert: storage.OutboxItem, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    e = html.escape
    p = alert.payload
    if alert.kind == "feed_down":
        return t(
            lang,
            "alert_feed_down",
            feed=e(p.get("label") or p.get("target") or "?"),
            error=e(shorten(p.get("error") or "", 500)),
        ), None
    if alert.kind == "feed_up":
        return t(lang, "alert_feed_up", feed=e(p.get("label") or p.get("target") or "?")), None
    lines = [
        t(
            lang,
            "alert_repost",
            count=len(p.get("posts", [])),
            title=e(p.get("clip_title") or "?"),
            first_seen=e(str(p.get("first_seen") or "?")),
        )
    ]
    for post in p.get("posts", [])[-10:]:  # the newest: an edit shows who joined
        lines.append(
            t(
                lang,
                "alert_post_line",
                url=e(post["post_url"]),
                source=e(post.get("source") or ""),
                score=f"{post.get('score') or 0:.2f}",
                how=t(lang, f"agreement_{post.get('agreement') or 'picture'}"),
            )
        )
    if p.get("first_source"):
        lines.append(t(lang, "first_source", source=e(p["first_source"])))
    lines.extend(fact_check_lines(lang, p.get("verdict_url"), p.get("rating"), p.get("claim")))
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "button_confirm"), callback_data=f"fb:{alert.id}:c"),
                InlineKeyboardButton(t(lang, "button_not_match"), callback_data=f"fb:{alert.id}:n"),
            ],
            [InlineKeyboardButton(t(lang, "button_mute"), callback_data=f"fb:{alert.id}:m")],
        ]
    )
    return fit_lines(lines), buttons  # within Telegram's limit, however long the fields


async def prepare(
    deps: Deps, row: storage.outgoing.OutgoingMessage, pictures: dict[int, bytes | None]
) -> Prepared | None:
    """What an alert's row sends now: its text and buttons drawn from the alert as it is (so a
    message sent late, or an edit, shows every repost grouped into it so far), or its evidence
    picture (drawn once per alert, whatever the number of chats).  None: nothing to send."""
    alert = storage.get_alert(deps.db, row.outbox_id)
    if alert is None:
        return None
    if row.method == "sendPhoto":
        if alert.id not in pictures:
            if len(pictures) > 32:
                pictures.clear()
            sources = evidence_sources(deps, alert)
            pictures[alert.id] = await deps.checker.side_by_side(*sources) if sources else None
        picture = pictures[alert.id]
        return Prepared({}, [picture]) if picture is not None else None
    user = storage.get_user(deps.db, row.chat_id)
    text, buttons = render(alert, (user.language if user else None) or "en")
    params = api_params(
        text=text, parse_mode=ParseMode.HTML, reply_markup=buttons, disable_web_page_preview=True
    )
    return Prepared(params, shown_count=alert.count)


def evidence_sources(deps: Deps, alert: storage.OutboxItem) -> tuple | None:
    """What the side-by-side picture of a repost alert is drawn from, or None.

    Both files are in the archive (the watchers keep downloads, the library keeps a copy of
    each clip); the matched segments start at the same moment, so their first frames agree.
    Read here, on the event loop's thread, which owns the database connection.
    """
    p = alert.payload
    posts = p.get("posts") or []
    if alert.kind != "repost" or not posts or p.get("matched_media_id") is None:
        return None
    post = posts[0]
    mine = storage.get_media(deps.db, post["media_id"]) if post.get("media_id") else None
    theirs = storage.get_media(deps.db, p["matched_media_id"])
    if not (mine and mine.path and theirs and theirs.path):
        return None
    return (
        mine.path,
        post.get("query_start") or 0.0,
        f"{t('en', 'label_query')} {post.get('source') or ''}".strip(),
        theirs.path,
        post.get("ref_start") or 0.0,
        f"{t('en', 'label_library')} {p.get('first_seen') or ''}".strip(),
    )


async def plan_forever(deps: Deps, courier: Courier, stop: asyncio.Event) -> None:
    """Plan new alerts and the edits of grown ones every ``alert_interval_s``; the courier
    sends them."""
    while not stop.is_set():
        try:
            if plan(deps) + storage.outgoing.plan_alert_edits(deps.db):
                courier.wake()
        except storage.DatabaseUnavailable as exc:  # the server restarted: next time, anew
            log.warning("alert planning waits: %s", exc)
        except Exception:  # keep planning: one broken alert must not stop the others
            log.exception("alert planning failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), deps.settings.alert_interval_s)
