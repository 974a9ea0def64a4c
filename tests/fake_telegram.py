"""A local fake of the Telegram Bot API (aiohttp on 127.0.0.1) for end-to-end bot tests.

Real python-telegram-bot talks to it unchanged: build the application with
`.base_url(f"{fake.base_url}/bot").base_file_url(f"{fake.base_url}/file/bot")`.

  POST|GET /bot{token}/{method}    API calls (form-urlencoded with JSON-encoded values, multipart
                                   uploads, or a JSON body); the method name is case-insensitive
  GET /file/bot{token}/{path}      downloads of files registered with `add_file` or uploaded

Answers have the real shapes: `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
"description": "...", "parameters": {"retry_after": S}}`. Faithful details: wrong token -> 401,
unknown method -> 404, getUpdates long-polls and drops update_id < offset (ack), a newer getUpdates
ends an older one with 409 Conflict, getFile over 20 MB -> 400 "file is too big", empty/too long
text or caption, "message is not modified" on no-op edits, unknown file ids and callback query ids,
uploaded photos must decode as images, and only inline keyboards are echoed in `reply_markup`.

Webhooks as the real API has them: setWebhook (https URLs on ports 443, 80, 88 or 8443 only,
secret_token of A-Z a-z 0-9 _ - only, an empty url deletes it),
deleteWebhook and getWebhookInfo (url, has_custom_certificate, pending_update_count,
max_connections, last_error_date/last_error_message); getUpdates answers 409 while a webhook is
set.  Updates are then POSTed as Telegram sends them (the Update JSON, with the
X-Telegram-Bot-Api-Secret-Token header), one at a time and in order, to the addresses given to
`route_webhook`: the load balancer behind the public https URL, round-robin.  A delivery that
is not answered 2xx is kept and tried again (`webhook_retry_s`), as Telegram does; every POST
is recorded in `webhook_posts`.

Text with parse_mode "HTML" is parsed as Telegram does to check it: only Telegram's tags, each
closed ("can't parse entities" otherwise), and the 4096/1024 limits counted in UTF-16 units of
the text after parsing (tags do not count, `&lt;` counts one), for sends and edits alike.

Departures: one global message_id counter (the real one is per chat); parsed HTML is still
echoed as sent (url entities are computed for plain text only); photos get one PhotoSize
(no thumbnails); file URLs are not fetched (unknown string -> 400); only integer chat ids exist
("@channel" -> 400 chat not found); the wording of "secret token is too long" is a guess;
webhook updates go one at a time whatever max_connections says; allowed_updates, rate limits
and permissions are not enforced (use `fail_next` to inject 429/403/..., `storm` for a flood
wait lasting a while, `hang_after_accepting` for a call Telegram carries out but never
answers). Every authorized call is recorded in `calls`, including calls answered by an
injected failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from PIL import Image

Json = dict[str, Any]
DEFAULT_TOKEN = "123456:TEST-token-for-tests_only_0000000000"
BOT_USERNAME = "oldclip_test_bot"
DOWNLOAD_LIMIT = 20_000_000  # telegram.constants.FileSizeLimit.FILESIZE_DOWNLOAD
UPLOAD_LIMIT = 50_000_000  # FileSizeLimit.FILESIZE_UPLOAD
MAX_TEXT, MAX_CAPTION = 4096, 1024
# Params whose values PTB sends raw (not JSON-encoded): never json-decode them ("123" stays text).
STRING_PARAMS = frozenset(
    {"text", "caption", "data", "callback_query_id", "inline_message_id", "parse_mode", "action"}
    | {"file_id", "url", "description", "short_description", "name", "title", "language_code"}
)
URL_RE = re.compile(r"(?:https?://|www\.|t\.me/)[^\s<>\"']+", re.IGNORECASE)
ONE_BOT = "make sure that only one bot instance is running"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
WEBHOOK_PORTS = (443, 80, 88, 8443)
SECRET_RE = re.compile(r"[A-Za-z0-9_-]+")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
# What shows something in a chat: what a flood wait refuses.
MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendMediaGroup"}
    | {"editMessageText", "editMessageCaption", "editMessageReplyMarkup"}
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class Call(NamedTuple):
    """One API call: the method's canonical name and its decoded params (uploads as bytes)."""

    method: str
    params: Json


class Described(NamedTuple):
    """A result answered with a "description" beside it (setWebhook: "Webhook was set")."""

    result: Any
    description: str


class WebhookPost(NamedTuple):
    """One delivery of an update to the webhook: where, which update, and the HTTP status
    (None: no answer, e.g. connection refused)."""

    target: str
    update_id: int
    status: int | None


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str
    data: bytes
    size_declared: bool = True  # False: messages carry no file_size (Telegram may omit it)
    broken: bool = False  # True: its download answers 500

    def ref(self) -> Json:
        keys = ("file_id", "file_unique_id") + (("file_size",) if self.size_declared else ())
        return {k: getattr(self, k) for k in keys}


@dataclass
class Failure:
    method: str
    chat_id: int | str | None
    status: int
    retry_after: int | None
    description: str
    times: int


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# The tags Telegram's HTML parse mode knows (https://core.telegram.org/bots/api#html-style).
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)


@dataclass
class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode, as far as checking goes: the visible text, or an error."""

    text: list[str] = field(default_factory=list)
    open_tags: list[str] = field(default_factory=list)
    error: str = ""

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in HTML_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags[-1] != tag:
            self.error = self.error or f'Unmatched end tag "{tag}"'
        else:
            self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(text: str, parse_mode: object) -> str:
    """The text Telegram would show (and measure) for ``text`` sent with ``parse_mode``."""
    if str(parse_mode or "").upper() != "HTML":
        return text
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if not parser.error and parser.open_tags:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"'
    if parser.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    return "".join(parser.text)


def check_length(text: str, parse_mode: object, limit: int, too_long: str) -> None:
    """Telegram's limits count UTF-16 code units of the text after entity parsing."""
    if utf16_len(visible_text(text, parse_mode)) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")


def url_entities(text: str) -> list[Json]:
    """The "bot_command" and "url" entities Telegram would compute (offsets in UTF-16 units)."""
    entities = []
    command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for match in URL_RE.finditer(text):
        url = match.group().rstrip(".,;:!?)]}")
        offset = utf16_len(text[: match.start()])
        entities.append({"type": "url", "offset": offset, "length": utf16_len(url)})
    return entities


def image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            return image.size
    except Exception:
        return None


def error_response(status: int, description: str, retry_after: float | None = None) -> web.Response:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


class FakeTelegram:
    """The fake Bot API server; see the module docstring. Use `async with FakeTelegram() as tg`."""

    def __init__(self, token: str = DEFAULT_TOKEN, port: int = 0) -> None:
        self.token = token
        self.port = port  # 0: any free port; a given one, to come up where a bot already knocks
        self.base_url = ""
        bot_id = int(token.split(":")[0])
        self.bot_user: Json = {"id": bot_id, "is_bot": True, "first_name": "oldclip"}
        self.bot_user["username"] = BOT_USERNAME
        self.calls: list[Call] = []
        self.downloads: list[str] = []
        self.files: dict[str, StoredFile] = {}
        # (chat id, message_id) -> Message, sent by the bot or by test users
        self.messages: dict[tuple[int, int], Json] = {}
        self.commands: list[Json] = []
        self._updates: list[Json] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._callback_ids: set[str] = set()
        self._failures: list[Failure] = []
        self._storm_until = 0.0  # loop time: message calls are answered 429 until then
        self._storm_retry_after: float = 1
        self.storm_refusals = 0
        self._hang: tuple[str, int | None] | None = None
        self.accepted = asyncio.Event()  # set when a hung call was carried out
        self._waiters: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self.webhook: Json | None = None  # the setWebhook parameters in force
        self.webhook_backends: list[str] = []  # where the load balancer forwards (route_webhook)
        self.webhook_posts: list[WebhookPost] = []
        self.webhook_retry_s = 0.2  # Telegram waits longer between tries
        self._webhook_turn = 0
        self._webhook_error: tuple[int, str] | None = None  # (date, message) of the last failure
        self._pusher: asyncio.Task[None] | None = None
        self._methods: dict[str, tuple[str, Callable[[Json], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": lambda p: self.bot_user,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._webhook_info,
                "setMyCommands": self._set_commands,
                "getMyCommands": lambda p: self.commands,
                "logOut": lambda p: True,
                "close": lambda p: True,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "sendPhoto": lambda p: self._send_media(p, "photo"),
                "sendVideo": lambda p: self._send_media(p, "video"),
                "sendDocument": lambda p: self._send_media(p, "document"),
                "sendMediaGroup": self._send_media_group,
                "editMessageText": lambda p: self._edit(p, "text"),
                "editMessageCaption": lambda p: self._edit(p, "caption"),
                "editMessageReplyMarkup": lambda p: self._edit(p, None),
                "answerCallbackQuery": self._answer_callback,
                "sendChatAction": lambda p: True,
                "getFile": self._get_file,
                "deleteMessage": self._delete_message,
            }.items()
        }

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1_000_000)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._pusher = asyncio.create_task(self._push_updates())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test-side API -------------------------------------------------------------------
    @staticmethod
    def user(id: int, first_name: str = "U", language_code: str = "en") -> Json:
        return {"id": id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    @staticmethod
    def chat(id: int) -> Json:
        return {"id": id, "type": "private" if id > 0 else "supergroup"}

    @staticmethod
    def channel_origin(username: str, message_id: int, date: int, chat_id: int = -1001) -> Json:
        """A `forward_origin` for a post forwarded from the public channel @username."""
        chat = {"id": chat_id, "type": "channel", "title": username, "username": username}
        return {"type": "channel", "date": date, "chat": chat, "message_id": message_id}

    def add_file(
        self,
        data: bytes | Path,
        *,
        file_size: int | None = None,
        size_declared: bool = True,
        broken: bool = False,
    ) -> Json:
        """Registers a downloadable file; `file_size` may claim a size the bytes don't have,
        `size_declared=False` leaves it out of messages (getFile still enforces it), and a
        `broken` file's download answers 500."""
        raw = data.read_bytes() if isinstance(data, Path) else bytes(data)
        n = next(self._file_ids)
        suffix = data.suffix if isinstance(data, Path) else ""
        digest = hashlib.sha256(raw + str(n).encode()).hexdigest()
        size = len(raw) if file_size is None else file_size
        stored = StoredFile(
            f"BAAC{n:04d}{digest[:28]}",
            f"AgAD{digest[28:40]}",
            size,
            "",
            raw,
            size_declared,
            broken,
        )
        stored.file_path = f"documents/file_{n}{suffix}"
        self.files[stored.file_id] = stored
        return stored.ref()

    def send_text(self, user: Json, text: str, **extra: Any) -> Json:
        return self._user_update(user, text=text, entities=url_entities(text), **extra)

    def send_video(
        self,
        user: Json,
        file: Json | bytes | Path,
        *,
        caption: str | None = None,
        forward_origin: Json | None = None,
        duration: int = 10,
        width: int = 640,
        height: int = 360,
        **extra: Any,
    ) -> Json:
        """``extra`` goes into the message as is (e.g. ``chat=...`` for a group)."""
        video = self._ref(file) | {"width": width, "height": height, "duration": duration}
        video["mime_type"] = "video/mp4"
        return self._user_update(user, caption, video=video, forward_origin=forward_origin, **extra)

    def send_photo(self, user: Json, file: Json | bytes | Path, caption: str | None = None) -> Json:
        ref = self._ref(file)
        width, height = image_size(self.files[ref["file_id"]].data) or (1280, 720)
        return self._user_update(user, caption, photo=[{**ref, "width": width, "height": height}])

    def send_animation(
        self,
        user: Json,
        file: Json | bytes | Path,
        caption: str | None = None,
        duration: int = 3,
        width: int = 480,
        height: int = 270,
    ) -> Json:
        animation = self._ref(file) | {"width": width, "height": height, "duration": duration}
        animation |= {"file_name": "animation.mp4", "mime_type": "video/mp4"}
        # Like the real API, animations also carry `document` (backward compatibility).
        document = {k: animation[k] for k in (*self._ref(file), "file_name", "mime_type")}
        return self._user_update(user, caption, animation=animation, document=document)

    def send_video_note(self, user: Json, file: Json | bytes | Path, duration: int = 5) -> Json:
        return self._user_update(
            user, None, video_note={**self._ref(file), "length": 240, "duration": duration}
        )

    def send_document(
        self,
        user: Json,
        file: Json | bytes | Path,
        mime_type: str,
        file_name: str,
        caption: str | None = None,
    ) -> Json:
        document = {**self._ref(file), "file_name": file_name, "mime_type": mime_type}
        return self._user_update(user, caption, document=document)

    def press_button(self, user: Json, message: Json, data: str) -> Json:
        """A press on an inline button of `message` (a Message dict, e.g. `last_message(...)`)."""
        query_id = str(4_000_000_000 + next(self._ids))
        self._callback_ids.add(query_id)
        query = {"id": query_id, "from": user, "data": data, "message": message}
        query["chat_instance"] = str(message["chat"]["id"] * 31)
        return self._enqueue(callback_query=query)

    def last_message(self, chat_id: int) -> Json:
        """The newest message the bot sent (and did not delete) in the chat."""
        return max(
            (m for (c, _), m in self.messages.items() if c == chat_id and m["from"]["is_bot"]),
            key=lambda m: m["message_id"],
        )

    def sent(self, chat_id: int | str | None = None, method: str | None = None) -> list[Call]:
        """Recorded calls that carry a chat_id, optionally filtered by chat and method."""
        return [
            c
            for c in self.calls
            if "chat_id" in c.params
            and (chat_id is None or c.params["chat_id"] == chat_id)
            and (method is None or c.method == method)
        ]

    async def wait_for(self, predicate: Callable[[Call], bool] | str, timeout: float = 10) -> Call:
        """The first recorded call satisfying `predicate` (or named so), polling every 20 ms."""

        def check(call: Call) -> bool:
            return call.method == predicate if isinstance(predicate, str) else predicate(call)

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self.calls:
                if check(call):
                    return call
            if asyncio.get_running_loop().time() >= deadline:
                seen = [c.method for c in self.calls if c.method != "getUpdates"]
                raise TimeoutError(f"no matching call within {timeout} s; calls: {seen}")
            await asyncio.sleep(0.02)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str = "",
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) fail with this error."""
        description = description or f"Too Many Requests: retry after {retry_after}"
        self._failures.append(Failure(method, chat_id, status, retry_after, description, times))

    def storm(self, seconds: float, retry_after: float = 1) -> None:
        """For the next `seconds`, every message call (send*/edit*) is refused with 429 and
        `retry_after` (may be under a second, unlike Telegram, to keep tests short)."""
        self._storm_until = asyncio.get_running_loop().time() + seconds
        self._storm_retry_after = retry_after

    def storming(self) -> bool:
        return asyncio.get_running_loop().time() < self._storm_until

    def hang_after_accepting(self, method: str, chat_id: int | None = None) -> None:
        """The next `method` call (to `chat_id`) is carried out (the message exists in the chat)
        but never answered: the moment to kill the sender.  `accepted` is set then."""
        self._hang = (method, chat_id)
        self.accepted.clear()

    def route_webhook(self, *targets: str) -> None:
        """Where the load balancer behind the webhook's public URL forwards each update: to
        these http addresses in turn (round-robin)."""
        self.webhook_backends = list(targets)
        self._wake()

    def bot_messages(self, chat_id: int) -> list[Json]:
        """The messages the bot has in the chat now (edits applied), oldest first."""
        return sorted(
            (m for (c, _), m in self.messages.items() if c == chat_id and m["from"]["is_bot"]),
            key=lambda m: m["message_id"],
        )

    # ---- helpers -------------------------------------------------------------------------
    def _ref(self, file: Json | bytes | Path) -> Json:
        return file if isinstance(file, dict) else self.add_file(file)

    def _enqueue(self, **payload: Any) -> Json:
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append(update)
        self._wake()
        return update

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _user_update(
        self,
        user: Json,
        caption: str | None = None,
        sender_chat: Json | None = None,
        **content: Any,
    ) -> Json:
        """A message from ``user``; with ``sender_chat``, sent on behalf of that chat instead
        (no ``from``, as for an anonymous group admin or a linked channel)."""
        chat = self.chat(user["id"]) | {"first_name": user["first_name"]}
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}
        message["from"] = user
        if sender_chat is not None:
            del message["from"]
            message["sender_chat"] = sender_chat
        if caption is not None:
            message |= {"caption": caption, "caption_entities": url_entities(caption)}
        message |= content
        message = {k: v for k, v in message.items() if v not in (None, [])}
        self.messages[(user["id"], message["message_id"])] = message
        return self._enqueue(message=message)

    def _bot_message(self, p: Json, **content: Any) -> Json:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):  # e.g. "@channelusername": no such chats here
            raise ApiError(400, "Bad Request: chat not found")
        chat = self.chat(chat_id)
        caption = p.get("caption")
        if caption is not None:
            check_length(
                str(caption), p.get("parse_mode"), MAX_CAPTION, "message caption is too long"
            )
            content |= {"caption": str(caption), "caption_entities": url_entities(str(caption))}
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}
        message |= {"from": self.bot_user} | {
            k: v for k, v in content.items() if v not in (None, [])
        }
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _stored(self, media: Any) -> StoredFile:
        if isinstance(media, bytes):
            return self.files[self.add_file(media)["file_id"]]
        if isinstance(media, str) and media in self.files:
            return self.files[media]
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _media_content(self, kind: str, media: Any, p: Json) -> Json:
        stored = self._stored(media)
        if kind == "photo":
            size = image_size(stored.data)
            if size is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            return {"photo": [{**stored.ref(), "width": size[0], "height": size[1]}]}
        if kind == "video":
            dims = {k: int(p.get(k) or 0) for k in ("width", "height", "duration")}
            return {"video": {**stored.ref(), **dims, "mime_type": "video/mp4"}}
        return {"document": stored.ref() | {"file_name": "file", "mime_type": "application/pdf"}}

    def _find(self, p: Json) -> Json:
        chat_id, message_id = p.get("chat_id"), p.get("message_id")
        message = self.messages.get((chat_id, message_id))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    # ---- API methods ---------------------------------------------------------------------
    def _delete_webhook(self, p: Json) -> Described:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        was_set, self.webhook, self._webhook_error = self.webhook is not None, None, None
        self._wake()  # a long poll may start now
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _set_webhook(self, p: Json) -> Described:
        url = str(p.get("url") or "")
        if not url:
            return self._delete_webhook(p)
        secret = str(p.get("secret_token") or "")
        if secret and not SECRET_RE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if len(secret) > 256:
            raise ApiError(400, "Bad Request: secret token is too long")
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        connections = int(p.get("max_connections") or 40)
        if p.get("drop_pending_updates"):
            self._updates.clear()
        hook = {"url": url, "secret_token": secret, "max_connections": connections}
        if p.get("allowed_updates") is not None:
            hook["allowed_updates"] = list(p["allowed_updates"])
        if hook == self.webhook:
            return Described(True, "Webhook is already set")
        self.webhook, self._webhook_error = hook, None
        self._wake()
        return Described(True, "Webhook was set")

    def _webhook_info(self, p: Json) -> Json:
        info: Json = {"url": "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self._updates)
        if self.webhook is not None:
            info |= {"url": self.webhook["url"], "max_connections": self.webhook["max_connections"]}
            info["ip_address"] = "127.0.0.1"
            if "allowed_updates" in self.webhook:
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _push_updates(self) -> None:
        """Telegram's side of a webhook: POST each pending update, oldest first, until it is
        answered 2xx."""
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                if self.webhook is None or not self._updates or not self.webhook_backends:
                    waiter = loop.create_future()
                    self._waiters.add(waiter)
                    try:
                        await asyncio.wait_for(waiter, 0.5)
                    except TimeoutError:
                        pass
                    finally:
                        self._waiters.discard(waiter)
                    continue
                update = self._updates[0]
                target = self.webhook_backends[self._webhook_turn % len(self.webhook_backends)]
                self._webhook_turn += 1
                headers = {"Content-Type": "application/json"}
                if self.webhook["secret_token"]:
                    headers[SECRET_HEADER] = self.webhook["secret_token"]
                status, error = None, "Connection refused"
                try:
                    async with session.post(target, data=json.dumps(update), headers=headers) as r:
                        status, error = (
                            r.status,
                            f"Wrong response from the webhook: {r.status} {r.reason}",
                        )
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"Connection failed: {type(exc).__name__}"
                self.webhook_posts.append(WebhookPost(target, update["update_id"], status))
                if status is not None and 200 <= status < 300:
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
                    continue
                self._webhook_error = (int(time.time()), error)
                await asyncio.sleep(self.webhook_retry_s)

    def _set_commands(self, p: Json) -> bool:
        self.commands = list(p.get("commands") or [])
        return True

    async def _get_updates(self, p: Json) -> list[Json]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # an older long poll notices it was superseded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(p.get("timeout") or 0)
        while not self._updates and generation == self._poll_generation:
            if (remaining := deadline - loop.time()) <= 0:
                break
            waiter = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)
        if generation != self._poll_generation:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; " + ONE_BOT)
        return self._updates[:limit]

    def _send_message(self, p: Json) -> Json:
        text = str(p.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        check_length(text, p.get("parse_mode"), MAX_TEXT, "message is too long")
        return self._bot_message(p, text=text, entities=p.get("entities") or url_entities(text))

    def _send_media(self, p: Json, kind: str) -> Json:
        return self._bot_message(p, **self._media_content(kind, p.get(kind), p))

    def _send_media_group(self, p: Json) -> list[Json]:
        group_id = str(13_000_000_000 + next(self._ids))
        return [
            self._bot_message(
                {"chat_id": p.get("chat_id"), "caption": item.get("caption")},
                media_group_id=group_id,
                **self._media_content(item["type"], item.get("media"), item),
            )
            for item in p.get("media") or []
        ]

    def _edit(self, p: Json, field: str | None) -> Json | bool:
        if p.get("inline_message_id"):
            return True
        message = self._find(p)
        updated = dict(message)
        markup = p.get("reply_markup")
        updated.pop("reply_markup", None)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            updated["reply_markup"] = markup
        if field is not None:
            if field not in message:
                raise ApiError(400, f"Bad Request: there is no {field} in the message to edit")
            updated[field] = str(p.get(field) or "")
            if field == "text" and not updated[field].strip():
                raise ApiError(400, "Bad Request: message text is empty")
            limit = MAX_TEXT if field == "text" else MAX_CAPTION
            check_length(updated[field], p.get("parse_mode"), limit, "MESSAGE_TOO_LONG")
        if updated == message:
            raise ApiError(400, NOT_MODIFIED)
        updated["edit_date"] = int(time.time())
        self.messages[(message["chat"]["id"], message["message_id"])] = updated
        return updated

    def _answer_callback(self, p: Json) -> bool:
        if str(p.get("callback_query_id")) not in self._callback_ids:
            raise ApiError(400, f"Bad Request: {QUERY_TOO_OLD}")
        self._callback_ids.discard(str(p.get("callback_query_id")))
        return True

    def _get_file(self, p: Json) -> Json:
        stored = self.files.get(str(p.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.file_size > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {**stored.ref(), "file_path": stored.file_path}

    def _delete_message(self, p: Json) -> bool:
        if self.messages.pop((p.get("chat_id"), p.get("message_id")), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    # ---- HTTP ----------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> Json:
        if request.content_type == "application/json":
            return {**request.query, **(await request.json())}
        raw: dict[str, str] = dict(request.query)
        files: dict[str, bytes] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
            else:
                raw[key] = str(value)
        params: Json = {}
        for key, value in raw.items():
            try:
                params[key] = value if key in STRING_PARAMS else json.loads(value)
            except ValueError:
                params[key] = value
        used: set[str] = set()

        def attach(value: Any) -> Any:  # "attach://name" -> the bytes of part `name`
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                used.add(value[9:])
                return files[value[9:]]
            if isinstance(value, list):
                return [attach(v) for v in value]
            return {k: attach(v) for k, v in value.items()} if isinstance(value, dict) else value

        params = {k: attach(v) for k, v in params.items()}
        return params | {k: v for k, v in files.items() if k not in used}

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return error_response(404, "Not Found: method not found")
        method, handler = entry
        try:
            params = await self._params(request)
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "Request Entity Too Large")
        self.calls.append(Call(method, params))
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, params.get("chat_id")):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return error_response(failure.status, failure.description, failure.retry_after)
        if method in MESSAGE_METHODS and self.storming():
            self.storm_refusals += 1
            wait = self._storm_retry_after
            return error_response(429, f"Too Many Requests: retry after {wait}", wait)
        try:
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            return error_response(exc.status, exc.description, exc.retry_after)
        hang = self._hang
        if hang is not None and hang[0] == method and hang[1] in (None, params.get("chat_id")):
            self._hang = None
            self.accepted.set()
            await asyncio.Event().wait()  # never answers; cancelled when the client goes
        if isinstance(result, Described):
            body = {"ok": True, "result": result.result, "description": result.description}
            return web.json_response(body)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            return error_response(404, "Not Found")
        self.downloads.append(path)
        if stored.broken:
            return error_response(500, "Internal Server Error")
        return web.Response(body=stored.data, content_type="application/octet-stream")
