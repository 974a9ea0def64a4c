"""`oldclip status`: the deployment's health from its database, for people and for monitoring.

Exit status 0 when healthy, 2 when not (one line per problem on stderr), 1 when the database
cannot be read: like ``pg_isready``, a check script needs nothing but the status.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from . import UsageError, say

if TYPE_CHECKING:
    from ..library import Library

UNHEALTHY = 2


def cmd_status(library: Library, args: argparse.Namespace) -> int:
    from ..durations import parse_seconds
    from ..status import gather, render

    try:
        stuck_after_s = parse_seconds(args.stuck_after)
    except ValueError as exc:
        raise UsageError(f"--stuck-after: {exc}") from None
    if stuck_after_s <= 0:
        raise UsageError("--stuck-after must be more than 0 seconds")
    report = gather(library, stuck_after_s=stuck_after_s)
    if args.json:
        say(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in render(report):
            say(line)
        for problem in report["problems"]:
            say(f"oldclip: problem: {problem}", file=sys.stderr)
    return 0 if report["healthy"] else UNHEALTHY
