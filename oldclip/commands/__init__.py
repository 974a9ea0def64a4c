"""What each ``oldclip`` command does, one module per group; ``oldclip.cli`` parses the line.

``library``: add, import, import-page, list, show, remove, benign, export, import-bundle;
``check``: check; ``watch``: feeds, watch, reposts; ``services``: run, bot, worker, scheduler;
``maintenance``: refingerprint, migrate-db; ``status``: status.  Each command imports what it
needs when it runs: the bot, the watchers, page import and the fingerprinting engine cost ~1 s
of CPU to import, more than `list` or `show` take to run, so these modules import only what
`--help` loads anyway.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..render import terminal


def say(text: object = "", *, file: TextIO | None = None) -> None:
    """Print for a person, with control characters escaped (see ``render.terminal``)."""
    print(terminal(str(text)), file=file or sys.stdout)


class UsageError(Exception):
    """Something the user asked for does not exist or does not make sense."""
