"""Configuration: a TOML file (``config.toml``, git-ignored) over built-in defaults.

Precedence, highest first: command-line flags, environment (``OLDCLIP_DB``, ``OLDCLIP_CONFIG``),
the config file, the defaults below.  ``config.example.toml`` documents every key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from platformdirs import user_data_dir

from fingerprint import Limits, MatchSettings


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    database: Path = field(default_factory=lambda: Path(user_data_dir("oldclip")) / "library.db")
    matching: MatchSettings = field(default_factory=MatchSettings)
    limits: Limits = field(default_factory=Limits)
    source: Path | None = None  # the file it was read from, if any


def load_config(path: str | Path | None = None, database: str | Path | None = None) -> Config:
    """Read the config file (explicit path, $OLDCLIP_CONFIG, or ./config.toml when present)."""
    explicit = path or os.environ.get("OLDCLIP_CONFIG")
    candidate = Path(explicit) if explicit else Path("config.toml")
    data: dict = {}
    if candidate.is_file():
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate}: not valid TOML ({exc})") from None
    elif explicit:
        raise ConfigError(f"{candidate}: no such config file (copy config.example.toml)")

    library = _table(data, "library", candidate)
    for key in library:
        if key != "database":  # a misspelt key would silently fall back to the default database
            raise ConfigError(f"{candidate}: unknown key library.{key} (see config.example.toml)")
    db = database or os.environ.get("OLDCLIP_DB") or library.get("database")
    config = Config(
        matching=_section(MatchSettings, data, "matching", candidate),
        limits=_section(Limits, data, "limits", candidate),
        source=candidate if candidate.is_file() else None,
    )
    if db:
        config = Config(Path(db).expanduser(), config.matching, config.limits, config.source)
    return config


def _table(data: dict, name: str, path: Path) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return value


def _section(cls, data: dict, name: str, path: Path):
    values = _table(data, name, path)
    known = {f.name: f for f in fields(cls)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {name}.{key} (see config.example.toml)")
        default = getattr(cls(), key)
        if not isinstance(value, type(default)) and not (
            isinstance(default, float) and isinstance(value, int)
        ):
            raise ConfigError(
                f"{path}: {name}.{key} must be a {type(default).__name__}, not {value!r}"
            )
    return cls(**{k: type(getattr(cls(), k))(v) for k, v in values.items()})
