"""Every user-visible string of the bot, in English and Arabic: the catalogue and its rules.

The texts are in one module per language (bot.catalogue_en, bot.catalogue_ar); this one picks
the language, fills in the values and keeps right-to-left text in order.

Messages are Telegram HTML (the bot sends them with ``parse_mode=HTML``): they may contain
``<b>``, ``<i>`` and ``<a href="...">`` and nothing else.  **Callers must pass every value
already escaped with** ``html.escape`` (titles, channel names, reasons, user names: anything that
came from outside), or a fragment of HTML they built themselves from escaped parts (a link, a
block of lines made with :func:`t`).  Placeholders are plain ``{name}`` fields without format
specs: callers format numbers and times (see :func:`clock`) before passing them.

Arabic is right-to-left.  So that a date, a number, a URL or a Latin-script name keeps its own
order inside Arabic text, :func:`t` wraps every value in Unicode isolates (U+2068 FSI ... U+2069
PDI) when the language is in ``RTL``; the exceptions are the placeholders in ``NOT_ISOLATED``:
``url`` (only ever used inside ``href="..."``, where an isolate would break the link) and
``lines`` (a block of whole lines, each already a message of its own).  Each line of an Arabic
message also starts with U+200F RIGHT-TO-LEFT MARK, so that a line that opens with a command
(``/help``), an emoji or a value is still laid out right-to-left.

The Arabic's register and conventions are described in bot.catalogue_ar.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from typing import Any

from .catalogue_ar import AR
from .catalogue_en import EN
from .plurals import Plural

LANGUAGES = {"en": "English", "ar": "العربية"}
DEFAULT_LANGUAGE = "en"
RTL = {"ar"}

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
RLM = "\u200f"  # RIGHT-TO-LEFT MARK

# Placeholders that t() never wraps in isolates (see the module docstring).
NOT_ISOLATED = frozenset({"url", "lines"})

# Keys that may fall back from a language to English because they are not translated yet.
UNTRANSLATED: dict[str, frozenset[str]] = {"ar": frozenset()}


def isolate(value: str) -> str:
    """``value`` between FSI and PDI, so that it keeps its own direction inside RTL text."""
    return f"{FSI}{value}{PDI}"


def pick_language(stored: str | None, telegram_code: str | None) -> str:
    """The language to answer in: the user's stored choice, else Telegram's, else English.

    ``telegram_code`` is Telegram's ``User.language_code`` (an IETF tag such as ``"ar-EG"``);
    only its primary subtag counts.
    """
    if stored in LANGUAGES:
        return stored
    if telegram_code:
        primary = telegram_code.strip().replace("_", "-").split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def clock(seconds: float) -> str:
    """A time offset as a video player shows it: ``0:07``, ``12:30``, ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fact_check_lines(
    lang: str, url: str | None, rating: str | None = None, claim: str | None = None
) -> list[str]:
    """The debunk a clip already has, the same in answers and alerts (HTML-escaped).

    Pointing to the existing fact-check is the most useful thing oldclip can say: it is
    what a fact-checker would link and what a member of the public can share.
    """
    lines = []
    if claim:
        short = claim if len(claim) <= 300 else claim[:297] + "…"
        lines.append(t(lang, "claimed_as", claim=html.escape(short)))
    if url:
        key = "fact_check_rated" if rating else "fact_check_link"
        lines.append(t(lang, key, url=html.escape(url), rating=html.escape(rating or "")))
    return lines


class _Isolated:
    """A value that formats itself between isolates."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __format__(self, spec: str) -> str:
        return isolate(format(self.value, spec))


class _Formatter(string.Formatter):
    def __init__(self, rtl: bool):
        self.rtl = rtl

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        value = super().get_value(key, args, kwargs)
        if self.rtl and key not in NOT_ISOLATED:
            return _Isolated(value)
        return value


_FORMATTERS = {False: _Formatter(rtl=False), True: _Formatter(rtl=True)}


def message(lang: str, key: str) -> str | Plural:
    """The unformatted catalogue entry of ``key`` in ``lang`` (English when not translated)."""
    if key not in CATALOGUE[DEFAULT_LANGUAGE]:
        raise KeyError(f"no message {key!r} in the catalogue")
    if lang in CATALOGUE and key in CATALOGUE[lang]:
        return CATALOGUE[lang][key]
    return CATALOGUE[DEFAULT_LANGUAGE][key]


def t(lang: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``lang``, with ``values`` (HTML-escaped by the caller) filled in.

    A key missing in ``lang`` falls back to English; an unknown key, or a placeholder without a
    value, raises KeyError.  Values are isolated for right-to-left languages.  A counted message
    takes the plural form its number needs in ``lang`` (see bot.plurals).
    """
    template = message(lang, key)
    if isinstance(template, Plural):
        # The fallback's forms are English ones: pick with the rule of the text's language.
        text_lang = lang if key in CATALOGUE.get(lang, {}) else DEFAULT_LANGUAGE
        template = template.pick(text_lang, values[template.by])
    return _FORMATTERS[lang in RTL].format(template, **values)


def texts(lang: str, key: str) -> list[str]:
    """Every text of ``key`` in ``lang``: one, or one per plural form."""
    entry = message(lang, key)
    return list(entry.forms.values()) if isinstance(entry, Plural) else [entry]


def placeholders(lang: str, key: str) -> set[str]:
    """The names of the values the message ``key`` needs in ``lang`` (in any of its forms)."""
    entry = message(lang, key)
    names = {entry.by} if isinstance(entry, Plural) else set()
    for text in texts(lang, key):
        names |= {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return names


def _rtl_lines(text: str) -> str:
    return "\n".join(RLM + line if line else line for line in text.split("\n"))


CATALOGUE: dict[str, dict[str, str | Plural]] = {
    "en": EN,
    "ar": {
        key: text.map(_rtl_lines) if isinstance(text, Plural) else _rtl_lines(text)
        for key, text in AR.items()
    },
}
