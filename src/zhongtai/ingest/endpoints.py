"""Ingestion REST API: sources, test connection, file upload, jobs, run now, runs, rejects, raw data."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request

from zhongtai.core.errors import M_, Conflict, Invalid
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession, Jobs, RowId
from zhongtai.ingest import service
from zhongtai.ingest.models import SourceKind
from zhongtai.ingest.repository import IngestRepository
from zhongtai.ingest.schemas import (
    ConnectionTest,
    JobCreate,
    JobRead,
    JobUpdate,
    RawPage,
    RejectPage,
    RunQueued,
    RunRead,
    SourceCreate,
    SourceRead,
    SourceUpdate,
)
from zhongtai.ingest.sources import inbox_of
from zhongtai.ingest.tasks import ProgressBoard, enqueue_run

router = APIRouter(prefix="/api/v1", tags=["ingestion"])
UPLOAD_PATH = re.compile(r"/api/v1/ingest/sources/[^/]+/files")
SAFE_FILE_NAME = re.compile(r"[^/\\\x00]{1,200}")


@router.get("/ingest/sources", response_model=list[SourceRead])
def list_sources(session: DbSession, principal: ApiPrincipal) -> list[SourceRead]:
    return [service.source_read(s) for s in IngestRepository(session).sources(principal)]


@router.post("/ingest/sources", response_model=SourceRead, status_code=201)
def create_source(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, body: SourceCreate
) -> SourceRead:
    return service.source_read(service.create_source(session, settings, principal, body))


@router.get("/ingest/sources/{code}", response_model=SourceRead)
def get_source(session: DbSession, principal: ApiPrincipal, code: str) -> SourceRead:
    return service.source_read(service.visible_source(session, principal, code))


@router.patch("/ingest/sources/{code}", response_model=SourceRead)
def update_source(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, code: str, body: SourceUpdate
) -> SourceRead:
    return service.source_read(service.update_source(session, settings, principal, code, body))


@router.post("/ingest/sources/{code}/test", response_model=ConnectionTest)
def test_source(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, code: str
) -> ConnectionTest:
    """Reach the department system now; the outcome is kept on the source."""
    return service.check_source(session, settings, principal, code)


@router.post("/ingest/sources/{code}/files", status_code=201)
async def upload_file(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    code: str,
    name: Annotated[str, Query(max_length=200, description="File name in the inbox, e.g. 2026-11.csv")],
) -> dict[str, object]:
    """Stream the request body into the file source's inbox (the body is the file, any size up to the
    upload limit). It appears under its name only once complete, so a job never reads half a file."""
    source = service.managed_source(session, principal, code)
    if source.kind is not SourceKind.FILE:
        raise Invalid(M_("source %(code)r is not a file source", code=code), field="code")
    if not SAFE_FILE_NAME.fullmatch(name) or name.startswith(".") or name != name.strip():
        raise Invalid(
            M_("name must be a plain file name (no folders, not starting with a dot)"), field="name"
        )
    inbox = inbox_of(source, settings)
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / name
    if target.exists():
        raise Conflict(
            M_("%(name)s is already in the inbox; upload under another name", name=name), field="name"
        )
    partial = inbox / f".upload-{uuid.uuid4().hex}.part"
    size = 0
    try:
        async with await anyio.open_file(partial, "wb") as handle:  # disk writes off the event loop
            async for piece in request.stream():
                size += len(piece)
                await handle.write(piece)
        if size == 0:
            raise Invalid(M_("the uploaded file is empty"), field="body")
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return {"source": code, "name": name, "bytes": size}


@router.get("/ingest/jobs", response_model=list[JobRead])
def list_jobs(
    session: DbSession, principal: ApiPrincipal, jobs: Jobs, source: str | None = None
) -> list[JobRead]:
    return service.job_reads(session, principal, ProgressBoard(jobs).lookup, source)


@router.post("/ingest/jobs", response_model=JobRead, status_code=201)
def create_job(session: DbSession, principal: ApiPrincipal, body: JobCreate) -> JobRead:
    return service.job_read(service.create_job(session, principal, body), None)


@router.get("/ingest/jobs/{code}", response_model=JobRead)
def get_job(session: DbSession, principal: ApiPrincipal, jobs: Jobs, code: str) -> JobRead:
    job = service.visible_job(session, principal, code)
    return service.job_with_last_run(session, job, ProgressBoard(jobs).lookup)


@router.patch("/ingest/jobs/{code}", response_model=JobRead)
def update_job(session: DbSession, principal: ApiPrincipal, code: str, body: JobUpdate) -> JobRead:
    return service.job_with_last_run(session, service.update_job(session, principal, code, body))


@router.post("/ingest/jobs/{code}/run", response_model=RunQueued, status_code=202)
def run_now(session: DbSession, principal: ApiPrincipal, jobs: Jobs, code: str) -> RunQueued:
    """Queue one batch of the job now; follow it under /ingest/jobs/{code}/runs."""
    job = service.managed_job(session, principal, code)
    session.commit()  # jobs are sent only after the request's own changes are committed
    enqueue_run(jobs, job.code, "manual", principal.username)
    return RunQueued(job=job.code, queued=True, message="queued; the run appears in the job's runs")


@router.get("/ingest/jobs/{code}/runs", response_model=list[RunRead])
def list_runs(
    session: DbSession,
    principal: ApiPrincipal,
    jobs: Jobs,
    code: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[RunRead]:
    job = service.visible_job(session, principal, code)
    board = ProgressBoard(jobs)
    return [
        service.run_read(run, job.code, board.lookup) for run in IngestRepository(session).runs(job.id, limit)
    ]


@router.get("/ingest/runs/{run_id}", response_model=RunRead)
def get_run(session: DbSession, principal: ApiPrincipal, jobs: Jobs, run_id: RowId) -> RunRead:
    run, job = service.visible_run(session, principal, run_id)
    return service.run_read(run, job.code, ProgressBoard(jobs).lookup)


@router.get("/ingest/runs/{run_id}/rejects", response_model=RejectPage)
def list_rejects(
    session: DbSession,
    principal: ApiPrincipal,
    run_id: RowId,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RejectPage:
    return service.rejects_page(session, principal, run_id, offset, limit)


@router.get("/resources/{code}/raw", response_model=RawPage)
def raw_records(
    session: DbSession,
    principal: ApiPrincipal,
    code: str,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RawPage:
    """The resource's gathered rows (raw zone), for its own department and the bureau."""
    return service.raw_page(session, principal, code, offset, limit)
