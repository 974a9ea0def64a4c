"""The decoding workers (oldclip.workers): real processes, real files, real signals.

Whatever one task does to its worker (junk input, SIGKILL, a hang, a memory blow-up) costs
that task only, with the reason in words, and the next file is fingerprinted as usual.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from media import CHAIR, shared_fingerprint

from fingerprint import Limits, MediaError
from oldclip.workers import MediaWorkers, WorkersStopped


def workers(count: int = 1, *, memory_mb: int = 1024, timeout_s: float = 60) -> MediaWorkers:
    return MediaWorkers(count, memory_mb=memory_mb, timeout_s=timeout_s, limits=Limits())


async def assert_fingerprints_chair(pool: MediaWorkers) -> None:
    fp = await pool.fingerprint(CHAIR)
    expected = shared_fingerprint(CHAIR)
    assert fp.sha256 == expected.sha256
    assert np.array_equal(fp.hashes, expected.hashes)


def test_workers_stopped_crosses_a_process_boundary_intact() -> None:
    error = WorkersStopped("b.mp4")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WorkersStopped
    assert (copy.name, copy.reason, str(copy)) == (error.name, error.reason, str(error))


async def test_junk_is_refused_with_its_reason_and_the_pool_goes_on(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(3).bytes(300_000))
    pool = workers()
    try:
        with pytest.raises(MediaError) as caught:
            await pool.fingerprint(junk)
        assert caught.value.name == "junk.mp4"
        assert "not a photo or video oldclip can read" in caught.value.reason
        await assert_fingerprints_chair(pool)
    finally:
        pool.stop()


async def test_a_worker_killed_mid_task_costs_only_that_task(tmp_path: Path) -> None:
    pool = workers(2)
    pid_file = tmp_path / "pid"
    try:
        victim = asyncio.create_task(pool.run("victim.mp4", _busy, pid_file))
        other = asyncio.create_task(pool.fingerprint(CHAIR))  # in the other worker meanwhile
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        with pytest.raises(MediaError) as caught:
            await asyncio.wait_for(victim, 30)
        assert str(caught.value) == "victim.mp4: the decoder crashed (killed by signal 9)"
        assert (await other).sha256 == shared_fingerprint(CHAIR).sha256
        await assert_fingerprints_chair(pool)  # the dead worker was replaced
    finally:
        pool.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
async def test_a_signal_to_an_idle_worker_never_reaches_the_service(signum: int) -> None:
    # Workers forked from the service inherited its event loop's signal wakeup fd: SIGTERM to
    # a worker ran the service's own SIGTERM handler, and `oldclip run` stopped.
    loop = asyncio.get_running_loop()
    service_signalled = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, service_signalled.set)
    pool = workers()
    try:
        pid = await pool.run("probe", os.getpid)
        os.kill(pid, signum)
        await asyncio.sleep(1.0)
        await assert_fingerprints_chair(pool)  # a new worker (or a new pool) took over
        assert await pool.run("probe", os.getpid) != pid
        assert not service_signalled.is_set()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        pool.stop()


async def test_a_hung_worker_is_stopped_after_its_time_and_replaced() -> None:
    pool = workers(timeout_s=2)
    try:
        started = time.monotonic()
        with pytest.raises(MediaError) as caught:
            await pool.run("hang.mp4", time.sleep, 3600)
        assert str(caught.value) == "hang.mp4: decoding took longer than 2 s"
        assert time.monotonic() - started < 20
        await assert_fingerprints_chair(pool)
    finally:
        pool.stop()


async def test_a_task_that_needs_too_much_memory_is_refused_and_the_next_runs() -> None:
    pool = workers(memory_mb=600)
    try:
        with pytest.raises(MediaError) as caught:
            await pool.run("bomb.mp4", bytearray, 2_000_000_000)  # 2 GB
        assert "more memory than the 600 MB a decoder may use" in caught.value.reason
        await assert_fingerprints_chair(pool)
    finally:
        pool.stop()


async def test_an_unpicklable_error_does_not_break_the_pool() -> None:
    pool = workers()
    try:
        with pytest.raises(RuntimeError, match="MediaError"):
            # A MediaError built wrongly (one argument) could not be rebuilt by the service.
            await pool.run("odd.mp4", _raise_unpicklable)
        await assert_fingerprints_chair(pool)
    finally:
        pool.stop()


async def test_stop_does_not_wait_for_a_long_decode() -> None:
    pool = workers()
    task = asyncio.create_task(pool.run("long.mp4", time.sleep, 600))
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await asyncio.to_thread(pool.stop)
    with pytest.raises(WorkersStopped):
        await asyncio.wait_for(task, 30)
    assert time.monotonic() - started < 15
    with pytest.raises(WorkersStopped):
        await pool.fingerprint(CHAIR)


def _busy(pid_file: Path) -> None:
    """Stands for a long decode; says which process it runs in."""
    pid_file.write_text(str(os.getpid()))
    time.sleep(60)


class _BadError(Exception):
    def __init__(self, a: str, b: str):
        super().__init__(a + b)


def _raise_unpicklable() -> None:
    raise _BadError("Media", "Error")
