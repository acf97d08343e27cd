"""Background jobs of ingestion: ``ingest.run`` (one batch of a job) and ``ingest.tick`` (the scheduler).

Every worker runs the tick each minute; each due job's slot is claimed by a unique (job, slot) row, so
with several workers a scheduled job still runs once per slot. Live progress goes into the queue's own
key-value store (the SQLite queue file, or Redis), which the web process reads for running batches.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from huey import crontab

from zhongtai.core.errors import Invalid, ZhongtaiError
from zhongtai.core.jobs import JobContext
from zhongtai.core.types import utcnow
from zhongtai.ingest.models import RunStatus
from zhongtai.ingest.repository import IngestRepository
from zhongtai.ingest.runner import run_job
from zhongtai.ingest.schedule import is_due, slot_of

log = logging.getLogger("zhongtai.ingest.tasks")
RUN = "ingest.run"


def _progress_key(run_id: int) -> str:
    return f"ingest:progress:{run_id}"


class ProgressBoard:
    """Live counts of running batches, shared between workers and web processes through the queue store."""

    def __init__(self, context: JobContext) -> None:
        self.queue = context.queue

    def publish(self, run_id: int, read: int, written: int, rejected: int) -> None:
        self.queue.put(_progress_key(run_id), {"read": read, "written": written, "rejected": rejected})

    def lookup(self, run_id: int) -> dict[str, int] | None:
        try:
            value: Any = self.queue.get(_progress_key(run_id), peek=True)
        except Exception:  # progress is a nicety; an unreachable store must not break a page
            log.warning("progress store unreachable", exc_info=True)
            return None
        return value if isinstance(value, dict) else None

    def clear(self, run_id: int) -> None:
        self.queue.delete(_progress_key(run_id))


def register(context: JobContext) -> None:
    queue = context.queue
    board = ProgressBoard(context)

    @queue.task(name=RUN)  # type: ignore[untyped-decorator]
    def run(job_code: str, trigger: str, requested_by: str, scheduled_for: str | None = None) -> int | None:
        slot = datetime.fromisoformat(scheduled_for) if scheduled_for else None
        try:
            outcome = run_job(
                context.factory,
                context.settings,
                job_code,
                trigger=trigger,
                requested_by=requested_by,
                scheduled_for=slot,
                progress=board.publish,
            )
        except ZhongtaiError as exc:  # e.g. the job was deleted after it was queued
            log.warning("ingestion job %s not run: %s", job_code, exc.message)
            return None
        if outcome is None:
            return None
        board.clear(outcome.run_id)
        if outcome.status is RunStatus.SUCCEEDED and (outcome.rows_written or outcome.rows_removed):
            for follow in context.after_batch:
                follow(job_code, outcome.run_id)
        log.info(
            "ingestion run finished",
            extra={"job": job_code, "run": outcome.run_id, "status": outcome.status.value},
        )
        return outcome.run_id

    @queue.periodic_task(crontab(), name="ingest.tick")  # type: ignore[untyped-decorator]
    def tick() -> None:
        enqueue_due(context, utcnow())

    context.tasks[RUN] = run


def enqueue_run(
    context: JobContext, job_code: str, trigger: str, requested_by: str, scheduled_for: datetime | None = None
) -> None:
    context.tasks[RUN](job_code, trigger, requested_by, scheduled_for.isoformat() if scheduled_for else None)


def enqueue_due(context: JobContext, now: datetime) -> list[str]:
    """Queue every enabled job whose schedule matches this minute; returns their codes."""
    slot = slot_of(now)
    with context.factory() as session:
        scheduled = IngestRepository(session).scheduled_jobs()
    due: list[str] = []
    for code, schedule in scheduled:
        try:
            if not is_due(schedule, slot):
                continue
        except Invalid:
            log.warning("job %s has an unreadable schedule %r", code, schedule)
            continue
        due.append(code)
        enqueue_run(context, code, "schedule", "scheduler", slot)
    return due
