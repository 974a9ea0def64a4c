"""What every handler reaches through ``context.bot_data["deps"]``."""

from __future__ import annotations

from dataclasses import dataclass, field

import storage
from storage.engine import Database

from .outgoing import Courier
from .ports import Checker, Feeds, LinkFetcher
from .ratelimit import RateLimit
from .settings import BotSettings


@dataclass
class Deps:
    db: Database
    checker: Checker
    settings: BotSettings
    rate: RateLimit = field(default_factory=RateLimit)
    feeds: Feeds | None = None  # the admin commands answer that feeds are managed elsewhere
    links: LinkFetcher | None = None  # without it, links are answered as unsupported
    courier: Courier | None = None  # sends every message (set when the bot is built)

    def is_fact_checker(self, user_id: int) -> bool:
        """Checked on every privileged command and button: callback data comes from clients."""
        return (
            user_id in self.settings.fact_checkers
            or user_id in self.settings.admins
            or user_id in storage.trusted_users(self.db)
        )

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admins
