"""`oldclip check`: is a file, or the video of a post, old footage? (exit status for scripts)"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import storage

from ..render import verdict
from . import UsageError, say

if TYPE_CHECKING:
    from ..library import Library

# `oldclip check` exit statuses, for scripts (documented in the README and --help).
CHECK_OLD, CHECK_ERROR, CHECK_NOT_OLD = 0, 1, 3


def cmd_check(library: Library, args: argparse.Namespace) -> int:
    target = str(args.file)
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
        with tempfile.TemporaryDirectory(prefix="oldclip-check-") as folder:
            return _check(library, args, _download(library, target, Path(folder)), target)
    path = Path(target)
    if path.is_dir():
        raise UsageError(f"{target} is a folder: check one video or photo file at a time")
    if not path.exists():
        raise UsageError(f"{target}: no such file")
    return _check(library, args, path, path.name)


def _download(library: Library, url: str, folder: Path) -> Path:
    """The video of a post on a supported site, with the bot's downloader and caps."""
    from ..links import LinkError, download_link

    settings = library.config.bot
    try:
        return download_link(
            url,
            folder,
            max_bytes=settings.link_max_mb * 1_000_000,
            max_duration_s=settings.link_max_duration_s,
            socket_timeout_s=settings.link_timeout_s,
            proxy=settings.link_proxy or None,
        )
    except LinkError as exc:
        raise UsageError(
            f"{url}: {exc} (links to posts on YouTube, X, TikTok, Facebook, Instagram, Reddit, "
            "Bluesky, Vimeo and t.me are downloaded; for anything else save the file and check it)"
        ) from None


def _check(library: Library, args: argparse.Namespace, path: Path, name: str) -> int:
    result = library.check_file(path)
    min_age_h = library.config.watch.sighting_min_age_h
    clips = storage.count_clips(library.db)
    now = datetime.now(UTC)
    old = any(m.evidence(now, min_age_h) is not None for m in result.matches)
    if args.json:
        if old:
            verdict_word = "old"
        elif not result.matches:
            verdict_word = "no_match"
        elif all(m.match.sound_only for m in result.matches):
            verdict_word = "sound_only"  # the sound matches, the picture differs: not old
        else:
            verdict_word = "seen_recently"
        say(
            json.dumps(
                {
                    "file": name,
                    "verdict": verdict_word,
                    "matches": [m.as_dict(now, min_age_h) for m in result.matches],
                    "library": {"path": library.config.database_label, "clips": clips},
                    "fingerprint_ms": round(result.fingerprint_ms, 1),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        say(
            verdict(
                name,
                result,
                clips,
                min_age_h=min_age_h,
                library_path=library.config.database_label,
            )
        )
    return CHECK_OLD if old else CHECK_NOT_OLD
