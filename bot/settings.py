"""The bot's settings (``[bot]`` in the config file; the token may come from the environment)."""

from __future__ import annotations

from dataclasses import dataclass

DOWNLOAD_LIMIT_MB = 20  # what api.telegram.org lets bots download


@dataclass(frozen=True)
class BotSettings:
    token: str = ""  # prefer $OLDCLIP_BOT_TOKEN; never logged
    api_base_url: str = ""  # a self-hosted Bot API server's root, e.g. http://127.0.0.1:8081
    local_mode: bool = False  # that server runs with --local (no download limit)
    fact_checkers: tuple[int, ...] = ()  # Telegram user ids trusted to curate and get alerts
    admins: tuple[int, ...] = ()  # user ids who may also manage feeds and fact-checkers
    requests_per_minute: float = 6.0  # per person, for the public "is this old?" answers
    alert_interval_s: float = 5.0  # how often the outbox is looked at
    link_max_mb: int = 50  # links to posts: the most a download may take
    link_max_duration_s: int = 1200  # ... and the longest video fetched
    link_timeout_s: float = 20.0  # socket timeout for link downloads
    link_proxy: str = ""  # route link downloads through this proxy (e.g. an egress filter)
    # `oldclip bot --webhook URL`: where this process listens for Telegram's POSTs (behind the
    # load balancer or reverse proxy that URL reaches), and the path ("": the URL's own path).
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8080
    webhook_path: str = ""
    webhook_secret: str = ""  # prefer $OLDCLIP_WEBHOOK_SECRET; "": made once, kept in the database

    def __repr__(self) -> str:  # the token and secret must never reach a log or a traceback
        return (
            f"BotSettings(token={'***' if self.token else ''!r}, "
            f"webhook_secret={'***' if self.webhook_secret else ''!r}, "
            f"api_base_url={self.api_base_url!r}, local_mode={self.local_mode}, "
            f"fact_checkers={self.fact_checkers}, admins={self.admins})"
        )

    @property
    def download_limit_bytes(self) -> int | None:
        return None if self.local_mode else DOWNLOAD_LIMIT_MB * 1_000_000
