"""Configuration: a TOML file (``config.toml``, git-ignored) over built-in defaults.

Precedence, highest first: command-line flags, environment (``OLDCLIP_DB``, ``OLDCLIP_CONFIG``),
the config file, the defaults below.  ``config.example.toml`` documents every key.

The database is a SQLite file (a path, or ``sqlite:///path``) or a PostgreSQL URL
(``postgresql://user@host/dbname``), named the same way by ``--db``, ``$OLDCLIP_DB``,
``[database] url`` or ``[library] database`` (the older key, kept working).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_data_dir

from bot.settings import BotSettings
from fingerprint import Limits, MatchSettings

from .configcheck import ConfigError, Problems, read_section, read_text_table
from .durations import parse_duration


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
    max_downloads: int = 8  # media downloads at once, in all
    downloads_per_host: int = 2  # ... and from one host (a slow source holds only its own)
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
class ReplicaSettings:
    """How a matching process's indexes follow the library (``[library]``, numbers only;
    see ``oldclip.replica``)."""

    refresh_s: float = 5.0  # an idle worker catches up at least this often
    changes_keep_h: float = 7 * 24.0  # logged changes older than this are pruned


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


DEFAULT_DATABASE = Path(user_data_dir("oldclip")) / "library.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def database_target(value: str | Path) -> Path | str:
    """A configured database as ``open_db`` takes it: a Path for a SQLite file (``sqlite:///``
    URLs included), the URL itself for PostgreSQL.  Raises ValueError for any other URL."""
    text = str(value).strip()
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///")).expanduser()
    if text.lower().startswith(POSTGRES_SCHEMES):
        return text
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"unsupported database URL scheme {scheme}://: use a file path, sqlite:///path "
            "or postgresql://user@host/dbname"
        )
    return Path(text).expanduser()


@dataclass(frozen=True)
class Config:
    database: Path | str = DEFAULT_DATABASE  # a SQLite file, or a PostgreSQL URL (str)
    matching: MatchSettings = field(default_factory=MatchSettings)
    limits: Limits = field(default_factory=Limits)
    watch: WatchSettings = field(default_factory=WatchSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    feeds: tuple[FeedSpec, ...] = ()
    replica: ReplicaSettings = field(default_factory=ReplicaSettings)
    source: Path | None = None  # the file it was read from, if any
    publisher: str = ""  # who `oldclip export` says a bundle is from ([library] publisher)
    publisher_contact: str = ""  # how other newsrooms reach them ([library] publisher_contact)

    @property
    def media_dir(self) -> Path:
        """Archived downloads and clip copies: each database has its own folder, so two
        libraries side by side never overwrite each other's evidence."""
        if self.watch.media_dir:
            return Path(self.watch.media_dir).expanduser()
        return self.local_path.with_name(f"{self.local_path.stem}-media")

    @property
    def local_path(self) -> Path:
        """Where files kept beside the database go (its media, its search index): the SQLite
        file itself, or for PostgreSQL a name in the data folder made of host, port and
        database, so two servers' libraries never share files on one machine."""
        if isinstance(self.database, Path):
            return self.database
        parts = urlsplit(self.database)
        name = "-".join(
            str(p) for p in (parts.hostname or "local", parts.port or 5432, parts.path.strip("/"))
        )
        # The rest of the URL (user, options such as another search_path) may name another
        # library on the same server: a short digest of it keeps their files apart.
        rest = parts._replace(netloc=parts.hostname or "", path="", fragment="").geturl()
        digest = hashlib.sha256(f"{parts.username}@{rest}".encode()).hexdigest()[:8]
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{name}-{digest}")
        return Path(user_data_dir("oldclip")) / f"{safe}.db"

    @property
    def database_label(self) -> str:
        """The database for messages and output: the file, or the URL without its password."""
        from storage.db import safe_url

        return str(self.database) if isinstance(self.database, Path) else safe_url(self.database)


TABLES = {"library", "database", "matching", "limits", "watch", "network", "feeds", "bot"}
DATABASE_KEYS = {"url"}
LIBRARY_KEYS = {"database", "publisher", "publisher_contact"}
FEED_KEYS = {"kind", "target", "every", "label", "language", "include", "exclude"}


def load_config(path: str | Path | None = None, database: str | Path | None = None) -> Config:
    """Read the config file (explicit path, $OLDCLIP_CONFIG, or ./config.toml when present)."""
    explicit = path or os.environ.get("OLDCLIP_CONFIG")
    candidate = Path(explicit) if explicit else Path("config.toml")
    data: dict = {}
    text = ""
    if candidate.is_file():
        try:
            text = candidate.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate}: not valid TOML ({exc})") from None
    elif explicit:
        raise ConfigError(f"{candidate}: no such config file (copy config.example.toml)")

    problems = Problems(candidate, text)
    for name in data:
        if name not in TABLES:
            problems.add(f"unknown section [{name}] (see config.example.toml)", name)
    numbers = {f.name for f in fields(ReplicaSettings)}
    library = read_text_table(data, "library", LIBRARY_KEYS, problems, numbers)
    replica_data = {k: v for k, v in library.items() if k in numbers}
    section = read_text_table(data, "database", DATABASE_KEYS, problems)
    if "url" in section and "database" in library:
        problems.add(
            "set the database once: [database] url or [library] database, not both",
            "database",
            "url",
        )
    configured = section.get("url") or library.get("database")
    if isinstance(configured, str):
        try:
            database_target(configured)
        except ValueError as exc:
            key = ("database", "url") if "url" in section else ("library", "database")
            problems.add(f"{'.'.join(key)}: {exc}", *key)
    db = database or os.environ.get("OLDCLIP_DB") or configured
    config = Config(
        matching=read_section(MatchSettings, data, "matching", problems),
        limits=read_section(Limits, data, "limits", problems),
        watch=read_section(WatchSettings, data, "watch", problems),
        network=_network(data, problems),
        bot=_bot(data, problems),
        feeds=_feeds(data.get("feeds", []), problems),
        replica=read_section(ReplicaSettings, {"library": replica_data}, "library", problems),
        source=candidate if candidate.is_file() else None,
        publisher=str(library.get("publisher", "")).strip(),
        publisher_contact=str(library.get("publisher_contact", "")).strip(),
    )
    if config.limits.anchor_fps > config.limits.sample_fps:
        problems.add(
            "limits.anchor_fps must not be above limits.sample_fps (anchors are sampled frames)",
            "limits",
            "anchor_fps",
        )
    problems.check()
    if db:
        try:
            config = replace(config, database=database_target(db))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return config


# What Telegram accepts as a webhook's secret_token (setWebhook): up to 256 of these characters;
# at least 16 here, as a short one can be guessed (and would be blanked all over the logs).
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")


def _bot(data: dict, problems: Problems) -> BotSettings:
    """``[bot]``, with the token from $OLDCLIP_BOT_TOKEN and the webhook secret from
    $OLDCLIP_WEBHOOK_SECRET when set (they win over the file)."""
    settings = read_section(BotSettings, data, "bot", problems)
    token = os.environ.get("OLDCLIP_BOT_TOKEN")
    if token:
        settings = replace(settings, token=token)
    secret = os.environ.get("OLDCLIP_WEBHOOK_SECRET")
    if secret:
        settings = replace(settings, webhook_secret=secret)
    if settings.webhook_secret and not WEBHOOK_SECRET_RE.fullmatch(settings.webhook_secret):
        # The value itself is never repeated: it is a secret.
        where = "$OLDCLIP_WEBHOOK_SECRET" if secret else "bot.webhook_secret"
        problems.add(
            f"{where} must be 16 to 256 letters, digits, _ or - (e.g. `openssl rand -hex 32`)",
            "" if secret else "bot",
            "" if secret else "webhook_secret",
        )
    path = settings.webhook_path
    if path and (not path.startswith("/") or any(c.isspace() or c in "?#" for c in path)):
        problems.add(
            f'bot.webhook_path must be a URL path such as "/telegram", not {path!r}',
            "bot",
            "webhook_path",
        )
    if not settings.webhook_listen.strip():
        problems.add(
            'bot.webhook_listen must be an address to listen on, e.g. "0.0.0.0"',
            "bot",
            "webhook_listen",
        )
    return settings


def _feeds(entries: object, problems: Problems) -> tuple[FeedSpec, ...]:
    if not isinstance(entries, list):
        problems.add("feeds must be a list of [[feeds]] tables", "feeds")
        return ()
    specs = []
    for index, entry in enumerate(entries):
        where = f"feed {index + 1}"
        if not isinstance(entry, dict):
            problems.add(f"{where} must be a table", "feeds", index=index)
            continue
        before = len(problems.found)
        for key in sorted(set(entry) - FEED_KEYS):
            problems.add(
                f"{where}: unknown key {key} (see config.example.toml)", "feeds", key, index
            )
        if not entry.get("kind") or not entry.get("target"):
            problems.add(f"{where} needs a kind and a target", "feeds", index=index)
        every = None
        if "every" in entry:
            try:
                every = parse_duration(entry["every"])
            except ValueError as exc:
                problems.add(f"{where}: every: {exc}", "feeds", "every", index)
        words = {k: entry.get(k, []) for k in ("include", "exclude")}
        for key, value in words.items():
            if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
                problems.add(f"{where}: {key} must be a list of words", "feeds", key, index)
        if len(problems.found) > before:
            continue
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


def _network(data: dict, problems: Problems) -> NetworkSettings:
    settings = read_section(NetworkSettings, data, "network", problems)
    for network in settings.allowed_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            problems.add(
                f"network.allowed_networks: {network!r} is not a network "
                '(use e.g. "127.0.0.0/8" or "10.1.2.3")',
                "network",
                "allowed_networks",
            )
    return settings
