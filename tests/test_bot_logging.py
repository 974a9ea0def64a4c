"""The bot token never reaches a log line, even inside a traceback."""

import logging
import sys

from bot.app import RedactTokens


def test_tokens_are_redacted_from_log_messages_and_tracebacks() -> None:
    token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{token}/getMe failed")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (token,), None)
        record.exc_info = sys.exc_info()
    RedactTokens().filter(record)
    text = logging.Formatter().format(record)
    assert token not in text and "<token>" in text
