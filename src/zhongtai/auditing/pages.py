"""The auditor's page: the audit trail with filters, and its CSV export."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from zhongtai.auditing import mydata, service
from zhongtai.auditing.schemas import AuditFilter
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filters = Annotated[AuditFilter, Depends()]


@router.get("/audit")
def trail(page: SignedInPage, session: DbSession, filters: Filters, offset: Offset = 0) -> Response:
    assert page.principal is not None
    found = service.search(session, page.principal, filters, offset, PAGE_SIZE)
    query = urlencode(
        {k: v for k, v in filters.model_dump(mode="json", exclude_none=True).items() if v != ""}
    )
    return page.render("audit_trail.html", found=found, filters=filters, query=query, page_size=PAGE_SIZE)


@router.get("/audit/export.csv")
def export(page: SignedInPage, session: DbSession, settings: AppSettings, filters: Filters) -> FileResponse:
    assert page.principal is not None
    path, _ = service.export_csv(session, page.principal, filters, settings.data_dir / "exports")
    session.commit()
    return FileResponse(
        path,
        media_type="text/csv",
        filename="audit.csv",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/audit/objections")
def objection_queue(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    return page.render("audit_objections.html", objections=mydata.queue(session, page.principal))


@router.post("/audit/objections/{objection_id}/answer")
def answer_objection(objection_id: int, page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    mydata.answer(session, page.principal, objection_id, form_str(form, "answer"), utcnow())
    return RedirectResponse("/audit/objections", status_code=303)
