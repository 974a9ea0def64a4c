"""Plain-text answers for people: the verdict of a check and the card of a clip."""

from __future__ import annotations

import storage
from watchers.post import DATE_SIGNALS

from .library import CheckResult
from .pageimport import PageReport


def _seconds(value: float) -> str:
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}:{seconds:02d}"


def verdict(name: str, result: CheckResult, library_size: int) -> str:
    if not result.matches:
        clips = "1 clip" if library_size == 1 else f"{library_size} clips"
        return (
            f"{name}: no match in the archive of {clips}.\n"
            "That does not prove the footage is new: search key frames with a reverse image "
            "search, and add the clip once its origin is known."
        )
    lines = [f"{name}: OLD FOOTAGE. It matches {len(result.matches)} item(s) in the archive."]
    for found in result.matches:
        m, clip = found.match, found.clip
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
        elif found.sightings:
            first = found.sightings[0]
            lines.append(f"- seen before: first seen {first.seen_at} at {first.url}")
        span = (
            f"{_seconds(m.query_start)}-{_seconds(m.query_end)} of this file = "
            f"{_seconds(m.ref_start)}-{_seconds(m.ref_end)} of the original"
        )
        mirrored = ", mirrored" if m.mirrored else ""
        lines.append(f"  score {m.score:.2f}, {m.frames_matched} frames agree{mirrored}; {span}")
    return "\n".join(lines)


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
