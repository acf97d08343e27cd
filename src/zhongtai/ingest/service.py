"""Business rules for sources and jobs. Services flush; the request or job owns the transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.catalog.models import DataType
from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.ingest.auth import may_manage, may_read_raw
from zhongtai.ingest.mapping import FieldRule, check_rules, template_fields
from zhongtai.ingest.models import Job, JobMode, ObjectKind, Run, RunStatus, Source, SourceKind
from zhongtai.ingest.repository import IngestRepository
from zhongtai.ingest.schedule import next_due, parse_schedule
from zhongtai.ingest.schemas import (
    ConnectionTest,
    JobCreate,
    JobRead,
    JobUpdate,
    RawPage,
    RawRecordRead,
    RejectPage,
    RejectRead,
    RunRead,
    SourceCreate,
    SourceRead,
    SourceUpdate,
)
from zhongtai.ingest.sources import SourceFailure, clean_options, test_connection
from zhongtai.orgs.repository import OrgRepository

# Which objects each kind of source can be asked for.
OBJECT_KINDS = {
    SourceKind.DATABASE: {ObjectKind.TABLE, ObjectKind.QUERY},
    SourceKind.FILE: {ObjectKind.FILES},
    SourceKind.HTTP: {ObjectKind.ENDPOINT},
}
ProgressLookup = Callable[[int], dict[str, int] | None]


def figures(session: Session) -> dict[str, int]:
    """Records gathered: in all, and since midnight on the city's clock."""
    repo = IngestRepository(session)
    day_start = datetime.combine(utcnow().astimezone(CITY_ZONE).date(), time(), tzinfo=CITY_ZONE)
    return {
        "ingest.records": repo.rows_written_since(),
        "ingest.records_today": repo.rows_written_since(day_start),
    }


def source_read(source: Source) -> SourceRead:
    return SourceRead(
        code=source.code,
        name=source.name,
        system=source.system.code,
        department=source.system.department.code,
        kind=source.kind,
        options=dict(source.options),
        has_secret=source.secret_ciphertext is not None,
        last_tested_at=source.last_tested_at,
        last_test_ok=source.last_test_ok,
        last_test_message=source.last_test_message,
    )


def visible_source(session: Session, actor: Principal, code: str) -> Source:
    source = IngestRepository(session).source(actor, code)
    if source is None:
        raise NotFound(M_("no source %(code)r", code=code), code="source_not_found")
    return source


def managed_source(session: Session, actor: Principal, code: str) -> Source:
    source = visible_source(session, actor, code)
    if not may_manage(actor, source.system.department_id):
        raise Forbidden(M_("only the department's officers or the bureau's operators manage this source"))
    return source


def create_source(session: Session, settings: Settings, actor: Principal, data: SourceCreate) -> Source:
    system = OrgRepository(session).system_by_code(data.system)
    if system is None:
        raise Invalid(M_("no information system %(system)r", system=data.system), field="system")
    if not may_manage(actor, system.department_id):
        raise Forbidden(M_("you may register sources only for your own department's systems"))
    if IngestRepository(session).source_exists(data.code):
        raise Conflict(M_("source code %(code)r is taken", code=data.code), field="code")
    options, url_password = clean_options(data.kind, data.options, settings)
    secret = data.secret or url_password
    source = Source(
        code=data.code,
        name=data.name,
        system_id=system.id,
        kind=data.kind,
        options=options,
        secret_ciphertext=SecretBox(settings).seal(secret) if secret else None,
    )
    session.add(source)
    session.flush()
    audit.record(
        session, actor, "ingest.source.create", "ingest_source", source.code,
        {"name": [None, source.name], "kind": [None, source.kind.value], "options": [None, options],
         "secret": [None, "(set)" if secret else None]},
    )  # fmt: skip
    return IngestRepository(session).source(actor, source.code) or source


def update_source(
    session: Session, settings: Settings, actor: Principal, code: str, data: SourceUpdate
) -> Source:
    source = managed_source(session, actor, code)
    changes: dict[str, Any] = {}
    if data.name is not None and data.name != source.name:
        changes["name"] = [source.name, data.name]
        source.name = data.name
    if data.options is not None:
        options, url_password = clean_options(source.kind, data.options, settings)
        if options != source.options:
            changes["options"] = [source.options, options]
            source.options = options
        if url_password:
            source.secret_ciphertext = SecretBox(settings).seal(url_password)
            changes["secret"] = ["(hidden)", "(changed)"]
    if data.secret is not None:
        source.secret_ciphertext = SecretBox(settings).seal(data.secret) if data.secret else None
        changes["secret"] = ["(hidden)", "(changed)" if data.secret else None]
    if changes:
        source.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "ingest.source.update", "ingest_source", source.code, changes)
    return source


def check_source(session: Session, settings: Settings, actor: Principal, code: str) -> ConnectionTest:
    """Test connection; the outcome is kept on the source and in the audit trail."""
    source = managed_source(session, actor, code)
    try:
        message, ok = test_connection(source, settings, SecretBox(settings)), True
    except SourceFailure as exc:
        message, ok = exc.message, False
    except Invalid as exc:  # e.g. a secret sealed under another key
        message, ok = exc.message, False
    source.last_tested_at = utcnow()
    source.last_test_ok = ok
    source.last_test_message = message[:500]
    session.flush()
    audit.record(
        session, actor, "ingest.source.test", "ingest_source", source.code, {"ok": [None, ok]},
        outcome="success" if ok else "failure",
    )  # fmt: skip
    return ConnectionTest(ok=ok, message=message, tested_at=source.last_tested_at)


# --- jobs ------------------------------------------------------------------------------------------


def visible_job(session: Session, actor: Principal, code: str) -> Job:
    job = IngestRepository(session).job(actor, code)
    if job is None:
        raise NotFound(M_("no ingestion job %(code)r", code=code), code="job_not_found")
    return job


def managed_job(session: Session, actor: Principal, code: str) -> Job:
    job = visible_job(session, actor, code)
    if not may_manage(actor, job.source.system.department_id):
        raise Forbidden(M_("only the department's officers or the bureau's operators manage this job"))
    return job


def _check_job_shape(
    source: Source,
    object_kind: ObjectKind,
    mode: JobMode,
    watermark_column: str | None,
    schedule: str | None,
) -> None:
    if object_kind not in OBJECT_KINDS[source.kind]:
        allowed = ", ".join(sorted(kind.value for kind in OBJECT_KINDS[source.kind]))
        raise Invalid(
            M_(
                "a %(kind)s source can be read as: %(allowed)s, not %(object_kind)s",
                kind=source.kind.value,
                allowed=allowed,
                object_kind=object_kind.value,
            ),
            field="object_kind",
        )
    if mode is JobMode.INCREMENTAL and source.kind is not SourceKind.FILE and not watermark_column:
        raise Invalid(
            M_("incremental jobs need a watermark column (an updated-at column or an increasing key)"),
            field="watermark_column",
        )
    if schedule:
        parse_schedule(schedule)


def _check_mapping(rules: list[FieldRule], items: dict[str, DataType], key_columns: list[str]) -> None:
    check_rules(rules, items)
    for name in key_columns:
        if not name.strip():
            raise Invalid(M_("key columns must be named"), field="key_columns")
    for rule in rules:
        if rule.template:
            template_fields(rule.template)


def create_job(session: Session, actor: Principal, data: JobCreate) -> Job:
    repository = IngestRepository(session)
    source = repository.source(actor, data.source)
    if source is None:
        raise Invalid(M_("no source %(source)r", source=data.source), field="source")
    if not may_manage(actor, source.system.department_id):
        raise Forbidden(M_("you may create jobs only on your own department's sources"))
    resource = repository.resource(data.resource)
    if resource is None:
        raise Invalid(M_("no catalog resource %(resource)r", resource=data.resource), field="resource")
    if not actor.is_operator and resource.provider_department_id != source.system.department_id:
        raise Forbidden(
            M_("a department gathers data into its own catalog resources only"), code="not_your_resource"
        )
    if repository.job_exists(data.code):
        raise Conflict(M_("job code %(code)r is taken", code=data.code), field="code")
    schedule = data.schedule or None
    _check_job_shape(source, data.object_kind, data.mode, data.watermark_column, schedule)
    _check_mapping(data.mapping, IngestRepository(session).item_types(resource.id), data.key_columns)
    job = Job(
        code=data.code,
        name=data.name,
        source_id=source.id,
        resource_id=resource.id,
        object_kind=data.object_kind,
        source_object=data.source_object,
        key_columns=data.key_columns,
        mode=data.mode,
        watermark_column=data.watermark_column or None,
        mapping=[rule.model_dump(exclude_none=True) for rule in data.mapping],
        schedule=schedule,
        enabled=data.enabled,
    )
    session.add(job)
    session.flush()
    audit.record(
        session, actor, "ingest.job.create", "ingest_job", job.code,
        {"source": [None, source.code], "resource": [None, resource.code], "mode": [None, job.mode.value],
         "schedule": [None, job.schedule]},
    )  # fmt: skip
    return visible_job(session, actor, job.code)


def update_job(session: Session, actor: Principal, code: str, data: JobUpdate) -> Job:
    job = managed_job(session, actor, code)
    before = _job_fields(job)
    for name in ("name", "source_object", "key_columns", "mode", "enabled"):
        value = getattr(data, name)
        if value is not None:
            setattr(job, name, value)
    if data.watermark_column is not None:
        job.watermark_column = data.watermark_column or None
    if data.schedule is not None:
        job.schedule = data.schedule or None
    if data.mapping is not None:
        job.mapping = [rule.model_dump(exclude_none=True) for rule in data.mapping]
    if data.reset_watermark:
        job.watermark = None
    _check_job_shape(job.source, job.object_kind, job.mode, job.watermark_column, job.schedule)
    _check_mapping(
        [FieldRule.model_validate(rule) for rule in job.mapping],
        IngestRepository(session).item_types(job.resource_id),
        job.key_columns,
    )
    changes = audit.diff(before, _job_fields(job))
    if changes:
        job.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "ingest.job.update", "ingest_job", job.code, changes)
    return job


def _job_fields(job: Job) -> dict[str, Any]:
    return {
        "name": job.name,
        "source_object": job.source_object,
        "key_columns": list(job.key_columns),
        "mode": job.mode.value,
        "watermark_column": job.watermark_column,
        "watermark": job.watermark,
        "mapping": list(job.mapping),
        "schedule": job.schedule,
        "enabled": job.enabled,
    }


def run_read(run: Run, job_code: str, progress: ProgressLookup | None = None) -> RunRead:
    live = progress(run.id) if progress and run.status is RunStatus.RUNNING else None
    return RunRead(
        id=run.id,
        job=job_code,
        trigger=run.trigger,
        requested_by=run.requested_by,
        status=run.status,
        worker=run.worker,
        scheduled_for=run.scheduled_for,
        started_at=run.started_at,
        finished_at=run.finished_at,
        rows_read=run.rows_read,
        rows_written=run.rows_written,
        rows_rejected=run.rows_rejected,
        rows_removed=run.rows_removed,
        watermark_before=run.watermark_before,
        watermark_after=run.watermark_after,
        error=run.error,
        notes=run.notes,
        progress=live,
    )


def job_read(job: Job, last_run: Run | None, progress: ProgressLookup | None = None) -> JobRead:
    return JobRead(
        code=job.code,
        name=job.name,
        source=job.source.code,
        resource=job.resource.code,
        resource_name=job.resource.name,
        department=job.source.system.department.code,
        object_kind=job.object_kind,
        source_object=job.source_object,
        key_columns=list(job.key_columns),
        mode=job.mode,
        watermark_column=job.watermark_column,
        watermark=job.watermark,
        mapping=[FieldRule.model_validate(rule) for rule in job.mapping],
        schedule=job.schedule,
        next_run_at=next_due(job.schedule, utcnow()) if job.schedule and job.enabled else None,
        enabled=job.enabled,
        last_run=run_read(last_run, job.code, progress) if last_run else None,
    )


def job_reads(
    session: Session, actor: Principal, progress: ProgressLookup | None, source_code: str | None = None
) -> list[JobRead]:
    """The jobs the caller may see (of one source, if given), each with its last batch."""
    repository = IngestRepository(session)
    jobs = repository.jobs(actor, source_code)
    last = repository.last_runs([job.id for job in jobs])
    return [job_read(job, last.get(job.id), progress) for job in jobs]


def job_with_last_run(session: Session, job: Job, progress: ProgressLookup | None = None) -> JobRead:
    return job_read(job, IngestRepository(session).last_runs([job.id]).get(job.id), progress)


def visible_run(session: Session, actor: Principal, run_id: int) -> tuple[Run, Job]:
    found = IngestRepository(session).run(actor, run_id)
    if found is None:
        raise NotFound(M_("no ingestion run %(run_id)s", run_id=run_id), code="run_not_found")
    return found


def rejects_page(session: Session, actor: Principal, run_id: int, offset: int, limit: int) -> RejectPage:
    run, job = visible_run(session, actor, run_id)
    if not may_read_raw(actor, job.resource.provider_department_id):
        raise Forbidden(M_("rejected rows hold source data: only the department and the bureau read them"))
    rows, total = IngestRepository(session).rejects(run.id, offset, limit)
    items = [
        RejectRead(
            row_number=r.row_number, source_key=r.source_key, field=r.field, reason=r.reason, raw=r.raw
        )
        for r in rows
    ]
    return RejectPage(items=items, total=total, offset=offset, limit=limit)


def raw_page(session: Session, actor: Principal, resource_code: str, offset: int, limit: int) -> RawPage:
    repository = IngestRepository(session)
    resource = repository.resource(resource_code)
    if resource is None or not may_read_raw(actor, resource.provider_department_id):
        # Not revealing whether an entry the caller may not read even has raw data.
        raise NotFound(
            M_("no raw data of resource %(resource_code)r you may read", resource_code=resource_code),
            code="raw_not_found",
        )
    jobs = repository.resource_jobs(resource.id)
    rows, total = repository.raw_records(list(jobs), offset, limit)
    items = [
        RawRecordRead(
            job=jobs[r.job_id],
            source_key=r.source_key,
            batch_id=r.batch_id,
            loaded_at=r.loaded_at,
            data=r.data,
        )
        for r in rows
    ]
    return RawPage(items=items, total=total, offset=offset, limit=limit)
