"""Plural forms for the bot's messages, following the CLDR plural rules.

A count in a sentence needs the noun in the right form: "1 clip" and "2 clips" in English, and in
Arabic six forms (CLDR categories zero, one, two, few, many, other: "مقطع واحد", "مقطعان",
"3 مقاطع", "11 مقطعًا", "100 مقطع").  The rules for integers are a few lines each, so they are
written here rather than pulling in Babel's whole locale database for two languages; they follow
https://www.unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


def _english(n: int) -> str:
    return "one" if n == 1 else "other"


def _arabic(n: int) -> str:
    if n in (0, 1, 2):
        return ("zero", "one", "two")[n]
    if 3 <= n % 100 <= 10:
        return "few"
    if 11 <= n % 100 <= 99:
        return "many"
    return "other"


RULES: dict[str, Callable[[int], str]] = {"en": _english, "ar": _arabic}
CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def category(lang: str, n: int) -> str:
    """The CLDR plural category of the whole number ``n`` in ``lang`` (English rule if unknown)."""
    return RULES.get(lang, _english)(abs(int(n)))


@dataclass(frozen=True)
class Plural:
    """A message whose wording depends on the number given as the value ``by``.

    ``forms`` maps CLDR categories to texts; "other" is required and stands in for any category
    the language does not need a separate text for.
    """

    by: str
    forms: Mapping[str, str]

    def __post_init__(self) -> None:
        if "other" not in self.forms or set(self.forms) - set(CATEGORIES):
            raise ValueError(f"plural forms must include 'other' and be among {CATEGORIES}")

    def pick(self, lang: str, n: int | str) -> str:
        return self.forms.get(category(lang, int(n))) or self.forms["other"]

    def map(self, change: Callable[[str], str]) -> Plural:
        return Plural(self.by, {name: change(text) for name, text in self.forms.items()})


def plural(by: str, *, tail: str = "", **forms: str) -> Plural:
    """A :class:`Plural` on ``by``; ``tail`` is the text every form ends with."""
    return Plural(by, {name: text + tail for name, text in forms.items()})
