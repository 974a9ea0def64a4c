"""Plain-text answers for people: the verdict of a check and the card of a clip."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import storage
from watchers.post import DATE_SIGNALS

if TYPE_CHECKING:  # the library (numpy) and page import load only with the commands using them
    from .library import CheckResult, ClipMatch
    from .pageimport import PageReport

# Control characters but line feed and tab: ESC starts terminal sequences that retitle the
# window, rewrite the screen or (on some terminals) write files; CR and BS overwrite a line.
# The C1 range (0x80-0x9f) includes CSI, which some terminals obey like ESC [.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown as ``\\u001b`` escapes.

    Titles, descriptions and URLs come from pages, feeds and bundles written by strangers.
    The escapes are JSON's own, so JSON output stays valid JSON with the same meaning.
    """
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TerminalFormatter(logging.Formatter):
    """Log lines with control characters escaped: they quote feeds, pages and file names."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal(super().format(record))


def log_to_terminal(level: int, fmt: str) -> None:
    """Send log lines to stderr, escaped, unless logging was set up already (by a host)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(TerminalFormatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)


def _seconds(value: float) -> str:
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}:{seconds:02d}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 clip", "2 clips" (``many`` for irregular words)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def ago(then: datetime, now: datetime) -> str:
    """How long ago, in the largest whole unit that fits: "12 minutes ago", "3 hours ago"."""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{plural(seconds // size, unit)} ago"
    return "just now"


def verdict(
    name: str,
    result: CheckResult,
    library_size: int,
    *,
    min_age_h: float = 48.0,
    library_path: str = "",
) -> str:
    """The answer to `oldclip check`, for people.

    "OLD FOOTAGE" only when a match is old by the one rule (``ClipMatch.evidence``): a clip, or
    a watcher's sighting at least ``min_age_h`` old.  A younger sighting is reported as seen
    before, with when and where, never as old footage.
    """
    from .library import parse_time

    now = datetime.now(UTC)
    if not result.matches:
        if library_size == 0:
            where = f" at {library_path}" if library_path else ""
            return (
                f"{name}: no match in the archive: the library{where} has no clips yet. Add "
                "known-old clips with `oldclip add` or `oldclip import` (or choose another "
                "library with --db)."
            )
        return (
            f"{name}: no match in the archive of {plural(library_size, 'clip')}.\n"
            "That does not prove the footage is new: search key frames with a reverse image "
            "search, and add the clip once its origin is known."
        )
    old = [f for f in result.matches if f.evidence(now, min_age_h) is not None]
    pictured = [f for f in result.matches if not f.match.sound_only]
    if old:
        lines = [f"{name}: OLD FOOTAGE. It matches {plural(len(old), 'item')} in the archive."]
    elif not pictured:
        lines = [
            f"{name}: no picture match. Its sound matches "
            f"{plural(len(result.matches), 'item')} in the archive, but the picture differs: "
            "the sound (music, a voice-over) may have been laid over other footage, which does "
            "not make this footage old."
        ]
    else:
        first = pictured[0].sightings[0]
        lines = [
            f"{name}: seen before, {ago(parse_time(first.seen_at), now)}, at "
            f"{first.post_url or first.url}. The watchers archived it recently, which does not "
            "make it old footage."
        ]
    for found in old or result.matches:
        lines.extend(_match_lines(found, result.fingerprint.kind, now, min_age_h))
    return "\n".join(lines)


# What agreed on a match, in the words of the answer (``ClipMatch.agreement``).
AGREEMENT = {
    "picture": "picture",
    "picture_and_sound": "picture and sound",
    "sound_only": "sound only, the picture differs",
}


def _match_lines(found: ClipMatch, query_kind: str, now: datetime, min_age_h: float) -> list[str]:
    from .library import parse_time

    m, clip = found.match, found.clip
    lines = []
    if clip is not None:
        lines.append(f"- clip {clip.id}: {clip.title}")
        lines.append(f"  first published {clip.first_seen} at {clip.source}")
        if clip.description:
            lines.append(f"  shows: {clip.description}")
        if clip.claim:
            lines.append(f"  passed off as: {clip.claim}")
        if clip.verdict_url:
            rated = f" ({clip.rating})" if clip.rating else ""
            lines.append(f"  fact-check{rated}: {clip.verdict_url}")
    else:
        first = found.sightings[0]
        where = first.post_url or first.url
        if found.evidence(now, min_age_h) is not None:
            lines.append(f"- seen before: first seen {first.seen_at} at {where}")
        else:
            lines.append(f"- seen {ago(parse_time(first.seen_at), now)} at {where}")
    lines.append(f"  matched by: {AGREEMENT[found.agreement]}")
    score = f"  score {m.score:.2f}"
    mirrored = ", mirrored" if m.mirrored else ""
    if query_kind == "photo" and found.kind == "photo":
        turned = ", rotated or flipped" if m.mirrored else ""
        lines.append(f"{score}, the same photo{turned}")
    elif query_kind == "photo":
        lines.append(f"{score}, a frame at {_seconds(m.ref_start)} of the original{mirrored}")
    elif found.kind == "photo":
        at = _seconds(m.query_start)
        lines.append(f"{score}, the photo is shown at {at} of this file{mirrored}")
    else:
        agree = plural(m.frames_matched, "frame agrees", "frames agree")
        span = (
            f"{_seconds(m.query_start)}-{_seconds(m.query_end)} of this file = "
            f"{_seconds(m.ref_start)}-{_seconds(m.ref_end)} of the original"
        )
        lines.append(f"{score}, {agree}{mirrored}; {span}")
    return lines


def date_signal(signal: str | None) -> str:
    """Why a date is believed, in a fact-checker's words ("from the page text, please confirm")."""
    return DATE_SIGNALS.get(signal or "", signal or "source of the date not recorded")


def _first_seen(clip: storage.Clip, sources: list[storage.ClipSource]) -> str:
    """The clip's first-seen date, with the signal its earliest source took it from."""
    earliest = next((s for s in sources if s.first_seen == clip.first_seen and s.date_from), None)
    return f"{clip.first_seen} ({date_signal(earliest.date_from)})" if earliest else clip.first_seen


def clip_details(
    clip: storage.Clip, media: storage.Media | None, sources: list[storage.ClipSource] = ()
) -> str:
    rows = [
        ("clip", str(clip.id)),
        ("title", clip.title),
        ("benign", "yes: never reported, its frames are ignored" if clip.benign else ""),
        ("first seen", _first_seen(clip, sources)),
        ("source", clip.source),
        ("shows", clip.description or ""),
        ("claim", clip.claim or ""),
        ("fact-check", " ".join(filter(None, [clip.rating, clip.verdict_url]))),
        ("language", clip.language or ""),
        ("tags", ", ".join(clip.tags)),
        ("added", f"{clip.added_at} by {clip.added_by or 'unknown'}"),
    ]
    if media is not None:
        size = f"{media.width}x{media.height}"
        length = f", {media.duration:.1f} s" if media.kind == "video" and media.duration else ""
        rows.append(("media", f"{media.kind} {size}{length}, sha256 {media.sha256[:16]}…"))
    for number, source in enumerate(sources):
        via = f" (via {source.via})" if source.via else ""
        why = f" [{date_signal(source.date_from)}]" if source.date_from else ""
        rows.append(
            (
                "sources" if number == 0 else "",
                f"{source.first_seen} {source.kind} {source.url}{via}{why}",
            )
        )
    return "\n".join(f"{key:>10}{':' if key else ' '} {value}" for key, value in rows if value)


def feed_line(feed: storage.Feed) -> str:
    """One line per feed: what it is and how it is doing."""
    if feed.consecutive_failures:
        health = f"FAILING x{feed.consecutive_failures}: {feed.last_error}"
    elif feed.last_success_at:
        health = f"ok, last polled {feed.last_success_at}"
    else:
        health = "not polled yet"
    if feed.skipped_items:
        items = "1 item" if feed.skipped_items == 1 else f"{feed.skipped_items} items"
        health += f"; {items} skipped, the latest: {feed.last_skipped}"
    label = f" [{feed.label}]" if feed.label else ""
    return f"{feed.id:>4}  {feed.kind:<9} {feed.target}{label}  every {feed.interval_s}s  {health}"


def repost_line(repost: storage.Repost) -> str:
    what = f"clip {repost.clip_id}: {repost.clip_title}" if repost.clip_id else "earlier post"
    return (
        f"{repost.published or repost.created_at}  {repost.source}  {repost.post_url}\n"
        f"      = {what}, first seen {repost.first_seen} at {repost.first_source}; "
        f"score {repost.score:.2f}, {repost.query_start:.0f}-{repost.query_end:.0f} s of the "
        f"post = {repost.ref_start:.0f}-{repost.ref_end:.0f} s of the original"
    )


OUTCOMES = {
    "new": "new clip",
    "merged": "already in the library: added this page as a source",
    "known": "already in the library with this source",
}


def page_report(report: PageReport) -> str:
    """What a page gave the library, and what it could not use, for `oldclip import-page`."""
    p = report.provenance
    kind = "fact-check" if p.source_kind == "factcheck" else "page"
    lines = [f"{kind}: {p.title}", f"  dated {p.source_date}, {p.source}"]
    if p.date_from:
        lines.append(f"  date: {date_signal(p.date_from)}")
    if p.claim:
        lines.append(f"  claim: {p.claim}")
    if p.rating:
        lines.append(f"  verdict: {p.rating}")
    for url, when in p.appearances:
        lines.append(f"  footage seen {when} at {url}")
    for url, clip_id, outcome in report.clips:
        saved = f" (from {report.saved[url]})" if url in report.saved else ""
        lines.append(f"+ clip {clip_id} ({OUTCOMES[outcome]}): {url}{saved}")
    for url, why in report.skipped:
        lines.append(f"- skipped {url}: {why}")
    if not report.clips:
        lines.append("Nothing was added.")
    return "\n".join(lines)


def page_report_dict(report: PageReport) -> dict:
    saved = {url: str(path) for url, path in report.saved.items()}
    return {
        "page": report.page,
        "provenance": report.provenance.as_dict(),
        "clips": [
            {"media": u, "clip_id": c, "outcome": o, "file": saved.get(u)}
            for u, c, o in report.clips
        ],
        "skipped": [{"media": u, "reason": why} for u, why in report.skipped],
    }
