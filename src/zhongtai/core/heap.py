"""The process heap after start-up.

A server or worker builds hundreds of thousands of long-lived objects before its first request (modules,
mappers, routes, templates, the city's divisions). Python's cyclic collector walks all of them at every
full collection, and work that makes many small objects at once — a risk-area sweep, a trace, a governance
page — triggers full collections often: measured, a third of a sweep's time on a 9-million-entry city.
Frozen, they are left out of those walks; nothing they hold is ever freed anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def settle() -> None:
    """Collect what start-up left behind, then freeze the rest (``gc.freeze``): call once, after start-up."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Give the frozen objects back to the collector (at shutdown: an embedded or tested app's cycles must
    not outlive it)."""
    gc.unfreeze()


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off for one bounded batch that makes many acyclic objects (named tuples,
    strings, datetimes: reference counting frees them all); it has nothing to find in them, yet walks
    each of them at every full collection the batch triggers. Back on after, if it was on before — a
    nested or concurrent batch leaves it to the outermost."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
