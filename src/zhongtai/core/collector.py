"""Python's garbage collector during bulk work.

A governance pass over a million rows allocates tens of millions of short-lived objects; with the default
thresholds the collector runs every 700 allocations and keeps walking the objects that survive, which
took about a fifth of a pass (measured: bench/govern.py, docs/architecture.md). While bulk work runs,
collections are rarer: cyclic garbage is still collected, in bigger batches. The thresholds are the
process's, so overlapping passes in several threads share one raise, undone when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_running = 0
_usual: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def bulk_work() -> Iterator[None]:
    """Collect less often until the block (and every other bulk block running) ends."""
    global _running, _usual
    with _lock:
        if _running == 0:
            _usual = gc.get_threshold()
            gc.set_threshold(*BULK_THRESHOLDS)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_usual)
