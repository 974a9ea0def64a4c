"""Run a generator in a thread: decoding (FFmpeg releases the GIL) overlaps the hashing of
the frames already decoded (``decode.decode``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def in_background(items: Iterator[T], depth: int = 32) -> Iterator[T]:
    """Run ``items`` in a thread, handing its values over through a bounded queue.

    If the consumer stops early, the producer notices at its next hand-over and stops too.
    """
    handover: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handover.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            items.close()

    worker = threading.Thread(target=produce, name="oldclip-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = handover.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
