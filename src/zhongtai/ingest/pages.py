"""Ingestion pages: sources, test connection, jobs, run now, live run status, rejects, raw data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from zhongtai.catalog import service as catalog
from zhongtai.core.errors import M_, Forbidden, Invalid, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.jobs import JobContext
from zhongtai.core.web import (
    Form,
    SignedInPage,
    check_csrf,
    form_json,
    form_str,
    refusal_to_show,
    validation_message,
)
from zhongtai.ingest import service
from zhongtai.ingest.auth import may_manage, may_manage_any, may_read_raw
from zhongtai.ingest.models import JobMode, ObjectKind, RunStatus, SourceKind
from zhongtai.ingest.repository import IngestRepository
from zhongtai.ingest.schemas import JobCreate, SourceCreate
from zhongtai.ingest.tasks import ProgressBoard, enqueue_run
from zhongtai.orgs.repository import OrgRepository

router = APIRouter(include_in_schema=False)
RAW_PAGE_SIZE = 50


def _board(request: Request) -> ProgressBoard:
    context: JobContext = request.app.state.jobs
    return ProgressBoard(context)


@router.get("/ingest")
def overview(page: SignedInPage, session: DbSession, request: Request) -> Response:
    assert page.principal is not None
    sources = [service.source_read(s) for s in IngestRepository(session).sources(page.principal)]
    jobs = service.job_reads(session, page.principal, _board(request).lookup)
    running = any(j.last_run and j.last_run.status is RunStatus.RUNNING for j in jobs)
    return page.render("ingest_overview.html", sources=sources, jobs=jobs, refresh=running)


@router.get("/ingest/sources/new")
def new_source(page: SignedInPage, session: DbSession) -> Response:
    _check_manages(page)
    return _source_form(page, session, {})


def _source_form(
    page: SignedInPage, session: DbSession, values: dict[str, str], error: ZhongtaiError | None = None
) -> Response:
    return page.render(
        "ingest_source_form.html",
        status_code=error.status_code if error else 200,
        systems=_own_systems(page, session),
        kinds=list(SourceKind),
        values=values,
        error=error,
    )


def _check_manages(page: SignedInPage) -> None:
    """The form is for those who may save it: a department's officers and the bureau's operators."""
    assert page.principal is not None
    if not may_manage_any(page.principal):
        raise Forbidden(
            M_("sources and jobs are registered by a department's officers and the bureau's operators"),
            code="missing_role",
        )


def _own_systems(page: SignedInPage, session: DbSession) -> list[Any]:
    assert page.principal is not None
    principal = page.principal
    return [s for s in OrgRepository(session).systems() if may_manage(principal, s.department_id)]


@router.post("/ingest/sources/new")
def create_source(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = {name: form_str(form, name) for name in SOURCE_FIELDS}  # the secret is never sent back
    try:
        try:
            data = SourceCreate(
                code=values["code"].upper(),
                name=values["name"],
                system=values["system"],
                kind=SourceKind(values["kind"] or "database"),
                options=form_json(form, "options"),
                secret=form_str(form, "secret") or None,
            )
        except ValidationError as exc:
            raise validation_message(exc) from exc
        except ValueError as exc:
            raise Invalid(str(exc), field="kind") from exc
        source = service.create_source(session, settings, page.principal, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()  # nothing half-written: the form comes back with what was typed
        return _source_form(page, session, values, exc)
    return RedirectResponse(f"/ingest/sources/{source.code}", status_code=303)


@router.get("/ingest/sources/{code}")
def source_detail(page: SignedInPage, session: DbSession, request: Request, code: str) -> Response:
    assert page.principal is not None
    source = service.visible_source(session, page.principal, code)
    return page.render(
        "ingest_source.html",
        s=service.source_read(source),
        jobs=service.job_reads(session, page.principal, _board(request).lookup, source.code),
        can_manage=may_manage(page.principal, source.system.department_id),
    )


@router.post("/ingest/sources/{code}/test")
def test_source(
    page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, code: str
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.check_source(session, settings, page.principal, code)
    return RedirectResponse(f"/ingest/sources/{code}", status_code=303)


JOB_FIELDS = (
    "code",
    "name",
    "source",
    "resource",
    "object_kind",
    "source_object",
    "key_columns",
    "mode",
    "watermark_column",
    "mapping",
    "schedule",
)
SOURCE_FIELDS = ("code", "name", "system", "kind", "options")


@router.get("/ingest/jobs/new")
def new_job(page: SignedInPage, session: DbSession, source: str = "") -> Response:
    _check_manages(page)
    return _job_form(page, session, {"source": source})


def _job_form(
    page: SignedInPage, session: DbSession, values: dict[str, str], error: ZhongtaiError | None = None
) -> Response:
    assert page.principal is not None
    principal = page.principal
    sources = [
        s
        for s in IngestRepository(session).sources(principal)
        if may_manage(principal, s.system.department_id)
    ]
    return page.render(
        "ingest_job_form.html",
        status_code=error.status_code if error else 200,
        sources=sources,
        resources=catalog.own_resources(session, principal),
        chosen=values.get("source", ""),
        object_kinds=list(ObjectKind),
        modes=list(JobMode),
        values=values,
        error=error,
    )


@router.post("/ingest/jobs/new")
def create_job(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = {name: form_str(form, name) for name in JOB_FIELDS}
    try:
        try:
            data = JobCreate(
                code=values["code"].upper(),
                name=values["name"],
                source=values["source"],
                resource=values["resource"],
                object_kind=ObjectKind(values["object_kind"] or "table"),
                source_object=values["source_object"],
                key_columns=[c.strip() for c in values["key_columns"].split(",") if c.strip()],
                mode=JobMode(values["mode"] or "full"),
                watermark_column=values["watermark_column"] or None,
                mapping=form_json(form, "mapping", "[]"),
                schedule=values["schedule"] or None,
            )
        except ValidationError as exc:
            raise validation_message(exc) from exc
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        job = service.create_job(session, page.principal, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()  # nothing half-written: the form comes back with what was typed
        return _job_form(page, session, values, exc)
    return RedirectResponse(f"/ingest/jobs/{job.code}", status_code=303)


@router.get("/ingest/jobs/{code}")
def job_detail(page: SignedInPage, session: DbSession, request: Request, code: str) -> Response:
    assert page.principal is not None
    job = service.visible_job(session, page.principal, code)
    board = _board(request)
    runs = [
        service.run_read(run, job.code, board.lookup) for run in IngestRepository(session).runs(job.id, 30)
    ]
    return page.render(
        "ingest_job.html",
        j=service.job_read(job, None),
        runs=runs,
        can_manage=may_manage(page.principal, job.source.system.department_id),
        refresh=any(r.status is RunStatus.RUNNING for r in runs),
    )


@router.post("/ingest/jobs/{code}/run")
def run_now(page: SignedInPage, form: Form, session: DbSession, request: Request, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    job = service.managed_job(session, page.principal, code)
    session.commit()  # jobs are sent only after the request's own changes are committed
    enqueue_run(request.app.state.jobs, job.code, "manual", page.principal.username)
    return RedirectResponse(f"/ingest/jobs/{job.code}", status_code=303)


@router.get("/ingest/runs/{run_id}")
def run_detail(
    page: SignedInPage,
    session: DbSession,
    request: Request,
    run_id: RowId,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    assert page.principal is not None
    run, job = service.visible_run(session, page.principal, run_id)
    # Rejected rows hold source values: shown only to those who may read the raw data (not auditors).
    readable = may_read_raw(page.principal, job.resource.provider_department_id)
    rejects = service.rejects_page(session, page.principal, run.id, offset, 50) if readable else None
    return page.render(
        "ingest_run.html",
        r=service.run_read(run, job.code, _board(request).lookup),
        rejects=rejects,
        refresh=run.status is RunStatus.RUNNING,
    )


@router.get("/catalog/{code}/raw")
def raw_data(page: SignedInPage, session: DbSession, code: str, offset: int = 0) -> Response:
    assert page.principal is not None
    offset = min(max(0, offset), 10_000_000)
    raw = service.raw_page(session, page.principal, code, offset, RAW_PAGE_SIZE)
    columns: list[str] = []
    for record in raw.items:
        columns.extend(name for name in record.data if name not in columns)
    return page.render("ingest_raw.html", code=code, raw=raw, columns=columns, page_size=RAW_PAGE_SIZE)
