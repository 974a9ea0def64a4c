"""The publication date a page states in its own words ("first published on June 20, 2017").

oldclip decides "old footage or new?" from this date, so a wrong date is worse than none: a date
the article merely mentions (a battle, an election, when the clip was first posted elsewhere) or a
date in a reader's comment must never be taken for the day the page was published.  Hence the
narrow rules: a date needs day, month and year; it counts only after a publication cue placed
like a byline or a credit line, or alone on a short line near the top; plain dates deep in the
body are history, not metadata.

Why hand-written rather than a library (both were tried on the seed articles):
- dateparser's search_dates() finds dates by guessing: it turned "a total of four months and four
  days" into 2017-02-16, "now" into today, and "في عام 2015" ("in 2015") into 2015-<today's day
  and month>; dateparser.parse() does not know the Levantine/Iraqi month names
  (كانون الأول, حزيران, أيار...) used by Syrian and Iraqi outlets.
- htmldate's text search picked 2015-01-01 from the bare "In 2015" of the airstrike article.
So the finding stays here (day, month, year, placed like a byline), with English and Arabic
month tables we can read, and dateparser gives only what it keeps well: the month names of
German, Spanish, Dutch, Indonesian, French... from its locale data ("6. August 2009", "6 de
agosto de 2009", "14 maart 2016", "17 Agustus 2018").
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dateparser.languages import default_loader

EARLIEST = datetime.date(1990, 1, 1)  # before the web: a date this old is a mention, not a byline
TOP_LINES = 12  # a byline sits under the headline, within the first few lines...
TOP_CHARS = 1500  # ...and within the first screen of text
SHORT_LINE = 120  # a byline or credit line is short; a sentence of the story is not
CUE_REACH = 40  # at most this many characters between a cue ("Posted by X on") and its date
CUE_WINDOW = 120  # how far before a date a cue is looked for
CREDIT_REACH = 80  # a credit line's date is this close to the start of its line
MAX_SCAN = 1_000_000  # characters read: an article's text is far shorter; more is not an article
BYLINE_WORDS = 6  # words besides the date on a byline line ("By Ahmed Sabry | News |")
CUED_BYLINE_WORDS = 10  # ... or on one with a cue ("Posted by J. Smith on ... in Syria")

# Text is normalised before matching: digits to ASCII, Arabic letter variants to one form,
# Arabic diacritics and tatweel removed.  Month tables below are written in the normalised form.
_DIGITS = {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}}
_LETTERS = {ord(c): "ا" for c in "أإآٱ"} | {ord("ة"): "ه", ord("ى"): "ي", ord("،"): ","}
_DROP = {c: None for c in [*range(0x064B, 0x0653), 0x0670, 0x0640]}  # harakat, tatweel
_NORMALISE = _DIGITS | _LETTERS | _DROP

# Languages whose month names come from dateparser's locale data (English and Arabic are in the
# tables below).
FOREIGN_LANGUAGES = (
    "de", "es", "nl", "id", "fr", "it", "pt", "tr", "ru", "uk", "pl", "ro", "sv", "da", "nb",
    "fi", "cs", "hr", "hu", "ms", "ca",
)  # fmt: skip

EN_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}  # fmt: skip
# Three families: Egypt/Gulf (from the European names), Levant/Iraq (Syriac names), Maghreb
# (from French).  Normalised: hamza forms are plain alef, taa marbuta is haa.
AR_MONTHS = {
    "يناير": 1, "كانون الثاني": 1, "جانفي": 1,
    "فبراير": 2, "شباط": 2, "فيفري": 2,
    "مارس": 3, "اذار": 3,
    "ابريل": 4, "نيسان": 4, "افريل": 4,
    "مايو": 5, "ايار": 5, "ماي": 5,
    "يونيو": 6, "يونيه": 6, "حزيران": 6, "جوان": 6,
    "يوليو": 7, "يوليه": 7, "تموز": 7, "جويليه": 7,
    "اغسطس": 8, "اب": 8, "اوت": 8,
    "سبتمبر": 9, "ايلول": 9,
    "اكتوبر": 10, "تشرين الاول": 10,
    "نوفمبر": 11, "تشرين الثاني": 11,
    "ديسمبر": 12, "كانون الاول": 12,
}  # fmt: skip

_EN_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"  # fmt: skip
_AR_MONTH = "(?:" + "|".join(
    sorted((name.replace(" ", r"\s+") for name in AR_MONTHS), key=len, reverse=True)
) + ")"  # fmt: skip
_DAY = r"(?P<d>[0-3]?\d)"
_YEAR = r"(?P<y>(?:19|20)\d\d)(?!\d)"

# Each pattern names its groups d (day), m (month name or number) and y (year).
_PATTERNS = (
    # 6th December 2024, 20 Jun. 2017, 6th of December, 2024, 20-Jun-2017
    re.compile(rf"(?<![\w])(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?:\s+of)?[\s-]+(?P<m>{_EN_MONTH})"
               rf"\.?[\s,-]+{_YEAR}", re.IGNORECASE),
    # June 20, 2017; Dec. 6th 2024
    re.compile(rf"(?<![\w])(?P<m>{_EN_MONTH})\.?[\s-]+{_DAY}(?:st|nd|rd|th)?(?![\d\w]),?\s+{_YEAR}",
               re.IGNORECASE),
    # ٦ كانون الأول ٢٠٢٤, 6 ديسمبر/كانون الأول 2024, 6 ديسمبر (كانون الأول) 2024
    re.compile(rf"(?<!\d){_DAY}\s+(?P<m>{_AR_MONTH})(?:\s*[/(-]\s*{_AR_MONTH}\s*\)?)?"
               rf"\s*,?\s*(?:عام\s+|سنه\s+)?{_YEAR}"),
    # Other languages, day first: 6. August 2009, 6 de agosto de 2009, 14 maart 2016,
    # 17 Agustus 2018, 3 février 2015 (month names read by dateparser, see _month)
    re.compile(rf"(?<![\w.])(?P<d>[0-3]?\d)(?:\.|º|er)?\s+(?:de\s+)?(?P<m>[^\W\d_]{{3,12}})\.?,?"
               rf"\s+(?:de\s+|del\s+)?{_YEAR}"),
    # 2017-06-20, 2024/12/06, 2017-06-20T14:05:00Z
    re.compile(rf"(?<![\d.])(?P<y>(?:19|20)\d\d)(?P<s>[-/.])(?P<m>[01]?\d)(?P=s){_DAY}(?![\d.])"),
    # 20.06.2017 (dots: always day first); 20/06/2017 or 06/20/2017 only when unambiguous
    re.compile(rf"(?<![\d.])(?P<a>[0-3]?\d)(?P<s>[/.-])(?P<b>[01]?\d|[0-3]\d)(?P=s){_YEAR}"),
    # 12.01.17: a two-digit year, only with dots (day first, as in German and Dutch bylines)
    re.compile(r"(?<![\d.])(?P<a>[0-3]?\d)(?P<s>\.)(?P<b>[01]?\d)\.(?P<yy>\d\d)(?![\d.])"),
)  # fmt: skip

_STRONG_CUE = (
    r"first\s+published|originally\s+published|date\s+published|publication\s+date|"
    r"published|publish\s+date|posted|(?:ال)?نشر(?:ت)?|"
    r"veröffentlicht|erschienen|publiziert|publicado|publicada|gepubliceerd|diterbitkan|"
    r"publié|publiée|pubblicato|publicat|opublikowano|datum|fecha|tanggal|date"
)
_WEAK_CUE = r"last\s+updated|updated|modified|edited|(?:اخر\s+)?تحديث|(?:ال)?محدث"
# What may stand before a cue at the start of a credit line deep in a page ("This article was
# first published on ...", "تم النشر في ..."); anything else makes it part of the story.
_CREDIT_LEAD = re.compile(
    r"\W*(?:(?:this|the)\s+(?:article|story|post|report|piece)\s+(?:was|is|has\s+been)\s+"
    r"|article\s+|story\s+|تم\s+)?",
    re.IGNORECASE,
)
_CUES = re.compile(
    rf"(?<!\w)(?:(?P<strong>{_STRONG_CUE})|(?P<weak>{_WEAK_CUE}))(?!\w)", re.IGNORECASE
)
_LABEL = re.compile(rf"\W*(?:{_STRONG_CUE})\s*:?\s*", re.IGNORECASE)
# A byline's "By <name> on", "Von <name> am", "Par <name> le" opening its line, right before
# the date: it dates the article wherever it stands (Movable Type and WordPress themes put it
# under the story).  The name is a few words without sentence punctuation.
_NAME_BYLINE = re.compile(
    r"\W*(?:by|von|par|por|door|oleh|di)\s+[^\W\d][^\n.!?:;,|]{0,40}?"
    r"\s+(?:on|am|le|el|op|pada|il)\s*",
    re.IGNORECASE,
)


def is_publication_label(text: str) -> bool:
    """A label that says what follows is the publication date ("Datum", "Published:",
    "Veröffentlicht"), as in a definition list's <dt>."""
    return bool(_LABEL.fullmatch(normalise(" ".join(text.split()))))


@dataclass(frozen=True)
class _Found:
    """One date found in the text, and where its line starts and ends (offsets, not copies:
    a page's text can be one multi-megabyte line with thousands of dates in it)."""

    text: str  # the whole normalised text
    date: datetime.date
    start: int
    end: int
    line_start: int  # offset of the first non-blank character of the line
    line_end: int  # offset just after the last non-blank character of the line
    line_number: int  # among non-empty lines, from 0

    @property
    def line_length(self) -> int:
        return self.line_end - self.line_start

    @property
    def before(self) -> str:
        """The line before the date, at most CUE_WINDOW characters of it."""
        return self.text[max(self.line_start, self.start - CUE_WINDOW) : self.start]


def normalise(text: str) -> str:
    """One spelling for digits and Arabic letters, so that patterns and tables stay small."""
    return text.translate(_NORMALISE)


def _month(name_or_number: str) -> int | None:
    key = " ".join(name_or_number.lower().rstrip(".").split())
    if key.isdigit():
        return int(key)
    return EN_MONTHS.get(key) or AR_MONTHS.get(key) or _foreign_month(key)


_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip


@functools.cache
def _foreign_months() -> dict[str, int]:
    """Month names and abbreviations of FOREIGN_LANGUAGES from dateparser's locale data
    ("agosto", "maart", "Agustus", "février", "märz"...).  A name that means different months
    in two languages (Croatian "listopad" is October, Polish and Czech November) is left out."""
    table: dict[str, int] = {}
    clashes: set[str] = set()
    for code in FOREIGN_LANGUAGES:
        info = default_loader.get_locale(code).info
        for number, key in enumerate(_MONTH_KEYS, 1):
            for name in info.get(key, []):
                word = normalise(name.lower()).rstrip(".")
                if len(word) < 3 or not word.isalpha():
                    continue
                if table.setdefault(word, number) != number:
                    clashes.add(word)
    return {word: n for word, n in table.items() if word not in clashes}


def _foreign_month(word: str) -> int | None:
    """The month a word names in one of the languages news sites write in, or None."""
    return _foreign_months().get(word)


def _match_date(match: re.Match[str]) -> datetime.date | None:
    """The date a pattern match stands for, or None when it is not a real calendar date."""
    groups = match.groupdict()
    if groups.get("yy") is not None:  # two digits: the nearest year not in the future
        year = 2000 + int(groups["yy"])
        if year > datetime.date.today().year:
            year -= 100
    else:
        year = int(groups["y"])
    if groups.get("a") is not None:  # numeric day/month in either order
        first, second = int(groups["a"]), int(groups["b"])
        if groups["s"] == "." or first > 12:
            day, month = first, second
        elif second > 12 or first == second:
            day, month = second, first
        else:
            return None  # 06/07/2017 is June in America and July in Britain: no guess
    else:
        day, month = int(groups["d"]), _month(groups["m"]) or 0
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _matches(text: str) -> Iterator[tuple[int, int, datetime.date]]:
    """(start, end, date) of every date in normalised text, in text order, overlaps removed."""
    spans: list[tuple[int, int, datetime.date]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            date = _match_date(match)
            if date is not None:
                spans.append((match.start(), match.end(), date))
    spans.sort()
    last_end = -1
    for start, end, date in spans:
        if start >= last_end:
            last_end = end
            yield start, end, date


def parse_date(phrase: str) -> datetime.date | None:
    """The first date written in a short phrase (a <time> text, a meta value), any position.

    No cue or plausibility rules: the caller knows the phrase is meant to be a date.
    """
    return next((date for _, _, date in _matches(normalise(phrase))), None)


def plausible(date: datetime.date, today: datetime.date | None = None) -> bool:
    """A publication date can be neither before the web nor in the future (one day of slack
    for time zones ahead of ours)."""
    today = today or datetime.date.today()
    return EARLIEST <= date <= today + datetime.timedelta(days=1)


def _found(text: str, today: datetime.date) -> Iterator[_Found]:
    """Every plausible date in normalised text, with the line it stands on."""
    lines = text.split("\n")
    starts, ends, numbers = [], [], []
    offset = seen = 0
    for line in lines:
        stripped = line.strip()
        lead = len(line) - len(line.lstrip())
        starts.append(offset + lead)
        ends.append(offset + lead + len(stripped))
        numbers.append(seen)
        offset += len(line) + 1
        seen += bool(stripped)
    index = 0
    for start, end, date in _matches(text):
        if not plausible(date, today):
            continue
        while index + 1 < len(starts) and starts[index + 1] <= start:
            index += 1
        yield _Found(text, date, start, end, starts[index], ends[index], numbers[index])


def _cue_before(found: _Found) -> str | None:
    """'strong' or 'weak' when a publication cue stands just before the date, placed like a
    byline or a credit line; None otherwise."""
    if (
        found.line_length <= SHORT_LINE
        and _NAME_BYLINE.fullmatch(found.text, found.line_start, found.start)
        and _byline_shaped(found, CUED_BYLINE_WORDS)
    ):
        return "strong"  # "Von Christian am 03.05.2013, 11:51 | 0 Meinungen"
    if found.start - found.line_start > CREDIT_REACH and not _near_top_short(found):
        return None  # deep in the page and deep in its line: neither a byline nor a credit line
    before = found.before
    cues = list(_CUES.finditer(before))
    if not cues:
        return None
    cue = cues[-1]  # the nearest: "Published: June 20, 2017 | Updated: March 2, 2023"
    between = before[cue.end() :]
    if len(between) > CUE_REACH or any(c in between for c in "!?"):
        return None
    cue_start = found.start - len(before) + cue.start()
    reach = cue_start - found.line_start
    lead = found.text[found.line_start : cue_start] if reach <= CREDIT_REACH else "-"
    credit_line = _CREDIT_LEAD.fullmatch(lead)
    byline = _near_top_short(found) and _byline_shaped(found, CUED_BYLINE_WORDS)
    if not (credit_line or byline):
        return None  # "... the clip was first posted on 3 March 2016" is part of the story
    return "strong" if cue.group("strong") else "weak"


def _near_top_short(found: _Found) -> bool:
    """On one of the first lines of the page, and short enough to be a byline."""
    return (
        found.line_number < TOP_LINES
        and found.start < TOP_CHARS
        and found.line_length <= SHORT_LINE
    )


def _byline_shaped(found: _Found, max_words: int = BYLINE_WORDS) -> bool:
    """A date standing (nearly) alone on a short line: "6th December 2024", "By A. Sabry |
    6 December 2024".  A caption or a lede sentence ("Fighters in Palmyra on 3 March 2016.")
    is not.  Call only for short lines (the line is copied)."""
    text = found.text
    tokens = text[found.line_start : found.start].split() + text[found.end : found.line_end].split()
    words = [t for t in tokens if any(c.isalnum() for c in t)]  # "|", "·", "-" are not words
    return len(words) <= max_words and text[found.line_end - 1 : found.line_end] != "."


def date_in_text(text: str) -> datetime.date | None:
    """The publication date a page's text states, or None.

    Trust order: a date after a publication cue ("published", "posted", "نشر", "تاريخ النشر")
    on a byline-like line, the earliest if several (the first publication, not a re-post);
    then a date alone on a short line near the top (a byline without a cue); then a date after
    an "updated" cue, for want of anything better.  Dates deep in the body without a cue, dates
    without a year ("May 26 elections") and bare years ("In 2015") are never taken.
    """
    if not text:
        return None
    strong: list[datetime.date] = []
    weak: list[datetime.date] = []
    top: list[datetime.date] = []
    today = datetime.date.today()
    for found in _found(normalise(text[:MAX_SCAN]), today):
        cue = _cue_before(found)
        if cue == "strong":
            strong.append(found.date)
        elif cue == "weak":
            weak.append(found.date)
        elif _near_top_short(found) and _byline_shaped(found):
            top.append(found.date)
    if strong:
        return min(strong)
    if top:
        return top[0]
    return min(weak) if weak else None
