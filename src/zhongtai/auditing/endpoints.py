"""Audit trail REST API for auditors: search with filters, CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from zhongtai.auditing import service
from zhongtai.auditing.schemas import AuditFilter, AuditPage
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession

router = APIRouter(prefix="/api/v1", tags=["audit"])
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
Filters = Annotated[AuditFilter, Depends()]


@router.get("/audit/events", response_model=AuditPage)
def search(
    session: DbSession, principal: ApiPrincipal, filters: Filters, offset: Offset = 0, limit: Limit = 100
) -> AuditPage:
    """Entries newest first. ``chain`` admin|access; ``event_type`` matches a prefix."""
    return service.search(session, principal, filters, offset, limit)


@router.get(
    "/audit/export",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
)
def export(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, filters: Filters
) -> FileResponse:
    """Every matching entry as CSV (UTF-8 with BOM), oldest first; the export is itself audited."""
    path, _ = service.export_csv(session, principal, filters, settings.data_dir / "exports")
    return FileResponse(
        path,
        media_type="text/csv",
        filename="audit.csv",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
