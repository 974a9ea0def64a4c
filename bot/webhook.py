"""`oldclip bot --webhook URL`: Telegram POSTs each update to URL, and this process serves them.

Why: Telegram allows one getUpdates consumer per token, so a polling bot lives on one host.  A
webhook URL behind a load balancer can be served by several processes on several hosts, each
taking whichever update the balancer hands it; whatever a conversation depends on is kept in
the database (storage.botshared: dialogues, rate limits; storage.botusers: languages), never
in one process.

The HTTP server is aiohttp's, already a dependency (PTB's own webhook server needs tornado):

- only POST on the configured path is served; a request without the secret Telegram sends in
  ``X-Telegram-Bot-Api-Secret-Token`` gets 403 before its body is read, and nothing of it is
  processed;
- a body over ``MAX_BODY_BYTES`` gets 413, one that is not an update 400; the server goes on;
- each update id is claimed in the database before it is handled: Telegram sends an update
  again when it had no answer in time (maybe to another host), and it must be handled once;
- an update is answered 200 once queued for the Application, as PTB's own webhook does.  A
  process killed between the two loses that update (Telegram does not send it again).

The secret is ``$OLDCLIP_WEBHOOK_SECRET`` (or ``[bot] webhook_secret``) when set; otherwise the
first process makes one at random and keeps it in the database, and every process on that
database uses the same.  Either way all hosts agree, which matters: each calls setWebhook when
it starts, and one setting a secret of its own would lock the others out.  The database holds
everything else the bot knows, so it is no worse a place for this, and nothing needs handing
out.  No process deletes the webhook when it stops (the others still serve it); a polling bot
(`oldclip bot`, `oldclip run`) deletes it when it starts.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from storage import botshared as bot_state
from storage.errors import DatabaseUnavailable

from .deps import Deps
from .settings import BotSettings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_NAME = "telegram_webhook"  # its name among storage.botshared's secrets
MAX_BODY_BYTES = 1 << 20  # an update is a few kB: a message quoting another is still far below
FORGET_UPDATES_AFTER_S = 86400.0  # Telegram keeps an undelivered update 24 hours at most
PORTS = (443, 80, 88, 8443)  # the only ports Telegram sends webhooks to


@dataclass(frozen=True)
class Webhook:
    """Where Telegram sends updates (``url``) and where this process listens for them."""

    url: str
    listen: str
    port: int
    path: str
    secret: str

    def __repr__(self) -> str:  # the secret must never reach a log or a traceback
        return f"Webhook(url={self.url!r}, listen={self.listen!r}, port={self.port})"


def url_problem(url: str) -> str | None:
    """Why Telegram would refuse ``url`` as a webhook, or None (said before anything starts)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"--webhook must be an https:// URL that Telegram can reach, not {url!r}"
    try:
        port = parts.port or 443
    except ValueError:
        return f"--webhook {url!r} has an invalid port"
    if port not in PORTS:
        return f"--webhook {url!r}: Telegram only sends to ports 443, 80, 88 and 8443"
    return None


def webhook_for(url: str, settings: BotSettings, deps: Deps) -> Webhook:
    """The webhook of ``url`` with the [bot] settings: the path is the URL's own unless
    ``webhook_path`` says otherwise (a proxy in front may rewrite it)."""
    path = settings.webhook_path or urlsplit(url).path or "/"
    secret = settings.webhook_secret or bot_state.shared_secret(
        deps.db, SECRET_NAME, lambda: secrets.token_urlsafe(32)
    )
    return Webhook(url, settings.webhook_listen, settings.webhook_port, path, secret)


def _authorized(request: web.Request, secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode())


def _handler(app: Application, deps: Deps, secret: str):  # type: ignore[no-untyped-def]
    async def receive(request: web.Request) -> web.Response:
        if not _authorized(request, secret):
            log.info("refused a webhook request without the right secret from %s", request.remote)
            return web.Response(status=403, text="Forbidden")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        except web.HTTPRequestEntityTooLarge:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the body, the answer is 400
            log.info("refused a webhook request that is not an update: %s", exc)
            update = None
        if update is None:
            return web.Response(status=400, text="Bad Request: not a Telegram update")
        forget = datetime.now(UTC) - timedelta(seconds=FORGET_UPDATES_AFTER_S)
        try:
            claimed = bot_state.claim_update(deps.db, update.update_id, forget_before=forget)
        except DatabaseUnavailable as exc:
            # Not taken: Telegram sends it again (to this host, on a new connection, or another).
            log.warning("update %s left to Telegram to send again: %s", update.update_id, exc)
            return web.Response(status=503, text="Service Unavailable: database")
        if claimed:
            await app.update_queue.put(update)
        return web.Response(status=200)

    return receive


@contextlib.asynccontextmanager
async def receiving(app: Application, deps: Deps, hook: Webhook) -> AsyncIterator[None]:
    """Serve ``hook`` while the block runs: the server listens first, then setWebhook points
    Telegram at it (its first POST must find someone listening)."""
    server = web.Application(client_max_size=MAX_BODY_BYTES)
    server.router.add_post(hook.path, _handler(app, deps, hook.secret))
    runner = web.AppRunner(server, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, hook.listen, hook.port).start()
        log.info("webhook: listening on %s:%s%s", hook.listen, hook.port, hook.path)
        await app.bot.set_webhook(hook.url, secret_token=hook.secret, drop_pending_updates=False)
        log.info("webhook: Telegram sends updates to %s", hook.url)
        yield
    finally:
        await runner.cleanup()
