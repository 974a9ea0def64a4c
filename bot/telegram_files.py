"""Getting a file someone sent out of Telegram, with every way that fails named.

``getFile`` refuses files over 20 MB with "file is too big" (and Telegram does not always say a
file's size beforehand), answers "invalid file_id" for files it no longer has, and the download
itself can fail like any request.  Each becomes a ``FileFetchError`` subclass that the answer
code turns into a sentence for the person (see ``bot.pending``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telegram.error import BadRequest, TelegramError


class FileFetchError(Exception):
    """The file could not be fetched from Telegram; ``key`` is the catalogue message to say."""

    key = "download_failed"


class FileTooBig(FileFetchError):
    key = "too_big_unknown"


class FileUnavailable(FileFetchError):
    key = "file_unavailable"


def too_big_for(item: Any, limit: int | None) -> bool:
    """True when Telegram declared a size over ``limit`` (unknown sizes are tried, not guessed)."""
    return limit is not None and item.file_size is not None and item.file_size > limit


async def download(item: Any, path: Path) -> Path:
    """Download ``item`` (a PhotoSize, Video, Document...) to ``path``; FileFetchError if not."""
    try:
        telegram_file = await item.get_file()
        await telegram_file.download_to_drive(path)
    except BadRequest as exc:
        reason = str(exc).lower()
        if "too big" in reason:
            raise FileTooBig(str(exc)) from exc
        if "file_id" in reason or "file identifier" in reason or "file reference" in reason:
            raise FileUnavailable(str(exc)) from exc
        raise FileFetchError(str(exc)) from exc
    except (TelegramError, OSError) as exc:
        raise FileFetchError(str(exc)) from exc
    return path
