"""Background jobs of the big screen: ``screen.rollup`` (advance every rollup, every minute, so figures
stay current with no screen open) and ``screen.profiles`` (pages of the population base into the
risk-crowd profiles, every minute). Both are safe to run twice or on several workers at once: the rollup
marks and the sweep's cursor are locked or written in the job's transaction."""

from __future__ import annotations

import logging

from huey import crontab

from zhongtai.core import rollups
from zhongtai.core.database import transaction
from zhongtai.core.jobs import JobContext
from zhongtai.core.rollups import Feeds
from zhongtai.core.types import utcnow
from zhongtai.screen import profiling

log = logging.getLogger("zhongtai.screen.tasks")
PAGES_PER_RUN = 5  # 100,000 residents a minute: a city of a million is covered every ten minutes


def register(context: JobContext, feeds: Feeds) -> None:
    queue = context.queue

    @queue.periodic_task(crontab(), name="screen.rollup")  # type: ignore[untyped-decorator]
    def rollup() -> int:
        with transaction(context.factory) as session:
            return rollups.advance(session, utcnow(), feeds).rows

    @queue.periodic_task(crontab(), name="screen.profiles")  # type: ignore[untyped-decorator]
    def profiles() -> int:
        """Up to PAGES_PER_RUN pages a minute, each its own transaction (a crash loses one page's work)."""
        read = 0
        for _ in range(PAGES_PER_RUN):
            with transaction(context.factory) as session:
                done = profiling.sweep(session, context.settings, utcnow())
            read += done.read
            if done.wrapped:
                break
        return read
