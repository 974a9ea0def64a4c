"""The worker processes that decode untrusted media, shared by the watchers and the bot.

Anyone can send the bot a file or put one in a watched feed, and FFmpeg is a large C library:
a file may crash it, hang it or make it allocate gigabytes.  Everything that decodes such a
file (fingerprints, key frames, evidence pictures) therefore runs here, in a pool of processes
(pebble's ``ProcessPool``) built so that nothing a file does reaches the service:

- Workers are forked from a clean ``forkserver`` process, never from the service itself, so
  they hold none of its signal handlers, event-loop wakeup fd, sockets or database handles: a
  worker being stopped cannot make the service stop.
- Each worker runs under a memory cap (``RLIMIT_DATA``: what a process allocates, unlike
  ``RLIMIT_AS``, which also counts the address space reserved for thread stacks and malloc
  arenas and so refuses ordinary HD videos long before they use much memory).
- A task that outlives its wall-clock budget, or whose worker dies (FFmpeg crash, SIGKILL,
  the kernel's out-of-memory killer), fails alone as a ``MediaError`` that says so; pebble
  replaces the worker and the other tasks go on.
- Exceptions cross the process boundary intact; one that could not would break the pool, so
  it is turned into a plain ``RuntimeError`` with the same text before it leaves the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from fingerprint import Fingerprint, Limits, MediaError, fingerprint_file

from .config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

# Imported once by the fork server, so that a new worker starts in milliseconds.  "__main__"
# matters when oldclip runs as a console script: without it every worker would import the
# whole command line again (1 s and 60 MB each).
PRELOAD = ["__main__", "fingerprint", "bot.evidence"]
# One thread per maths library in a worker: the pool already runs one worker per core, and
# OpenBLAS (numpy's matrix products in the sound and local-feature signals) allocates buffers
# per thread at first use; under the memory cap, after a file that took most of it, two
# threads' buffers failed to allocate and OpenBLAS retried for ever instead of failing.
WORKER_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

_memory_mb = 0  # in a worker: its memory cap, for the message when it is reached


class WorkersStopped(MediaError):
    """The service is stopping: the file was not judged (the pipeline retries it later)."""

    def __init__(self, name: str, reason: str = "oldclip is restarting; send it again shortly"):
        super().__init__(name, reason)


class MediaWorkers:
    """A pool of isolated decoding processes; every method raises MediaError with a reason.

    ``count`` processes at most decode at once; further tasks wait in the pool's queue (the
    wait does not count against ``timeout_s``).  ``stop()`` ends everything at once: tasks in
    progress fail with ``WorkersStopped`` instead of being waited for.
    """

    def __init__(self, count: int, *, memory_mb: int, timeout_s: float, limits: Limits):
        self.count = max(1, count)
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.limits = limits
        self._lock = threading.Lock()
        self._running: set[ProcessFuture] = set()
        self._stopped = False
        self._pool = self._new_pool()

    @classmethod
    def from_config(cls, config: Config, *, count: int | None = None) -> MediaWorkers:
        watch = config.watch
        return cls(
            count or watch.fingerprint_workers,
            memory_mb=watch.worker_memory_mb,
            timeout_s=watch.worker_timeout_s,
            limits=config.limits,
        )

    def _new_pool(self) -> ProcessPool:
        for name, value in WORKER_THREADS.items():  # read once, when the fork server starts
            os.environ.setdefault(name, value)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return ProcessPool(
            max_workers=self.count,
            initializer=_start_worker,
            initargs=(self.memory_mb,),
            context=context,
        )

    # --- what the service asks of the workers ------------------------------------------------

    async def fingerprint(self, path: Path, *, store: bool = False) -> Fingerprint:
        """``store``: the file becomes a clip (``Library.fingerprint``)."""
        return await self.run(path.name, fingerprint_file, path, self.limits, fast_motion=store)

    async def run(self, name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker; ``name`` is the file it is about.

        ``function`` must be importable by name (a module-level function).  Its MediaError
        comes back as it was raised; a timeout or the worker's death becomes a MediaError
        saying so.  A pool that broke as a whole (a worker died while no task ran) is
        replaced and the task tried once more.
        """
        for attempt in (1, 2):
            pool, future = self._schedule(name, (name, function, args, kwargs))
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                if self._stopped and future.cancelled():
                    raise WorkersStopped(name) from None
                raise  # the caller was cancelled: pebble stops the worker it was using
            except TimeoutError:
                took = f"decoding took longer than {self.timeout_s:.0f} s"
                raise MediaError(name, took) from None
            except ProcessExpired as exc:
                log.warning("decoding %s: worker %s died (%s)", name, exc.pid, exc.exitcode)
                raise MediaError(name, _death(exc.exitcode)) from None
            except BrokenProcessPool:
                self._replace(pool)
                if attempt == 2:
                    raise MediaError(name, "the decoder failed; try again later") from None
            finally:
                self._running.discard(future)
        raise AssertionError("unreachable")

    def _schedule(self, name: str, task: tuple) -> tuple[ProcessPool, ProcessFuture]:
        """Queue ``_guarded(*task)``; returns the pool that took it and the future."""
        if self._stopped:
            raise WorkersStopped(name)
        pool = self._pool
        try:
            future = pool.schedule(_guarded, args=task, timeout=self.timeout_s)
        except RuntimeError:  # pebble: "Unexpected error within the Pool"
            pool = self._replace(pool)
            future = pool.schedule(_guarded, args=task, timeout=self.timeout_s)
        self._running.add(future)
        return pool, future

    def _replace(self, broken: ProcessPool) -> ProcessPool:
        """A new pool instead of ``broken`` (once, however many tasks saw it break)."""
        with self._lock:
            if self._pool is broken and not self._stopped:
                log.warning("the decoding pool broke; starting a new one")
                self._pool = self._new_pool()
                threading.Thread(target=_end, args=(broken,), daemon=True).start()
            return self._pool

    # --- starting and stopping ----------------------------------------------------------------

    def start(self) -> None:
        """Start the workers now rather than at the first file (blocks for about a second the
        first time, while the fork server starts: call it off the event loop)."""
        if not self._pool.active:  # pebble starts a pool when asked whether it is active
            raise RuntimeError("the decoding workers could not be started")

    def stop(self) -> None:
        """End every worker now; tasks in progress fail with WorkersStopped.  Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for future in list(self._running):
            future.cancel()
        _end(self._pool)


@contextlib.asynccontextmanager
async def media_workers(
    config: Config, stop: asyncio.Event | None = None, *, count: int | None = None
) -> AsyncIterator[MediaWorkers]:
    """Workers for the service's lifetime, stopped as soon as ``stop`` is set (or on exit)."""
    workers = MediaWorkers.from_config(config, count=count)
    await asyncio.to_thread(workers.start)

    async def stop_on_signal() -> None:
        await stop.wait()
        await asyncio.to_thread(workers.stop)

    watcher = asyncio.create_task(stop_on_signal()) if stop is not None else None
    try:
        yield workers
    finally:
        if watcher is not None:
            watcher.cancel()
        await asyncio.to_thread(workers.stop)


def _end(pool: ProcessPool) -> None:
    pool.stop()
    pool.join()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"the decoder crashed (killed by signal {-exitcode})"
    return f"the decoder crashed (exit status {exitcode})"


# --- inside a worker --------------------------------------------------------------------------


def _start_worker(memory_mb: int) -> None:
    """Runs first in every worker: the memory cap, and no signal handling of the service's."""
    global _memory_mb
    _memory_mb = memory_mb
    signal.set_wakeup_fd(-1)  # already so in a fork-server child; made sure of
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _guarded(name: str, function: Callable[..., T], args: tuple, kwargs: dict) -> T:
    """Run the task; make sure whatever it raises can be unpickled by the service."""
    try:
        return function(*args, **kwargs)
    except MediaError:
        raise
    except MemoryError:
        raise MediaError(
            name, f"it needs more memory than the {_memory_mb} MB a decoder may use"
        ) from None
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise
