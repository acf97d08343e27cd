"""Background jobs of open data: ``opendata.refresh`` — after each governance pass of a resource that has
an open dataset, a new version if the released rows changed (the same rows: no new version). A release
the personal-data check refuses keeps the current version and is recorded in the audit trail.
``opendata.escalate`` (hourly) — applications past their deadline, told to the bureau once."""

from __future__ import annotations

import logging

from huey import crontab

from zhongtai.core import audit
from zhongtai.core.database import transaction
from zhongtai.core.errors import ZhongtaiError
from zhongtai.core.jobs import JobContext
from zhongtai.core.principal import SYSTEM
from zhongtai.core.types import utcnow
from zhongtai.opendata import applications, service

log = logging.getLogger("zhongtai.opendata.tasks")
REFRESH = "opendata.refresh"


def register(context: JobContext) -> None:
    @context.queue.task(name=REFRESH)  # type: ignore[untyped-decorator]
    def refresh(resource_code: str) -> int | None:
        try:
            with transaction(context.factory) as session:
                done = service.refresh(session, context.settings, SYSTEM, resource_code)
        except ZhongtaiError as exc:  # e.g. a column that now looks personal: the old version stays
            log.warning("open dataset of %s not released: %s", resource_code, exc.message)
            with transaction(context.factory) as session:
                audit.record(
                    session,
                    SYSTEM,
                    "opendata.release_refused",
                    "resource",
                    resource_code,
                    {"reason": exc.code},
                )
            return None
        return done.release.version if done is not None and done.release is not None else None

    context.tasks[REFRESH] = refresh

    @context.queue.periodic_task(crontab(minute="17"), name="opendata.escalate")  # type: ignore[untyped-decorator]
    def escalate() -> None:
        with transaction(context.factory) as session:
            overdue = applications.escalate_overdue(session, utcnow())
        if overdue:
            log.warning("open-data applications overdue and escalated: %s", ", ".join(overdue))

    context.after_pass.append(lambda resource_code: refresh(resource_code))
