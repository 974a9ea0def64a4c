"""The "Checking..." message, which always ends as an answer.

A check takes seconds, so the bot first says "Checking..." and later edits that message into
the verdict.  Whatever fails in between (the download from Telegram or from a link's site,
reading the file, matching, even the verdict's own edit) must not leave the person looking at
"Checking..." forever: the ``Pending`` context manager edits it into one clear sentence in
their language and logs the rest.  Once the verdict is shown, a later failure (the evidence
picture, the key frames) is only logged: a good answer is never overwritten by an error.
"""

from __future__ import annotations

import contextlib
import html
import logging
from types import TracebackType
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError

from fingerprint import MediaError

from .fit import shorten
from .i18n import t
from .outgoing import Queued
from .ports import LinkError, UnsupportedLink
from .telegram_files import FileFetchError

REFUSALS = (MediaError, FileFetchError, LinkError)  # expected: said to the person, not errors

log = logging.getLogger(__name__)

MAX_REASON = 300  # a reason from a library or a server can be long; one line is enough


def reason_html(reason: str) -> str:
    """A reason from elsewhere (a decoder, a site, the library), short and escaped for HTML."""
    return html.escape(shorten(reason, MAX_REASON))


def explain(lang: str, exc: BaseException) -> str:
    """One sentence (Telegram HTML) in ``lang`` telling the person what went wrong."""
    if isinstance(exc, MediaError):
        return t(lang, "bad_file", reason=reason_html(exc.reason))
    if isinstance(exc, FileFetchError):
        return t(lang, exc.key)
    if isinstance(exc, UnsupportedLink):
        return t(lang, "link_unsupported")
    if isinstance(exc, LinkError):
        return t(lang, "link_failed", reason=reason_html(str(exc)))
    return t(lang, "error_generic")


class Pending:
    """``async with Pending(status, lang) as pending:`` ... ``await pending.answer(text)``."""

    def __init__(self, status: Queued, lang: str) -> None:
        self.status, self.lang = status, lang
        self.answered = False

    async def answer(self, text: str, **kwargs: Any) -> None:
        """Edit the status into ``text`` (Telegram HTML): the one answer to this question."""
        await self.status.edit_text(text, parse_mode=ParseMode.HTML, **kwargs)
        self.answered = True

    async def __aenter__(self) -> Pending:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # done, or cancelled (shutdown): nothing to explain
        if isinstance(exc, REFUSALS):
            log.info("answered with a refusal: %s", exc)
        else:
            log.error("a check failed: %s", exc, exc_info=exc)
        if not self.answered:
            with contextlib.suppress(TelegramError):  # the status may have been deleted
                await self.answer(explain(self.lang, exc))
        return True
