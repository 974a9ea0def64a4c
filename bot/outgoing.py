"""Everything the bot says goes through here: a durable row first, then one courier sends it.

Handlers call ``reply``/``reply_photo``/``reply_photos``/``send``/``edit`` with ``deps.courier``
(and ``edit_text`` on what ``reply`` returns, shaped like PTB's ``Message.edit_text``).  Each
queues a row in storage.outgoing and wakes the ``Courier``, which sends it at once when the
chat's pace allows: no poll delay, and a 429, a network failure or a restart only postpones it.

Guarantee: **at most once**.  The courier claims a row (commits it as 'sending') before the HTTP
call and records the answer after it.  A row Telegram refused (429, 400, 403, 5xx answers: the
message was not sent) is retried, with exactly the ``retry_after`` Telegram asked for or with
backoff, until it is 48 hours old.  A call that ends with no answer (connection dropped, read
timeout, or oldclip killed during it) leaves the row 'unknown': it is logged and not sent
again, because Telegram may have delivered it and the Bot API cannot tell.  Edits are
idempotent, so an unanswered edit is made again.  A crash at any other point loses nothing:
the row is still pending and goes out after the restart.

Pacing: at most ~30 messages a second overall, and per chat one a second with bursts of three
(Telegram: "avoid more than one message per second in a chat; short bursts are allowed") and
20 a minute in groups.  A 429 pauses all sending for the ``retry_after`` it gives: Telegram does
not say whether the limit hit was the chat's or the bot's, and sending on prolongs a flood
wait.  The pause is recorded in the database (storage.sendpause), so it holds every process
sending with the same bot, not only the one that was answered 429.  PTB's AIORateLimiter is
not used: its retries happen inside the awaited call, hidden from the durable queue (lost on a
crash, blocking the handler, counted nowhere), and pacing needs to know the queue's order,
which only the courier does.  Calls that are not messages
(getUpdates, getFile, answerCallbackQuery) go straight to Telegram.

Several senders on one database (bot processes behind a webhook) share the queue safely: the
claim is a compare-and-set, so each row goes out from one of them, and a chat's next row is due
only once its head is settled, so order holds too.  What changes is recovery: a row another
process is sending right now looks just like one a killed process left 'sending', so a shared
courier settles only rows claimed longer ago than any call can take (``STALE_CLAIM_S``), and
looks again every minute, instead of settling them all at start-up.  Pacing stays per process
(N of them may together go over the overall ~30 a second), but the 429 that then comes holds
them all.

Rows of one chat go out in order, so "Checking..." is sent before its edit with the verdict;
an edit of a message that never arrived (or may not have) is sent as a new message instead,
and one that Telegram can no longer edit becomes a reply to it.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from storage import botshared as bot_state
from storage import outgoing as rows
from storage import sendpause
from storage.engine import Database
from storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

GLOBAL_PER_S = 30  # Telegram: about 30 messages a second in all
CHAT_BURST = 3  # per chat: a burst of three, then one a second
CHAT_PER_S = 1.0
GROUP_PER_MINUTE = 20  # groups: 20 messages a minute
MAX_BACKOFF_S = 600.0
STOP_GRACE_S = 5.0  # on shutdown, calls in flight get this long to be answered
# Shared couriers: a claim this old belongs to a dead process (PTB's calls time out within
# ~30 s, uploads included), looked for this often.
STALE_CLAIM_S = 120.0
RECOVER_EVERY_S = 60.0
DB_RETRY_S = 2.0  # after losing the database server, look at the queue again this soon
CANNOT_EDIT = ("message to edit not found", "message can't be edited", "message_id_invalid")


@dataclass(frozen=True)
class Prepared:
    """What a row sends: Bot API parameters, pictures, and (alerts) the repost count shown."""

    params: dict[str, Any]
    files: list[bytes] = field(default_factory=list)
    shown_count: int | None = None


# Draws an alert's row (its text from the alert's current payload, or its evidence picture);
# None when there is nothing to send any more.
PrepareAlert = Callable[[rows.OutgoingMessage], Awaitable[Prepared | None]]


def api_params(**values: Any) -> dict[str, Any]:
    """Keyword arguments of a send/edit as stored JSON (markup as its Bot API dict)."""
    params = {}
    for name, value in values.items():
        if value is None:
            continue
        params[name] = value.to_dict() if hasattr(value, "to_dict") else value
    return params


def _markup(value: dict[str, Any] | None) -> InlineKeyboardMarkup | ForceReply | None:
    if not value:
        return None
    if "inline_keyboard" in value:
        return InlineKeyboardMarkup.de_json(value, None)
    return ForceReply.de_json(value, None)


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that an int will become a timedelta
        warnings.simplefilter("ignore")
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def bot_id(token: str) -> int:
    """The bot's numeric id, the part of its token before the colon (public, unlike the rest);
    0 for a token not shaped so (a test's)."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def _not_sent(exc: Exception) -> bool:
    """Whether this failure proves Telegram did not take the request (so it may be retried)."""
    if isinstance(exc, InvalidToken | Conflict):
        return True
    cause = exc.__cause__
    if isinstance(exc, TimedOut):
        return isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(exc, NetworkError):
        # No httpx cause: Telegram answered with an error status (5xx): the call failed.
        return cause is None or isinstance(cause, httpx.ConnectError)
    return False


class Courier:
    """Sends the queued rows: in order per chat, paced, claimed before each call."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        prepare_alert: PrepareAlert | None = None,
        *,
        shared: bool = False,
    ) -> None:
        """``shared``: other processes may send from the same database (see the module's
        docstring); False: this is the only sender, so rows left 'sending' are settled at once."""
        self.db, self.bot, self.prepare_alert = db, bot, prepare_alert
        self.shared = shared
        self._wake = asyncio.Event()
        self._busy: set[int] = set()  # chats with a row on its way
        self._tasks: set[asyncio.Task[None]] = set()
        self._overall = AsyncLimiter(GLOBAL_PER_S, 1)
        self._chats: dict[int, list[AsyncLimiter]] = {}
        self._bot_id = bot_id(bot.token)  # whose 429 pauses are shared (storage.sendpause)

    def queue(self, chat_id: int, method: str, params: dict[str, Any] | None = None, **kw) -> int:
        """Queue a row (see storage.outgoing.queue) and send it as soon as its chat allows."""
        row_id = rows.queue(self.db, chat_id, method, params, **kw)
        self.wake()
        return row_id

    def wake(self) -> None:
        """Look at the queue now (rows were added by someone else, e.g. alert planning)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send due rows until ``stop`` is set, then let calls in flight finish briefly."""
        loop = asyncio.get_running_loop()
        recover_at: float | None = loop.time()  # at start-up; again and again when shared
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    if recover_at is not None and loop.time() >= recover_at:
                        self._recover()
                        recover_at = loop.time() + RECOVER_EVERY_S if self.shared else None
                    started = self._start_due() if self._paused_s() <= 0 else 0
                    wait = self._seconds_to_next(started)
                except DatabaseUnavailable as exc:
                    # The server restarted: the rows wait in it; the next look connects again.
                    log.warning("%s (sending again in %g s)", exc, DB_RETRY_S)
                    wait = DB_RETRY_S
                await self._sleep(stopping, wait)
        finally:
            stopping.cancel()
            await self._finish()

    def _recover(self) -> None:
        """Settle rows a process stopped while sending (see ``rows.recover``): all of them
        at start-up when this is the only sender; when shared, those claimed long ago."""
        if self.shared:
            before = datetime.now(UTC) - timedelta(seconds=STALE_CLAIM_S)
            stuck = bot_state.recover_stale_sends(self.db, claimed_before=before)
        else:
            stuck = rows.recover(self.db)
        for row in stuck:
            log.warning(
                "message %s to chat %s may or may not have arrived (oldclip stopped while "
                "sending it); it is not sent again, so that it cannot arrive twice",
                row.id,
                row.chat_id,
            )

    def _start_due(self) -> int:
        started = 0
        for row in rows.due(self.db):
            if row.chat_id in self._busy:
                continue
            self._busy.add(row.chat_id)
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    def _paused_s(self) -> float:
        """How long a 429, seen by this process or another with the same bot, still holds."""
        return sendpause.seconds_left(self.db, self._bot_id)

    def _seconds_to_next(self, started: int) -> float:
        paused = self._paused_s()
        if paused > 0:
            return paused
        due_at = rows.next_due_at(self.db)
        if due_at is None:
            return 60.0
        seconds = (datetime.fromisoformat(due_at) - datetime.now(UTC)).total_seconds()
        if seconds <= 0:  # due, but its chat is busy: its task wakes us when done
            return 0.0 if started else 1.0
        return min(seconds, 60.0)

    async def _sleep(self, stopping: asyncio.Future[Any], seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({woken, stopping}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            woken.cancel()

    async def _finish(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _pace(self, chat_id: int) -> None:
        """Wait for the chat's and the bot's turn (one per call, an album included, as PTB's
        limiter counts), then for the end of a flood wait."""
        limiters = self._chats.get(chat_id)
        if limiters is None:
            if len(self._chats) > 1000:  # forget chats whose buckets are full again
                self._chats = {
                    c: ls
                    for c, ls in self._chats.items()
                    if not all(lim.has_capacity(lim.max_rate) for lim in ls)
                }
            limiters = [AsyncLimiter(CHAT_BURST, CHAT_BURST / CHAT_PER_S)]
            if chat_id < 0:
                limiters.append(AsyncLimiter(GROUP_PER_MINUTE, 60))
            self._chats[chat_id] = limiters
        for limiter in (self._overall, *limiters):
            await limiter.acquire()
        while (wait := self._paused_s()) > 0:
            await asyncio.sleep(wait)

    async def _prepare(self, row: rows.OutgoingMessage) -> Prepared | None:
        if row.outbox_id is not None and self.prepare_alert is not None:
            return await self.prepare_alert(row)
        return Prepared(dict(row.params), rows.files(self.db, row.id))

    async def _deliver(self, row: rows.OutgoingMessage) -> None:
        try:
            target = rows.get(self.db, row.target) if row.target is not None else None
            shown = target.message_id if target is not None and target.state == "sent" else None
            if row.method == "editMessageText" and shown is None and target is not None:
                # The message to edit never arrived (or may not have): say it anew.
                rows.send_instead(self.db, row.id)
                row = rows.get(self.db, row.id)
            prepared = await self._prepare(row)
            await self._pace(row.chat_id)
            if not rows.claim(self.db, row.id):
                return
            if prepared is None:
                rows.refused(self.db, row.id, "nothing to send any more", retry_in_s=None)
                return
            try:
                message_id = await self._call(row, prepared, shown)
            except asyncio.CancelledError:
                rows.unanswered(self.db, row.id, "oldclip stopped while this was being sent")
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                self._settle_failure(row, exc, shown)
            else:
                rows.sent(self.db, row.id, message_id, shown_count=prepared.shown_count)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable as exc:  # the row stays as it was: the loop comes back to it
            log.warning("message %s to chat %s waits: %s", row.id, row.chat_id, exc)
        except Exception:  # one broken row must not stop the courier
            log.exception("sending message %s to chat %s failed", row.id, row.chat_id)
        finally:
            self._busy.discard(row.chat_id)
            self._wake.set()

    async def _call(
        self, row: rows.OutgoingMessage, prepared: Prepared, shown: int | None
    ) -> int | None:
        """One Bot API call; returns the id of the message sent (or edited)."""
        params = dict(prepared.params)
        markup = _markup(params.pop("reply_markup", None))
        if row.method == "editMessageText":
            message_id = shown if shown is not None else params.pop("message_id", None)
            params.pop("message_id", None)
            await self.bot.edit_message_text(
                chat_id=row.chat_id, message_id=message_id, reply_markup=markup, **params
            )
            return message_id
        reply_to = shown if shown is not None else row.reply_to
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        if row.method == "sendMessage":
            message = await self.bot.send_message(
                row.chat_id, reply_markup=markup, reply_parameters=reply, **params
            )
            return message.message_id
        if row.method == "sendPhoto":
            message = await self.bot.send_photo(
                row.chat_id,
                prepared.files[0],
                reply_markup=markup,
                reply_parameters=reply,
                **params,
            )
            return message.message_id
        media = [InputMediaPhoto(picture) for picture in prepared.files]
        messages = await self.bot.send_media_group(
            row.chat_id, media, reply_parameters=reply, **params
        )
        return messages[0].message_id if messages else None

    def _settle_failure(self, row: rows.OutgoingMessage, exc: Exception, shown: int | None) -> None:
        text = str(exc).lower()
        if isinstance(exc, RetryAfter):
            seconds = _retry_after_s(exc)
            sendpause.hold(self.db, self._bot_id, seconds)
            state = rows.refused(self.db, row.id, str(exc), retry_in_s=seconds)
            log.info("Telegram asked to wait %.1f s (message %s: %s)", seconds, row.id, state)
        elif isinstance(exc, BadRequest) and "not modified" in text:
            rows.sent(self.db, row.id, shown)  # the message already shows this
        elif (
            isinstance(exc, BadRequest)
            and row.method == "editMessageText"
            and any(reason in text for reason in CANNOT_EDIT)
        ):
            rows.send_instead(self.db, row.id)
        elif isinstance(exc, Forbidden | BadRequest | ChatMigrated):
            rows.refused(self.db, row.id, str(exc), retry_in_s=None)
            log.warning("message %s to chat %s refused for good: %s", row.id, row.chat_id, exc)
        elif _not_sent(exc):
            delay = min(2.0 * 2 ** max(row.attempts, 0), MAX_BACKOFF_S)
            if rows.refused(self.db, row.id, str(exc), retry_in_s=delay) == "failed":
                log.warning("gave up on message %s to chat %s: %s", row.id, row.chat_id, exc)
        else:
            if rows.unanswered(self.db, row.id, f"no answer: {exc}") == "unknown":
                log.warning(
                    "message %s to chat %s may or may not have arrived (%s); it is not sent "
                    "again, so that it cannot arrive twice",
                    row.id,
                    row.chat_id,
                    exc,
                )


# --- what handlers call ---------------------------------------------------------------------


def _reply_to(message: Message) -> int | None:
    """Like PTB's ``reply_text``: quote the person's message in groups, not in private."""
    return message.message_id if message.chat.type != ChatType.PRIVATE else None


@dataclass(frozen=True)
class Queued:
    """A message queued for a chat.  ``edit_text`` queues an edit of it, sent after it."""

    courier: Courier
    row_id: int
    chat_id: int
    reply_to: int | None  # what a replacement replies to when the message cannot be edited

    async def edit_text(self, text: str, **params: Any) -> Queued:
        row_id = self.courier.queue(
            self.chat_id,
            "editMessageText",
            api_params(text=text, **params),
            target=self.row_id,
            reply_to=self.reply_to,
        )
        return Queued(self.courier, row_id, self.chat_id, self.reply_to)


async def send(
    courier: Courier, chat_id: int, text: str, *, reply_to: int | None = None, **params: Any
) -> Queued:
    """Queue a text message to a chat (``reply_to``: a message id to reply to)."""
    row_id = courier.queue(
        chat_id, "sendMessage", api_params(text=text, **params), reply_to=reply_to
    )
    return Queued(courier, row_id, chat_id, reply_to)


async def reply(courier: Courier, message: Message, text: str, **params: Any) -> Queued:
    """Queue an answer to a person's message (PTB's ``message.reply_text``, made durable)."""
    return await send(courier, message.chat_id, text, reply_to=_reply_to(message), **params)


async def reply_photo(courier: Courier, message: Message, photo: bytes, **params: Any) -> Queued:
    """Queue a picture answering a person's message."""
    reply_to = _reply_to(message)
    row_id = courier.queue(
        message.chat_id, "sendPhoto", api_params(**params), files=[photo], reply_to=reply_to
    )
    return Queued(courier, row_id, message.chat_id, reply_to)


async def reply_photos(
    courier: Courier, message: Message, photos: list[bytes], caption: str | None = None
) -> Queued:
    """Queue an album of pictures answering a person's message."""
    reply_to = _reply_to(message)
    row_id = courier.queue(
        message.chat_id,
        "sendMediaGroup",
        api_params(caption=caption),
        files=photos,
        reply_to=reply_to,
    )
    return Queued(courier, row_id, message.chat_id, reply_to)


async def edit(courier: Courier, message: Message, text: str, **params: Any) -> None:
    """Queue an edit of a message the bot sent earlier (e.g. the one a button was on)."""
    courier.queue(
        message.chat_id,
        "editMessageText",
        api_params(text=text, message_id=message.message_id, **params),
    )
