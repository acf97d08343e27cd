"""The public side's services under ``/m`` (一网通办): choose a service, see which materials the platform
fetches and from whom, preview them, consent or decline, upload what remains, follow the case, print the
decision. A citizen acts for themselves or a member of their household (proven by the register)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from zhongtai.core.errors import M_, NotFound, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.web import Form, check_csrf, form_str, refusal_to_show
from zhongtai.public import service as public
from zhongtai.public.auth import PREFIX, CitizenPage
from zhongtai.public.service import CitizenPrincipal
from zhongtai.services import cases, handling, service
from zhongtai.services.models import ApplicantKind, Case, CaseStatus, MaterialOutcome
from zhongtai.services.repository import ServicesRepository

router = APIRouter(include_in_schema=False)


def _subjects(page: CitizenPage, session: DbSession) -> list[str]:
    """The citizen and their household members: whose cases they see."""
    assert page.citizen is not None
    return [page.citizen.subject, *(m.subject for m in public.family(session, page.citizen))]


@router.get(PREFIX + "/services")
def catalog(page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    kind = ApplicantKind.ENTERPRISE if page.citizen.is_enterprise else ApplicantKind.PERSON
    items = [i for i in service.catalog(session, active_only=True) if i.applicant_kind is kind]
    mine = ServicesRepository(session).cases_of_applicant(_subjects(page, session), limit=5)
    return page.render("m_services.html", items=[service.item_read(session, i) for i in items], mine=mine)


@router.get(PREFIX + "/services/{code}")
def service_page(code: str, page: CitizenPage, session: DbSession) -> Response:
    return _service_page(page, session, code)


def _service_page(
    page: CitizenPage, session: DbSession, code: str, status_code: int = 200, **extra: Any
) -> Response:
    assert page.citizen is not None
    item = service.item_read(session, service.get_item(session, code))
    labels = [m.field_label for m in item.materials if m.field_label]
    family = [] if page.citizen.is_enterprise else public.family(session, page.citizen)
    extra.setdefault("values", {})
    return page.render(
        "m_service.html", status_code=status_code, item=item, labels=labels, family=family, **extra
    )


@router.post(PREFIX + "/services/{code}")
def start(code: str, page: CitizenPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    member = form_str(form, "member")
    fields = {k: form_str(form, k) for k in form if k.startswith("field:")}
    try:
        applicant = _applicant(session, settings, page.citizen, member)
        typed = {k.removeprefix("field:"): v for k, v in fields.items()}
        case = cases.start(session, settings, applicant, code, typed, utcnow())
    except ZhongtaiError as exc:
        if not (refusal_to_show(exc) or exc.status_code == 404):
            raise
        session.rollback()
        return _service_page(page, session, code, status_code=exc.status_code, error=exc, values=fields)
    return RedirectResponse(f"{PREFIX}/cases/{case.number}", status_code=303)


def _applicant(
    session: DbSession, settings: Settings, citizen: CitizenPrincipal, member: str
) -> cases.Applicant:
    """Whose case: the enterprise signed in, or the citizen or a member of their household (404 else)."""
    if citizen.is_enterprise:
        credit = public.myself(session, settings, citizen).id_number  # its credit code, sealed at sign-in
        return cases.Applicant(
            ApplicantKind.ENTERPRISE, citizen.subject, citizen.name, credit, citizen.subject
        )
    person = public.person_for(session, settings, citizen, int(member) if member.isdigit() else None)
    return cases.Applicant(
        ApplicantKind.PERSON, person.subject, person.name, person.id_number, citizen.subject
    )


@router.get(PREFIX + "/cases")
def my_cases(page: CitizenPage, session: DbSession) -> Response:
    found = ServicesRepository(session).cases_of_applicant(_subjects(page, session))
    names = {i.id: i.name for i in service.catalog(session)}
    return page.render("m_cases.html", cases=found, names=names)


def _case_page(
    page: CitizenPage,
    session: DbSession,
    settings: Settings,
    case: Case,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    repo = ServicesRepository(session)
    item = repo.item_by_id(case.item_id)
    materials = {m.id: m for m in repo.materials(item.id)}
    entries = [(e, materials[e.material_id]) for e in repo.case_materials(case.id)]
    previews = None
    if case.status is CaseStatus.DRAFT and case.consented_at is None and case.consent_withdrawn_at is None:
        previews = cases.preview(session, settings, case, utcnow())
    return page.render(
        "m_case.html",
        status_code=status_code,
        case=case,
        item=item,
        entries=entries,
        previews=previews,
        providers={m.id: service.provider_of(session, m) for m in materials.values()},
        events=repo.events(case.id),
        tasks=repo.tasks(case.id),
        applicant=handling.masked_applicant(case),
        needed=[e for e, _m in entries if e.outcome is MaterialOutcome.NEEDED],
        **extra,
    )


@router.get(PREFIX + "/cases/{number}")
def case_page(number: str, page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    case = cases.applicant_case(session, _subjects(page, session), number)
    return _case_page(page, session, settings, case)


def _apply(action: str, session: DbSession, settings: Settings, case: Case, now: datetime) -> None:
    if action == "consent":
        cases.consent(session, settings, case, now)
    elif action == "decline":
        cases.decline_fetch(session, case, now)
    elif action == "submit":
        cases.submit(session, case, now)
    elif action == "withdraw-consent":
        cases.withdraw_consent(session, case, now)
    elif action == "withdraw":
        cases.withdraw(session, case, now)
    else:
        raise NotFound(M_("no such action on a case: %(action)s", action=action[:40]))


@router.post(PREFIX + "/cases/{number}/{action}")
async def act(
    number: str, action: str, request: Request, page: CitizenPage, session: DbSession, settings: AppSettings
) -> Response:
    """consent / decline / submit / withdraw-consent / withdraw, and upload (one file for one material)."""
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # multipart parser errors: a malformed body
        raise ZhongtaiError(M_("malformed form body: %(exc)s", exc=exc), code="malformed_form") from exc
    check_csrf(page, form)
    case = cases.applicant_case(session, _subjects(page, session), number)
    now = utcnow()
    try:
        if action == "upload":
            await _upload(session, settings, case, form.get("file"), form_str(form, "material"), now)
        else:
            _apply(action, session, settings, case, now)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _case_page(page, session, settings, case, status_code=exc.status_code, error=exc)
    return RedirectResponse(f"{PREFIX}/cases/{case.number}", status_code=303)


async def _upload(
    session: DbSession, settings: Settings, case: Case, file: Any, material: str, now: datetime
) -> None:
    if not isinstance(file, UploadFile) or not file.filename:
        raise ZhongtaiError(M_("choose a file to upload"), field="file", code="no_file")
    data = await file.read(cases.MAX_FILE_BYTES + 1)
    cases.upload(
        session, settings, case, int(material) if material.isdigit() else 0, file.filename, data, now
    )


@router.get(PREFIX + "/cases/{number}/document")
def document(number: str, page: CitizenPage, session: DbSession) -> Response:
    case = cases.applicant_case(session, _subjects(page, session), number)
    return decision_document(page, session, case)


def decision_document(page: Any, session: DbSession, case: Case) -> HTMLResponse:
    """The decision as a printable page (准予/不予 决定书)."""
    if case.decided_at is None:
        raise ZhongtaiError(M_("case %(number)s has no decision yet", number=case.number), code="no_decision")
    repo = ServicesRepository(session)
    item = repo.item_by_id(case.item_id)
    materials = {m.id: m for m in repo.materials(item.id)}
    entries = [(e, materials[e.material_id]) for e in repo.case_materials(case.id)]
    department = repo.department_names()[case.department_id][1]
    decided_day = case.decided_at.astimezone(CITY_ZONE).date()
    return page.render(  # type: ignore[no-any-return]
        "svc_document.html",
        case=case,
        item=item,
        entries=entries,
        department=department,
        applicant=handling.masked_applicant(case),
        decided_day=decided_day,
        providers={m.id: service.provider_of(session, m) for m in materials.values()},
    )
