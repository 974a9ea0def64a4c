"""Reading the config file's tables into settings dataclasses, checking every value.

Each value is checked for its type (durations may be written "10m"), its bounds and unknown
keys; every problem is collected with the line it is on (``Problems``) and reported at once,
so a config file is fixed in one go.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from .durations import DAY, is_duration_key, parse_seconds


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


# Sensible ranges, inclusive.  A value outside them is a typo or a misunderstanding (min_score
# 25 instead of 0.25 makes every check "no match"; sample_fps 0 divides by zero), never a
# setting anyone needs.
BOUNDS: dict[str, dict[str, tuple[float, float]]] = {
    "library": {"refresh_s": (0.1, 3600.0), "changes_keep_h": (1.0, 24.0 * 365)},
    "matching": {
        "index_radius": (0, 256),
        "frame_radius": (0, 256),
        "photo_radius": (0, 256),
        "min_score": (0.0, 1.0),
        "time_tolerance": (0.0, 60.0),
        "max_candidates": (1, 10_000),
        "benign_radius": (0, 256),
    },
    "limits": {
        "max_pixels": (64 * 64, 2**31 - 1),
        "max_duration": (1.0, 7 * DAY),
        "max_seconds": (1.0, DAY),
        "sample_fps": (0.1, 60.0),
        "anchor_fps": (0.1, 60.0),
        "cut_threshold": (0.0, 255.0),
        "min_cut_gap": (0.0, 60.0),
    },
    "watch": {
        "poll_interval_s": (10, 30 * DAY),
        "jitter": (0.0, 1.0),
        "down_after": (1, 10_000),
        "max_backoff_s": (10, 30 * DAY),
        "feed_timeout_s": (1.0, 3600.0),
        "max_media_mb": (1, 100_000),
        "download_timeout_s": (1.0, DAY),
        "max_attempts": (1, 1000),
        "retry_base_s": (1.0, DAY),
        "fingerprint_workers": (1, 256),
        "group_window_s": (0, 30 * DAY),
        "sighting_min_age_h": (0.0, 24.0 * 3650),
        "bundle_max_mb": (1, 1_000_000),
        "bundle_timeout_s": (1.0, 7 * DAY),
    },
    "network": {"per_host_limit": (1, 1000)},
    "bot": {
        "requests_per_minute": (0.1, 10_000.0),
        "alert_interval_s": (0.1, 3600.0),
        "link_max_mb": (1, 2000),
        "link_max_duration_s": (1, DAY),
        "link_timeout_s": (1.0, 600.0),
        "webhook_port": (1, 65535),
    },
}


class Problems:
    """Every problem of one config file, each with its line, reported at once.

    tomllib gives values without positions, so a key's line is found by reading the file's
    table headers and ``key =`` lines; an error about a key not written there has no line.
    """

    def __init__(self, path: Path, text: str):
        self.path = path
        self.found: list[str] = []
        self._lines: dict[tuple[str, int, str], int] = {}
        self._tables: dict[tuple[str, int], int] = {}
        table, counts = "", {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = re.match(r"^\s*\[(\[)?\s*([A-Za-z0-9_.-]+)\s*\]", line)
            if header:
                table = header.group(2)
                counts[table] = counts.get(table, -1) + 1 if header.group(1) else 0
                self._tables.setdefault((table, counts[table]), number)
                continue
            key = re.match(r"^\s*([A-Za-z0-9_-]+)\s*=", line)
            if key:
                self._lines.setdefault((table, counts.get(table, 0), key.group(1)), number)

    def add(self, message: str, table: str = "", key: str = "", index: int = 0) -> None:
        line = self._lines.get((table, index, key)) or self._tables.get((table, index))
        where = f"{self.path}:{line}" if line else str(self.path)
        self.found.append(f"{where}: {message}")

    def check(self) -> None:
        if len(self.found) == 1:
            raise ConfigError(self.found[0])
        if self.found:
            listed = "\n".join(f"  {problem}" for problem in self.found)
            raise ConfigError(f"{self.path} has {len(self.found)} problems:\n{listed}")


def read_text_table(
    data: dict, name: str, keys: set[str], problems: Problems, numbers: set[str] = frozenset()
) -> dict:
    """Section ``name`` whose keys are all text (but ``numbers``, read by ``read_section``): a
    misspelt key would otherwise silently fall back to the default database, so unknown ones
    are problems."""
    table = read_table(data, name, problems)
    for key, value in table.items():
        if key in numbers:
            continue
        if key not in keys:
            problems.add(f"unknown key {name}.{key} (see config.example.toml)", name, key)
        elif not isinstance(value, str):
            problems.add(f"{name}.{key} must be text in quotes, not {value!r}", name, key)
    return table


def read_table(data: dict, name: str, problems: Problems) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.add(f"[{name}] must be a table", name)
        return {}
    return value


TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def read_section(cls, data: dict, name: str, problems: Problems):
    """One table read into its dataclass; every bad key is added to ``problems``."""
    values = read_table(data, name, problems)
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    good = {}
    for key, value in values.items():
        if key not in known:
            problems.add(f"unknown key {name}.{key} (see config.example.toml)", name, key)
            continue
        try:
            good[key] = _value(name, key, value, getattr(defaults, key), known[key])
        except ValueError as exc:
            problems.add(f"{name}.{key} {exc}", name, key)
    return cls(**good)


def _value(section: str, key: str, value, default, spec):
    """``value`` as the type of ``default``, within its bounds, or ValueError saying why."""
    if isinstance(default, tuple):  # a TOML list, of the type the annotation names
        item = int if "tuple[int" in str(spec.type) else str
        if not isinstance(value, list) or not all(
            isinstance(v, item) and not isinstance(v, bool) for v in value
        ):
            kind = "numbers" if item is int else "strings"
            raise ValueError(f"must be a list of {kind}, not {value!r}")
        return tuple(value)
    kind = type(default)
    if isinstance(value, str) and kind in (int, float) and is_duration_key(key):
        seconds = parse_seconds(value)
        value = seconds / 3600 if key.endswith("_h") else seconds
        if kind is int:
            value = round(value)
    number = kind in (int, float) and isinstance(value, int | float) and not isinstance(value, bool)
    if kind is float and number:
        value = float(value)
    elif kind is int and number and float(value).is_integer():
        value = int(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"must be {TYPE_WORDS.get(kind, kind.__name__)}, not {value!r}")
    bounds = BOUNDS.get(section, {}).get(key)
    if bounds and not bounds[0] <= value <= bounds[1]:
        low, high = bounds
        raise ValueError(f"must be from {low:g} to {high:g}, not {value!r}")
    return value
