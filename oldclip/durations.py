"""Durations as the config and the command line write them: "90s", "10m", "2h", "1d".

A bare number is refused where seconds and minutes could be confused; a TOML number given
for a poll interval is seconds.
"""

from __future__ import annotations

import re

DAY = 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)


def is_duration_key(name: str) -> bool:
    """Keys in seconds or hours also take "10m", "2h", "1d"."""
    return name.endswith(("_s", "_h")) or name in ("max_duration", "max_seconds")


def parse_seconds(text: str) -> float:
    """Seconds in "90s", "10m", "1.5h" or "1d"; a bare number is refused (seconds or minutes?)."""
    found = _DURATION_RE.match(str(text))
    if not found:
        if str(text).strip().replace(".", "", 1).isdigit():
            raise ValueError(f"{text!r} has no unit: write {str(text).strip()}s, or use m, h, d")
        raise ValueError(f"{text!r} is not a duration: use 90s, 10m, 2h or 1d")
    return float(found.group(1)) * UNITS[found.group(2).lower()]


def parse_duration(text: str | int) -> int:
    """A poll interval in whole seconds: "90s", "10m", "2h", "1d" (a TOML number is seconds)."""
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        seconds = round(parse_seconds(str(text)))
    if seconds < 10:
        raise ValueError(f"{text!r} is too short: poll at most every 10 seconds")
    return seconds
