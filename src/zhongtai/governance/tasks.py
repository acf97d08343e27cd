"""Background jobs of governance: ``governance.apply`` (a pass, then a quality measurement),
``governance.measure`` (a measurement: the re-check of fixed problems) and ``governance.measure_all``
(hourly, so timeliness falls when a department stops sending data).

Every successful ingestion batch of a governed resource queues its pass automatically.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from huey import crontab

from zhongtai.core.database import transaction
from zhongtai.core.errors import ZhongtaiError
from zhongtai.core.jobs import JobContext
from zhongtai.core.types import utcnow
from zhongtai.governance.pipeline import run_pass, withdraw_source
from zhongtai.governance.quality import measure
from zhongtai.governance.repository import GovernanceRepository

log = logging.getLogger("zhongtai.governance.tasks")
APPLY = "governance.apply"
MEASURE = "governance.measure"
WITHDRAW = "governance.withdraw_source"


def register(context: JobContext) -> None:
    queue = context.queue

    @queue.task(name=APPLY)  # type: ignore[untyped-decorator]
    def apply(resource_code: str, run_id: int | None, trigger: str, requested_by: str) -> int | None:
        try:
            outcome = run_pass(
                context.factory,
                resource_code,
                run_id=run_id,
                trigger=trigger,
                requested_by=requested_by,
                workers=context.settings.govern_workers,
            )
        except ZhongtaiError as exc:
            log.warning("governance pass of %s not run: %s", resource_code, exc.message)
            return None
        measure_resource(context, resource_code)
        for follow in context.after_pass:
            follow(resource_code)
        return outcome.pass_id

    @queue.task(name=MEASURE)  # type: ignore[untyped-decorator]
    def measure_one(resource_code: str) -> None:
        measure_resource(context, resource_code)

    @queue.periodic_task(crontab(minute="17"), name="governance.measure_all")  # type: ignore[untyped-decorator]
    def measure_all() -> None:
        measure_due(context, utcnow())

    @queue.task(name=WITHDRAW)  # type: ignore[untyped-decorator]
    def withdraw(source_id: int) -> int:
        return withdraw_source(context.factory, source_id)

    context.tasks[APPLY] = apply
    context.tasks[WITHDRAW] = withdraw
    context.tasks[MEASURE] = measure_one
    context.after_batch.append(lambda job_code, run_id: after_batch(context, job_code, run_id))


def measure_due(context: JobContext, now: datetime) -> list[str]:
    """Measure every governed resource not measured in the last half hour; returns their codes. Every
    worker runs this each hour, so what another worker (or a batch) just measured is left alone."""
    recent = now - timedelta(minutes=30)
    with context.factory() as session:
        repo = GovernanceRepository(session)
        codes = [
            repo.resource_by_id(rid).code
            for rid in repo.governed_resource_ids()
            if (repo.last_measured(rid) or recent) <= recent
        ]
    for code in codes:
        measure_resource(context, code)
    return codes


def measure_resource(context: JobContext, resource_code: str) -> None:
    with transaction(context.factory) as session:
        resource = GovernanceRepository(session).resource(resource_code)
        if resource is not None:
            measure(session, resource, utcnow())


def after_batch(context: JobContext, job_code: str, run_id: int) -> None:
    """Queue the pass of a batch just gathered, if its resource is governed and wants it automatically."""
    with context.factory() as session:
        repo = GovernanceRepository(session)
        resource = repo.resource_of_job(job_code)
        if resource is None:
            return
        rule_set = repo.rule_set(resource.id)
        wanted = rule_set.auto_apply if rule_set else bool(repo.base_sources(resource.id))
        code = resource.code
    if wanted:
        enqueue_apply(context, code, run_id, "batch", "system")


def enqueue_apply(context: JobContext, resource_code: str, run_id: int | None, trigger: str, by: str) -> None:
    context.tasks[APPLY](resource_code, run_id, trigger, by)


def enqueue_withdraw(context: JobContext, source_id: int) -> None:
    context.tasks[WITHDRAW](source_id)


def enqueue_measure(context: JobContext, resource_code: str) -> None:
    context.tasks[MEASURE](resource_code)
