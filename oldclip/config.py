"""Configuration: a TOML file (``config.toml``, git-ignored) over built-in defaults.

Precedence, highest first: command-line flags, environment (``OLDCLIP_DB``, ``OLDCLIP_CONFIG``),
the config file, the defaults below.  ``config.example.toml`` documents every key.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from platformdirs import user_data_dir

from bot.settings import BotSettings
from fingerprint import Limits, MatchSettings


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class WatchSettings:
    """How the watchers poll, download and decide (``[watch]`` in the config)."""

    poll_interval_s: int = 600  # default for feeds added without --every
    jitter: float = 0.1  # share of the interval added at random, so polls do not bunch up
    down_after: int = 5  # failed polls in a row before the admins are alerted
    max_backoff_s: int = 6 * 3600  # longest wait between polls of a failing feed
    feed_timeout_s: float = 30.0  # seconds a feed page may take
    max_media_mb: int = 200  # larger downloads are abandoned
    download_timeout_s: float = 180.0
    max_attempts: int = 5  # tries per media item before it is marked failed
    retry_base_s: float = 60.0  # first retry delay; doubles with each attempt
    fingerprint_workers: int = 1  # processes fingerprinting in parallel
    worker_memory_mb: int = 2048  # memory a decoding worker may allocate (0: no cap)
    worker_timeout_s: float = 600.0  # wall-clock time one file may take in a worker
    group_window_s: int = 3600  # reposts of one clip within this window make one alert
    sighting_min_age_h: float = 48.0  # an earlier sighting this old makes a repost
    media_dir: str = ""  # where downloads are archived; default: beside the database
    bundle_max_mb: int = 2048  # bundles pulled from other newsrooms: the largest accepted
    bundle_timeout_s: float = 1800.0  # ... and how long their download may take


@dataclass(frozen=True)
class NetworkSettings:
    """``[network]``: the SSRF guard and politeness."""

    allow_private_addresses: bool = False  # tests turn it on for their loopback servers
    per_host_limit: int = 4  # connections at once to one host
    # Exceptions to the guard (e.g. ["127.0.0.0/8"] for a loopback test server or a trusted
    # internal mirror); everything else private stays refused, redirects included.
    allowed_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedSpec:
    """A feed declared in the config file (``[[feeds]]``)."""

    kind: str
    target: str
    every_s: int | None = None
    label: str | None = None
    language: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    database: Path = field(default_factory=lambda: Path(user_data_dir("oldclip")) / "library.db")
    matching: MatchSettings = field(default_factory=MatchSettings)
    limits: Limits = field(default_factory=Limits)
    watch: WatchSettings = field(default_factory=WatchSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    feeds: tuple[FeedSpec, ...] = ()
    source: Path | None = None  # the file it was read from, if any
    publisher: str = ""  # who `oldclip export` says a bundle is from ([library] publisher)
    publisher_contact: str = ""  # how other newsrooms reach them ([library] publisher_contact)

    @property
    def media_dir(self) -> Path:
        return (
            Path(self.watch.media_dir).expanduser()
            if self.watch.media_dir
            else (self.database.parent / "media")
        )


TABLES = {"library", "matching", "limits", "watch", "network", "feeds", "bot"}
LIBRARY_KEYS = {"database", "publisher", "publisher_contact"}


def parse_duration(text: str | int) -> int:
    """Seconds in "90s", "10m", "2h", "1d" or a bare number of seconds."""
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        value = str(text).strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        scale = units.get(value[-1:])
        number = value[:-1] if scale else value
        if not number.isdigit():
            raise ValueError(f"{text!r} is not a duration: use 90s, 10m, 2h or 1d")
        seconds = int(number) * (scale or 1)
    if seconds < 10:
        raise ValueError(f"{text!r} is too short: poll at most every 10 seconds")
    return seconds


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

    for name in data:
        if name not in TABLES:
            raise ConfigError(f"{candidate}: unknown section [{name}] (see config.example.toml)")
    library = _table(data, "library", candidate)
    for key, value in library.items():
        # A misspelt key would silently fall back to the default database.
        if key not in LIBRARY_KEYS:
            raise ConfigError(f"{candidate}: unknown key library.{key} (see config.example.toml)")
        if key != "database" and not isinstance(value, str):
            raise ConfigError(f"{candidate}: library.{key} must be a string, not {value!r}")
    db = database or os.environ.get("OLDCLIP_DB") or library.get("database")
    config = Config(
        matching=_section(MatchSettings, data, "matching", candidate),
        limits=_section(Limits, data, "limits", candidate),
        watch=_section(WatchSettings, data, "watch", candidate),
        network=_network(data, candidate),
        bot=_bot(data, candidate),
        feeds=_feeds(data.get("feeds", []), candidate),
        source=candidate if candidate.is_file() else None,
        publisher=library.get("publisher", "").strip(),
        publisher_contact=library.get("publisher_contact", "").strip(),
    )
    if db:
        config = replace(config, database=Path(db).expanduser())
    return config


def _bot(data: dict, path: Path) -> BotSettings:
    """``[bot]``, with the token from $OLDCLIP_BOT_TOKEN when set (it wins over the file)."""
    settings = _section(BotSettings, data, "bot", path)
    token = os.environ.get("OLDCLIP_BOT_TOKEN")
    return replace(settings, token=token) if token else settings


def _feeds(entries: object, path: Path) -> tuple[FeedSpec, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: feeds must be a list of [[feeds]] tables")
    specs = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: feed {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(entry) - {
            "kind",
            "target",
            "every",
            "label",
            "language",
            "include",
            "exclude",
        }
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]} (see config.example.toml)"
            )
        if not entry.get("kind") or not entry.get("target"):
            raise ConfigError(f"{where} needs a kind and a target")
        try:
            every = parse_duration(entry["every"]) if "every" in entry else None
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        words = {k: entry.get(k, []) for k in ("include", "exclude")}
        for key, value in words.items():
            if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
                raise ConfigError(f"{where}: {key} must be a list of words")
        specs.append(
            FeedSpec(
                kind=str(entry["kind"]),
                target=str(entry["target"]),
                every_s=every,
                label=entry.get("label"),
                language=entry.get("language"),
                include=tuple(words["include"]),
                exclude=tuple(words["exclude"]),
            )
        )
    return tuple(specs)


def _network(data: dict, path: Path) -> NetworkSettings:
    settings = _section(NetworkSettings, data, "network", path)
    for network in settings.allowed_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}: network.allowed_networks: {network!r} is not a network "
                '(use e.g. "127.0.0.0/8" or "10.1.2.3")'
            ) from None
    return settings


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
        if isinstance(default, tuple):  # a TOML list, of the type the annotation names
            item = int if "tuple[int" in str(known[key].type) else str
            if not isinstance(value, list) or not all(
                isinstance(v, item) and not isinstance(v, bool) for v in value
            ):
                kind = "numbers" if item is int else "strings"
                raise ConfigError(f"{path}: {name}.{key} must be a list of {kind}, not {value!r}")
            continue
        if not isinstance(value, type(default)) and not (
            isinstance(default, float) and isinstance(value, int)
        ):
            raise ConfigError(
                f"{path}: {name}.{key} must be a {type(default).__name__}, not {value!r}"
            )
    return cls(**{k: type(getattr(cls(), k))(v) for k, v in values.items()})
