"""The process heap after start-up.

A server or worker builds hundreds of thousands of long-lived objects before its first request (modules,
mappers, routes, templates, the city's divisions). Python's cyclic collector walks all of them at every
full collection, and work that makes many small objects at once — a risk-area sweep, a trace, a governance
page — triggers full collections often: measured, a third of a sweep's time on a 9-million-entry city.
Frozen, they are left out of those walks; nothing they hold is ever freed anyway.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up left behind, then freeze the rest (``gc.freeze``): call once, after start-up."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Give the frozen objects back to the collector (at shutdown: an embedded or tested app's cycles must
    not outlive it)."""
    gc.unfreeze()
