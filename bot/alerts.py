"""Alert delivery: from the outbox the watchers fill, to each subscribed fact-checker's chat.

Two durable steps, so a restart loses nothing and sends nothing twice:

1. plan: each pending outbox alert becomes one delivery row per chat that wants it (filters,
   mutes and "not a match" verdicts applied), then the alert is marked delivered;
2. send: due deliveries go out, at most one message per chat per second; a 429 postpones that
   delivery by the time Telegram asks for, other errors retry with backoff, then give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

import storage
from fingerprint import MediaError

from . import evidence
from .deps import Deps
from .fit import fit_lines, shorten
from .i18n import fact_check_lines, t

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
PER_CHAT_GAP_S = 1.0  # Telegram: about one message per second per chat


def plan(deps: Deps) -> int:
    """Turn pending outbox alerts into per-chat deliveries; returns how many were planned."""
    planned = 0
    for alert in storage.pending_alerts(deps.db):
        chats = _recipients(deps, alert)
        planned += storage.plan_deliveries(deps.db, alert.id, chats)  # also marks it delivered
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
    for post in p.get("posts", [])[:10]:
        lines.append(
            t(
                lang,
                "alert_post_line",
                url=e(post["post_url"]),
                source=e(post.get("source") or ""),
                score=f"{post.get('score') or 0:.2f}",
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


async def send_due(deps: Deps, bot: Bot, last_sent: dict[int, float]) -> int:
    """Send the deliveries that are due; returns how many went out."""
    sent = 0
    pictures: dict[int, bytes | None] = {}  # one evidence picture per alert, however many chats
    for delivery in storage.due_deliveries(deps.db):
        gap = PER_CHAT_GAP_S - (time.monotonic() - last_sent.get(delivery.chat_id, 0.0))
        if gap > 0:
            await asyncio.sleep(gap)
        alert = storage.get_alert(deps.db, delivery.outbox_id)
        user = storage.get_user(deps.db, delivery.chat_id)
        text, buttons = render(alert, (user.language if user else None) or "en")
        try:
            message = await bot.send_message(
                delivery.chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=buttons,
                disable_web_page_preview=True,
            )
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            storage.delivery_failed(
                deps.db, delivery.id, str(exc), retry_in_s=seconds, max_attempts=MAX_ATTEMPTS
            )
            continue
        except Forbidden as exc:  # the person blocked the bot: retrying will not help
            storage.delivery_failed(
                deps.db, delivery.id, str(exc), retry_in_s=None, max_attempts=MAX_ATTEMPTS
            )
            continue
        except TelegramError as exc:
            storage.delivery_failed(
                deps.db,
                delivery.id,
                str(exc),
                retry_in_s=2.0 * 2**delivery.attempts,
                max_attempts=MAX_ATTEMPTS,
            )
            continue
        finally:
            last_sent[delivery.chat_id] = time.monotonic()
        storage.mark_sent(deps.db, delivery.id, message.message_id)
        sent += 1
        if alert.id not in pictures:
            sources = evidence_sources(deps, alert)
            pictures[alert.id] = (
                await asyncio.to_thread(draw_evidence, *sources) if sources else None
            )
        picture = pictures[alert.id]
        if picture is not None:  # best effort: the alert itself is already delivered
            with contextlib.suppress(TelegramError):
                await bot.send_photo(
                    delivery.chat_id, picture, reply_to_message_id=message.message_id
                )
            last_sent[delivery.chat_id] = time.monotonic()
    return sent


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


def draw_evidence(
    post_path: str, post_at: float, post_label: str, ref_path: str, ref_at: float, ref_label: str
) -> bytes | None:
    """The picture itself (decoding: run it off the event loop)."""
    try:
        post_frame = evidence.frame_at(post_path, post_at)
        library_frame = evidence.frame_at(ref_path, ref_at)
    except (MediaError, OSError) as exc:
        log.info("no evidence picture: %s", exc)
        return None
    return evidence.side_by_side(
        post_frame, library_frame, query_label=post_label, ref_label=ref_label
    )


async def deliver_forever(deps: Deps, bot: Bot, stop: asyncio.Event) -> None:
    last_sent: dict[int, float] = {}
    while not stop.is_set():
        try:
            plan(deps)
            await send_due(deps, bot, last_sent)
        except Exception:  # keep delivering: one broken alert must not stop the others
            log.exception("alert delivery pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), deps.settings.alert_interval_s)
