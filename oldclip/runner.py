"""Running a long-lived job until SIGINT or SIGTERM, then shutting down cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from .library import Library

Job = Callable[[Library, object, asyncio.Event], Awaitable[None]]


def run_until_signalled(job: Job, library: Library) -> int:
    """Run ``job(library, config, stop)`` until a signal sets ``stop``; exit status 0."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print("oldclip: running; Ctrl-C or SIGTERM stops it", file=sys.stderr)
        await job(library, library.config, stop)

    asyncio.run(main())
    print("oldclip: stopped", file=sys.stderr)
    return 0
