"""Making answers fit Telegram's limits, measured the way Telegram measures them.

Telegram refuses a message whose text is over 4,096 characters, or a caption over 1,024, and
counts them in UTF-16 code units *after* parsing the HTML: tags do not count, ``&lt;`` counts as
one character, an emoji outside the BMP counts as two.  A refused answer is worse than a short
one, so answers built from long stored fields (a clip's title, description, source, the claim)
are shortened field by field with an ellipsis, the verdict, dates and links left whole; lists
keep their first lines and say how many more there are.  Values are cut before they are
escaped, so the HTML stays valid.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from html.parser import HTMLParser

MESSAGE_LIMIT = 4096  # captions have 1,024, but the bot's captions are fixed short texts
ELLIPSIS = "…"
MIN_FIELD = 80  # a field is first cut no shorter than this; below it only as a last resort


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    """The length Telegram checks: UTF-16 code units of the text once the HTML is parsed."""
    parser = _Text()
    parser.feed(html_text)
    parser.close()
    return utf16_len("".join(parser.parts))


def shorten(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 code units, ending with an ellipsis if cut."""
    if utf16_len(text) <= units:
        return text
    kept, size = [], 0
    for char in text:
        size += utf16_len(char)
        if size > units - 1:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def fit_fields(
    build: Callable[[Mapping[str, str | None]], str],
    fields: Mapping[str, str | None],
    order: Sequence[str],
    limit: int = MESSAGE_LIMIT,
) -> str:
    """``build(fields)``, with the fields named in ``order`` shortened until it fits ``limit``.

    ``build`` takes the raw (unescaped) values and escapes them itself.  Fields are cut in
    ``order``, first each down to ``MIN_FIELD`` characters, then, if that is not enough, each
    down to a bare ellipsis; whatever else ``build`` writes (the verdict, dates, links) is kept.
    Should even that be too long, whole lines are dropped from the end (see ``fit_lines``).
    """
    values = dict(fields)
    text = build(values)
    for floor in (MIN_FIELD, 1):
        for name in order:
            excess = visible_length(text) - limit
            if excess <= 0:
                return text
            value = values.get(name)
            if not value or utf16_len(value) <= floor:
                continue
            values[name] = shorten(value, max(floor, utf16_len(value) - excess))
            text = build(values)
    if visible_length(text) <= limit:
        return text
    return fit_lines(text.split("\n"), limit)


def fit_lines(
    lines: Sequence[str], limit: int = MESSAGE_LIMIT, head: str = "", more: str = "… (+{n})"
) -> str:
    """``head`` and as many whole ``lines`` as fit, then ``more`` with how many were left out.

    Each line must be valid HTML on its own (the catalogue's lines are), so dropping lines
    keeps the message valid.
    """
    kept: list[str] = [head] if head else []
    reserve = utf16_len(more.format(n=len(lines))) + 1  # room to say how many were left out
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        size = visible_length("\n".join([*kept, line]))
        if kept and size + (0 if last else reserve) > limit:
            kept.append(more.format(n=len(lines) - number))
            break
        kept.append(line if visible_length(line) + reserve <= limit else html.escape(ELLIPSIS))
    return "\n".join(kept)
