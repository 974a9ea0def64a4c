"""Building the python-telegram-bot Application and running it inside oldclip's event loop.

``run_bot`` uses PTB's manual lifecycle (not ``run_polling``/``run_webhook``, which would own
the loop and the signal handlers) so that the bot, the watchers and alert delivery share one
loop and stop together.  Updates come by long polling (one process per token: `oldclip run`,
`oldclip bot`) or through a webhook (`oldclip bot --webhook URL`, any number of processes on
one database: see bot.webhook).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

from telegram import BotCommand, MessageEntity, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from storage.errors import DatabaseUnavailable

from . import admin, alerts, buttons, curation, factcheck, public, webhook
from .deps import Deps
from .i18n import t
from .outgoing import Courier, reply
from .webhook import Webhook

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
FIRST_RETRY_S = 5.0  # Telegram unreachable at start: tried again after 5 s, 10 s, 20 s ...
MAX_RETRY_S = 300.0  # ... up to every 5 minutes

MEDIA = (
    filters.PHOTO
    | filters.VIDEO
    | filters.ANIMATION
    | filters.VIDEO_NOTE
    | filters.Document.VIDEO
    | filters.Document.IMAGE
)
# A text message (not a command) with a link in it: the post's video is fetched and checked.
LINKS = (
    filters.UpdateType.MESSAGE
    & filters.TEXT
    & ~filters.COMMAND
    & (filters.Entity(MessageEntity.URL) | filters.Entity(MessageEntity.TEXT_LINK))
)


class RedactTokens(logging.Filter):
    """Blank out anything shaped like a bot token, and the secrets given to ``hide``, whatever
    logger it passes through."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def hide(self, secret: str) -> None:
        self.secrets.add(secret)

    def _redact(self, text: str) -> str:
        text = TOKEN_RE.sub("<token>", text)
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:  # tracebacks too: format once, redacted
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        return True


REDACT = RedactTokens()


def quiet_secrets() -> None:
    """httpx logs every request URL, which holds the token: keep it quiet and redact the rest."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(REDACT)


def build_application(deps: Deps, *, shared: bool = False) -> Application:
    """The bot's Application; ``shared``: other processes serve the same bot from the same
    database (a webhook), so it has no poller and its courier shares the queue with theirs."""
    settings = deps.settings
    # No rate limiter: every message goes through bot.outgoing's courier, which paces, retries
    # and records them durably (see its docstring for why PTB's AIORateLimiter is not used).
    builder = ApplicationBuilder().token(settings.token)
    if shared:
        builder = builder.updater(None)
    if settings.api_base_url:
        root = settings.api_base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    if settings.local_mode:
        builder = builder.local_mode(True)
    app = builder.build()
    app.bot_data["deps"] = deps
    pictures: dict[int, bytes | None] = {}  # evidence pictures drawn, per alert

    async def prepare_alert(row):  # type: ignore[no-untyped-def]
        return await alerts.prepare(deps, row, pictures)

    deps.courier = Courier(deps.db, app.bot, prepare_alert, shared=shared)
    # Only new messages: an edited caption or command must not run a check (or /remove) again,
    # and channel posts have no user to answer.
    new_messages = filters.UpdateType.MESSAGE
    commands = {
        "start": public.start,
        "help": public.help_command,
        "language": public.language,
        "subscribe": factcheck.subscribe,
        "unsubscribe": factcheck.unsubscribe,
        "subscriptions": factcheck.subscriptions,
        "stats": factcheck.stats,
        "feeds": admin.list_feeds,
        "addfeed": admin.add_feed,
        "removefeed": admin.remove_feed,
        "trust": admin.trust,
        "untrust": admin.untrust,
        "add": curation.add,
        "cancel": curation.cancel,
        "clip": curation.show_clip,
        "remove": curation.remove,
    }
    # /add dialogues: answers are taken before any other handler sees them (group -1).
    app.add_handler(
        MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, curation.answer), group=-1
    )
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=new_messages))
    app.add_handler(CallbackQueryHandler(buttons.pressed))  # parses the data, answers every press
    # An animation also carries a document: one handler for all media, so it is checked once.
    app.add_handler(MessageHandler(new_messages & MEDIA, public.check_media, block=False))
    app.add_handler(MessageHandler(new_messages & LINKS, public.check_link, block=False))
    app.add_error_handler(_on_error)
    return app


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The last resort: log it, and tell the person in their language (a pressed button gets a
    notice on the button, not a message in the chat)."""
    if isinstance(context.error, DatabaseUnavailable):  # a server restart: one line is enough
        log.warning("handling an update failed: %s", context.error)
    else:
        log.error("handling an update failed: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    lang = "en"
    with contextlib.suppress(Exception):  # the database may be what failed
        lang = public.language_of(context.bot_data["deps"], update)
    with contextlib.suppress(Exception):  # the error reply is best effort
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang, "error_generic"))
        elif update.effective_message is not None:
            deps: Deps = context.bot_data["deps"]
            await reply(deps.courier, update.effective_message, t(lang, "error_generic"))


async def run_bot(
    deps: Deps,
    stop: asyncio.Event,
    say: Callable[[str], None] = log.warning,
    *,
    webhook_url: str | None = None,
    meanwhile: str = "the watchers keep running",
) -> bool:
    """Take updates (long polling, or through ``webhook_url``) and deliver alerts until
    ``stop`` is set; False when the bot could not start at all.

    Telegram unreachable at start (no network, a firewall, an outage) is said in one line with
    ``say`` and tried again with a growing delay, while the rest of the service keeps running
    (``meanwhile`` says what does); a token or a webhook Telegram refuses is said once and the
    bot stays off (retrying cannot fix it).
    """
    delay = FIRST_RETRY_S
    tail = f", {meanwhile}" if meanwhile else ""
    while not stop.is_set():
        app = build_application(deps, shared=webhook_url is not None)
        try:
            await app.initialize()  # getMe: where a bad token or no network shows
        except InvalidToken:
            await _shut(app)
            say(
                "Telegram refused the bot token: set OLDCLIP_BOT_TOKEN (or [bot] token) to the "
                f"token @BotFather gave; the bot stays off{tail}"
            )
            return False
        except NetworkError as exc:  # TimedOut included
            await _shut(app)
            dash = f" — {meanwhile}" if meanwhile else ""
            say(f"cannot reach Telegram ({_reason(exc)}); retrying in {delay:g} s{dash}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_RETRY_S)
            continue
        try:
            hook = None
            if webhook_url is not None:
                hook = webhook.webhook_for(webhook_url, deps.settings, deps)
                REDACT.hide(hook.secret)
            return await _serve(app, deps, stop, hook, say)
        finally:
            await _shut(app)
    return True


def _reason(exc: Exception) -> str:
    """PTB's message without its "httpx.ConnectError: " prefix, or the cause's name."""
    text = str(getattr(exc, "message", None) or exc.__cause__ or exc or type(exc).__name__)
    return TOKEN_RE.sub("<token>", text.split(": ", 1)[-1] if "Error: " in text else text)


async def _shut(app: Application) -> None:
    with contextlib.suppress(Exception):  # closing a client that never connected
        await app.shutdown()


async def _serve(
    app: Application,
    deps: Deps,
    stop: asyncio.Event,
    hook: Webhook | None,
    say: Callable[[str], None],
) -> bool:
    try:
        await app.bot.set_my_commands(
            [
                BotCommand("start", "what this bot does"),
                BotCommand("help", "how to use it"),
                BotCommand("language", "English / العربية"),
            ]
        )
    except TelegramError as exc:  # the menu is a nicety: answering matters more
        log.warning("could not set the bot's command menu: %s", exc)
    async with contextlib.AsyncExitStack() as receiving:
        if hook is None:
            await app.updater.start_polling(
                poll_interval=0.0, timeout=10, drop_pending_updates=False
            )
            receiving.push_async_callback(app.updater.stop)
        else:
            try:
                await receiving.enter_async_context(webhook.receiving(app, deps, hook))
            except (TelegramError, OSError) as exc:  # refused URL, port in use
                say(f"cannot serve the webhook {hook.url}: {_reason(exc)}; the bot stays off")
                return False
        await app.start()
        courier = deps.courier
        handlers_done = asyncio.Event()  # the courier sends what the last handlers queued
        sending = asyncio.create_task(courier.run(handlers_done))
        planning = asyncio.create_task(alerts.plan_forever(deps, courier, stop))
        try:
            await stop.wait()
        finally:
            try:
                await receiving.aclose()  # no new updates ...
                await app.stop()  # ... and the ones taken are handled
            finally:
                handlers_done.set()
                await asyncio.gather(planning, sending)
    return True
