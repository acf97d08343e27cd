"""All queries on sources, jobs, runs, rejects and the raw zone, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, joinedload

from zhongtai.catalog.models import DataType, InformationItem, Resource
from zhongtai.core.principal import Principal
from zhongtai.ingest.models import Job, RawRecord, RejectedRow, Run, Source
from zhongtai.orgs.models import InformationSystem


def _department_scope(principal: Principal) -> ColumnElement[bool]:
    if principal.sees_all_departments:
        return true()
    return InformationSystem.department_id == principal.department_id


class IngestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _sources(self) -> Select[Source]:
        return (
            select(Source)
            .join(Source.system)
            .options(joinedload(Source.system).joinedload(InformationSystem.department))
        )

    def _jobs(self) -> Select[Job]:
        return (
            select(Job)
            .join(Job.source)
            .join(Source.system)
            .options(
                joinedload(Job.source).joinedload(Source.system).joinedload(InformationSystem.department),
                joinedload(Job.resource),
            )
        )

    def sources(self, principal: Principal) -> list[Source]:
        query = self._sources().where(_department_scope(principal)).order_by(Source.code)
        return list(self.session.scalars(query).unique())

    def source(self, principal: Principal, code: str) -> Source | None:
        """The source if the caller may see it (its department's, or any for the bureau)."""
        query = self._sources().where(Source.code == code, _department_scope(principal))
        return self.session.scalars(query).unique().first()

    def source_exists(self, code: str) -> bool:
        return self.session.scalar(select(Source.id).where(Source.code == code)) is not None

    def jobs(self, principal: Principal, source_code: str | None = None) -> list[Job]:
        query = self._jobs().where(_department_scope(principal)).order_by(Job.code)
        if source_code:
            query = query.where(Source.code == source_code)
        return list(self.session.scalars(query).unique())

    def job(self, principal: Principal, code: str) -> Job | None:
        query = self._jobs().where(Job.code == code, _department_scope(principal))
        return self.session.scalars(query).unique().first()

    def job_exists(self, code: str) -> bool:
        return self.session.scalar(select(Job.id).where(Job.code == code)) is not None

    def scheduled_jobs(self) -> list[tuple[str, str]]:
        """(code, schedule) of every enabled scheduled job; unscoped, for the scheduler."""
        rows = self.session.execute(
            select(Job.code, Job.schedule).where(Job.enabled.is_(True), Job.schedule.is_not(None))
        )
        return [(code, schedule) for code, schedule in rows if schedule]

    def rows_written_since(self, since: datetime | None = None) -> int:
        query = select(func.coalesce(func.sum(Run.rows_written), 0))
        if since is not None:
            query = query.where(Run.started_at >= since)
        return int(self.session.scalar(query) or 0)

    def runs(self, job_id: int, limit: int = 20) -> list[Run]:
        query = select(Run).where(Run.job_id == job_id).order_by(Run.id.desc()).limit(limit)
        return list(self.session.scalars(query))

    def last_runs(self, job_ids: list[int]) -> dict[int, Run]:
        if not job_ids:
            return {}
        newest = select(func.max(Run.id)).where(Run.job_id.in_(job_ids)).group_by(Run.job_id)
        return {run.job_id: run for run in self.session.scalars(select(Run).where(Run.id.in_(newest)))}

    def run(self, principal: Principal, run_id: int) -> tuple[Run, Job] | None:
        job_query = self._jobs().where(_department_scope(principal))
        run = self.session.get(Run, run_id)
        if run is None:
            return None
        job = self.session.scalars(job_query.where(Job.id == run.job_id)).unique().first()
        return (run, job) if job is not None else None

    def rejects(self, run_id: int, offset: int, limit: int) -> tuple[list[RejectedRow], int]:
        total = self.session.scalar(select(func.count()).where(RejectedRow.run_id == run_id)) or 0
        rows = self.session.scalars(
            select(RejectedRow)
            .where(RejectedRow.run_id == run_id)
            .order_by(RejectedRow.row_number, RejectedRow.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total)

    def resource_jobs(self, resource_id: int) -> dict[int, str]:
        rows = self.session.execute(select(Job.id, Job.code).where(Job.resource_id == resource_id))
        return {job_id: code for job_id, code in rows}

    def raw_records(self, job_ids: list[int], offset: int, limit: int) -> tuple[list[RawRecord], int]:
        if not job_ids:
            return [], 0
        condition = RawRecord.job_id.in_(job_ids)
        total = self.session.scalar(select(func.count()).select_from(RawRecord).where(condition)) or 0
        rows = self.session.scalars(
            select(RawRecord)
            .where(condition)
            .order_by(RawRecord.job_id, RawRecord.source_key)  # the primary key: stable paging
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total)

    def item_types(self, resource_id: int) -> dict[str, DataType]:
        rows = self.session.execute(
            select(InformationItem.name, InformationItem.data_type).where(
                InformationItem.resource_id == resource_id
            )
        )
        return {name: data_type for name, data_type in rows}

    def resource(self, code: str) -> Resource | None:
        return self.session.scalars(
            select(Resource).options(joinedload(Resource.provider)).where(Resource.code == code)
        ).first()
