"""Background jobs of the health code: ``healthcode.recompute`` — everyone's colour after a rule change
(in pages; idempotent: a person already decided by the current rules is left alone); and every minute
``healthcode.areas.sweep`` — entries made inside active risk areas (each counted once)."""

from __future__ import annotations

import logging

from huey import crontab

from zhongtai.core.database import transaction
from zhongtai.core.jobs import JobContext
from zhongtai.core.types import utcnow
from zhongtai.healthcode import areas, colouring, situation  # situation: the daily report's producer

log = logging.getLogger("zhongtai.healthcode.tasks")
RECOMPUTE = "healthcode.recompute"
SWEEP = "healthcode.areas.sweep"


def register(context: JobContext) -> None:
    log.debug("report producer %s registered", situation.DAILY)

    @context.queue.task(name=RECOMPUTE)  # type: ignore[untyped-decorator]
    def recompute_all(version: int) -> int:
        with transaction(context.factory) as session:
            rules = colouring.current_rules(session)
            if rules.version != version:
                return 0  # a newer save queued its own recomputation
            done = colouring.recompute(session, utcnow(), None, rules)
        log.info("colours recomputed", extra={"persons": done.persons, "changed": done.changed})
        return done.changed

    context.tasks[RECOMPUTE] = recompute_all

    @context.queue.periodic_task(crontab(minute="*"), name=SWEEP)  # type: ignore[untyped-decorator]
    def sweep_areas() -> int:
        """Gate records and place scans made inside active risk areas since the last sweep."""
        with transaction(context.factory) as session:
            found = areas.sweep(session, context.settings, utcnow())
        if found:
            log.info("risk-area entries counted", extra={"entries": found})
        return found


def enqueue_recompute(context: JobContext, version: int) -> None:
    context.tasks[RECOMPUTE](version)
