"""Overlapping Python work with database work: a generator run ahead in a helper thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_END = object()


@dataclass(frozen=True)
class _Failed:
    exc: BaseException


def run_ahead(items: Iterator[T], depth: int = 2, name: str = "run-ahead") -> Iterator[T]:
    """Yield from `items`, which a helper thread runs up to `depth` items ahead.

    Building a chunk is Python work (encryption, hashing, JSON); inserting it is the database's,
    and sqlite3 and psycopg let go of the GIL while they wait on it, so the two overlap. The helper
    must touch no database connection. Its exception is raised here; if the consumer stops early
    (or fails), the helper is told to stop and joined before this returns, so nothing runs on after
    the caller's transaction.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Failed(exc))

    helper = threading.Thread(target=run, name=name, daemon=True)
    helper.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        helper.join()
