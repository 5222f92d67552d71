"""Read the next chunk while this one is written: the database works on one core while Python works on the other."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from django.db import connection

T = TypeVar("T")
_DONE = object()


def read_ahead(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks`, produced one ahead on a thread with its own database connection.

    Only outside a transaction: the thread's connection would not see the caller's uncommitted rows.
    The producer stops at the next chunk when the consumer stops early (a cancel, an error).
    """
    if connection.in_atomic_block:
        yield from chunks
        return
    ahead: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                ahead.put(chunk)
                if stop.is_set():
                    return
            ahead.put(_DONE)
        except Exception as exc:  # noqa: BLE001  (handed to the consumer, which raises it)
            ahead.put(exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=produce, name="dataset-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on the full queue
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)
        thread.join()
