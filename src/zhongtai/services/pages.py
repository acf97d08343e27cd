"""Staff pages of services: the service catalog (departments save, the bureau reviews mappings), the
caseworkers' worklist and case page (fetched data read under the case's grants), co-handling answers,
and the ledger against the reference city."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from zhongtai.core.errors import M_, NotFound, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_json, form_str, refusal_to_show, valid_form
from zhongtai.services import auth, cases, handling, ledger, service
from zhongtai.services.models import Case, CaseStatus, MaterialOutcome
from zhongtai.services.mpages import decision_document
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.schemas import Decision, ItemWrite, Position, ReviewWrite, TaskAnswer, TaskCreate

router = APIRouter(include_in_schema=False)


@router.get("/services")
def catalog(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    items = [service.item_read(session, i) for i in service.catalog(session)]
    reviews = service.pending_reviews(session, page.principal)
    return page.render("svc_items.html", items=items, reviews=reviews, error=None)


@router.get("/services/items/{code}")
def item_page(code: str, page: SignedInPage, session: DbSession) -> Response:
    return _item_page(page, session, code)


def _item_page(
    page: SignedInPage, session: DbSession, code: str, status_code: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    item = service.get_item(session, code)
    read = service.item_read(session, item)
    editable = auth.may_maintain(page.principal, item.department_id)
    document = ItemWrite.model_validate(
        {
            **read.model_dump(include={"code", "name", "department", "applicant_kind", "legal_basis"}),
            **read.model_dump(
                include={"time_limit_days", "co_departments", "trips", "description", "active"}
            ),
            "materials": [
                {
                    k: v
                    for k, v in m.model_dump(mode="json").items()
                    if k not in ("id", "position", "provider", "review", "review_comment")
                    and v not in (None, [], False)
                }
                for m in read.materials
            ],
        }
    ).model_dump_json(indent=2, exclude_defaults=True)
    extra.setdefault("document", document)
    return page.render(
        "svc_item.html",
        status_code=status_code,
        item=read,
        editable=editable,
        reviewer=auth.may_review(page.principal),
        error=extra.pop("error", None),
        **extra,
    )


@router.post("/services/items/{code}")
def save_item(code: str, page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        data = valid_form(ItemWrite, {**form_json(form, "document"), "code": code})
        service.save_item(session, page.principal, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _item_page(
            page, session, code, status_code=exc.status_code, error=exc, document=form_str(form, "document")
        )
    return RedirectResponse(f"/services/items/{code}", status_code=303)


@router.post("/services/items/{code}/materials/{position}/review")
def review(code: str, position: Position, page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        data = valid_form(
            ReviewWrite, {"decision": form_str(form, "decision"), "comment": form_str(form, "comment")}
        )
        service.review_material(session, page.principal, code, position, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _item_page(page, session, code, status_code=exc.status_code, error=exc)
    return RedirectResponse(f"/services/items/{code}", status_code=303)


@router.get("/services/cases")
def worklist(page: SignedInPage, session: DbSession, status: str = "") -> Response:
    assert page.principal is not None
    repo = ServicesRepository(session)
    wanted = status if status in {s.value for s in CaseStatus} else None
    found = repo.cases_for(page.principal, wanted)
    names = {i.id: i.name for i in service.catalog(session)}
    tasks = repo.open_tasks_of(page.principal.department_id) if page.principal.department_id else []
    task_cases = {t.case_id: session.get(Case, t.case_id) for t in tasks}
    today = utcnow().astimezone(CITY_ZONE).date()
    return page.render(
        "svc_cases.html",
        cases=found,
        names=names,
        tasks=tasks,
        task_cases=task_cases,
        status=wanted or "",
        today=today,
        overdue=handling.overdue,
        masked=handling.masked_applicant,
        error=None,
    )


@router.get("/services/cases/{number}")
def case_page(number: str, page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    return _case_page(page, session, settings, number)


def _case_page(
    page: SignedInPage,
    session: DbSession,
    settings: AppSettings,
    number: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    assert page.principal is not None
    case, handles = handling.seen_case(session, page.principal, number)
    repo = ServicesRepository(session)
    item = repo.item_by_id(case.item_id)
    materials = {m.id: m for m in repo.materials(item.id)}
    data: dict[int, Any] = {}
    data_error = None
    if handles and case.status not in (CaseStatus.WITHDRAWN,):
        try:
            data = handling.fetched_data(session, settings, page.principal, case)
        except ZhongtaiError as exc:  # the case closed or consent was withdrawn: its grants ended
            data_error = exc
    departments = repo.department_names()
    return page.render(
        "svc_case.html",
        status_code=status_code,
        case=case,
        item=item,
        handles=handles,
        entries=[(e, materials[e.material_id]) for e in repo.case_materials(case.id)],
        providers={m.id: service.provider_of(session, m) for m in materials.values()},
        data=data,
        data_error=data_error,
        tasks=repo.tasks(case.id),
        events=repo.events(case.id),
        departments=departments,
        applicant=handling.masked_applicant(case),
        fetched=MaterialOutcome.FETCHED,
        error=extra.pop("error", None),
        **extra,
    )


@router.post("/services/cases/{number}/{action}")
def act(
    number: str, action: str, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """accept / ask (a co-handling department) / decide (approve, return, refuse)."""
    check_csrf(page, form)
    assert page.principal is not None
    now = utcnow()
    try:
        if action == "accept":
            handling.accept(session, page.principal, number, now)
        elif action == "ask":
            values = {"department": form_str(form, "department"), "question": form_str(form, "question")}
            days = form_str(form, "days")
            task = valid_form(TaskCreate, {**values, "days": int(days) if days.isdigit() else 3})
            handling.ask(session, page.principal, number, task, now)
        elif action == "decide":
            decision = valid_form(
                Decision, {"action": form_str(form, "decision"), "reason": form_str(form, "reason")}
            )
            handling.decide(session, settings, page.principal, number, decision, now)
        else:
            raise NotFound(M_("no such action on a case: %(action)s", action=action[:40]))
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _case_page(page, session, settings, number, status_code=exc.status_code, error=exc)
    return RedirectResponse(f"/services/cases/{number}", status_code=303)


@router.post("/services/tasks/{task_id}/answer")
def answer(task_id: RowId, page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(
        TaskAnswer, {"agrees": form_str(form, "agrees") == "yes", "answer": form_str(form, "answer")}
    )
    task = handling.answer(session, page.principal, task_id, data, utcnow())
    case = session.get(Case, task.case_id)
    assert case is not None
    return RedirectResponse(f"/services/cases/{case.number}", status_code=303)


@router.get("/services/cases/{number}/files/{entry_id}")
def case_file(
    number: str, entry_id: RowId, page: SignedInPage, session: DbSession, settings: AppSettings
) -> Response:
    """An uploaded material, for the case's caseworker only."""
    assert page.principal is not None
    case = handling.handled_case(session, page.principal, number)
    entry = next((e for e in ServicesRepository(session).case_materials(case.id) if e.id == entry_id), None)
    path = cases.file_path(settings, case, entry) if entry else None
    if entry is None or path is None or not path.is_file():
        raise NotFound(M_("no such file in this case"))
    return FileResponse(path, media_type=entry.file_type or "application/octet-stream")


@router.get("/services/cases/{number}/document")
def document(number: str, page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    return decision_document(page, session, handling.handled_case(session, page.principal, number))


@router.get("/services/ledger")
def ledger_page(page: SignedInPage, session: DbSession) -> Response:
    totals = ledger.totals(session)
    share = totals.submissions / totals.reference_submissions if totals.reference_submissions else 0.0
    return page.render("svc_ledger.html", ledger=totals, share=share, error=None)
