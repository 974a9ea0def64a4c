"""`oldclip run`, `bot`, `worker` and `scheduler`: the long-running processes, until stopped."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import UsageError

if TYPE_CHECKING:
    from ..library import Library


def cmd_run(library: Library, args: argparse.Namespace) -> int:
    from ..run import run as run_everything

    return run_everything(library, library.config)


def cmd_bot(library: Library, args: argparse.Namespace) -> int:
    from bot.webhook import url_problem

    from ..run import run_bot_alone

    if args.webhook is not None and (problem := url_problem(args.webhook)):
        raise UsageError(problem)
    return run_bot_alone(library, library.config, args.webhook)


def cmd_worker(library: Library, args: argparse.Namespace) -> int:
    from ..worker import run_worker

    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.stalled_after < 5:
        raise UsageError("--stalled-after must be at least 5 seconds")
    return run_worker(
        library, library.config, concurrency=args.concurrency, stalled_after_s=args.stalled_after
    )


def cmd_scheduler(library: Library, args: argparse.Namespace) -> int:
    from ..scheduler import run_scheduler

    if args.every <= 0:
        raise UsageError("--every must be more than 0 seconds")
    return run_scheduler(library, library.config, every_s=args.every)
