"""Ingestion's figures for the big screen (``core.rollups``): rows gathered, batches and failed batches
per department, each batch counted once when it has finished."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource
from zhongtai.core import rollups
from zhongtai.core.rollups import Feeds, Page
from zhongtai.ingest.models import Job, Run, RunStatus, Source
from zhongtai.orgs.models import Department


def _departments(session: Session, job_ids: set[int]) -> dict[int, str]:
    query = (
        select(Job.id, Department.code)
        .join(Resource, Resource.id == Job.resource_id)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(Job.id.in_(job_ids))
    )
    return {int(job): code for job, code in session.execute(query)}


def runs(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(Run.id, Run.job_id, Run.status, Run.finished_at, Run.started_at, Run.rows_written)
        .where(rollups.by_id_after(Run.id, after, recheck))
        .order_by(Run.id)
        .limit(limit)
    )
    found = list(session.execute(query))
    departments = _departments(session, {int(r.job_id) for r in found})
    page = Page()
    for row in found:
        page.ids.append(int(row.id))
        if row.status is RunStatus.RUNNING:
            page.unfinished.append(int(row.id))
            continue
        if row.status is RunStatus.SKIPPED:
            continue
        department = departments.get(int(row.job_id), "-")
        at: datetime = row.finished_at or row.started_at
        page.add("ingest.rows", department, at, int(row.rows_written))
        page.add("ingest.batches", department, at)
        if row.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            page.add("ingest.failed", department, at)
    return page


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    sources = session.scalar(select(func.count()).select_from(Source)) or 0
    jobs = session.scalar(select(func.count()).select_from(Job).where(Job.enabled.is_(True))) or 0
    return {("total.ingest.sources", ""): sources, ("total.ingest.jobs", ""): jobs}


def register(feeds: Feeds) -> None:
    feeds.stream("ingest.runs", runs)
    feeds.gauge("ingest.registers", registers)
