"""Departments and information systems pages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from zhongtai.core.errors import M_, Forbidden, ZhongtaiError
from zhongtai.core.http import DbSession
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, refusal_to_show, validation_message
from zhongtai.orgs import service
from zhongtai.orgs.auth import may_register_system_for, may_register_systems
from zhongtai.orgs.models import Department
from zhongtai.orgs.repository import OrgRepository
from zhongtai.orgs.schemas import SystemCreate, SystemUpdate

router = APIRouter(include_in_schema=False)


@router.get("/departments")
def departments(page: SignedInPage, session: DbSession) -> Response:
    return page.render("departments.html", departments=service.list_departments(session))


@router.get("/systems")
def systems(page: SignedInPage, session: DbSession, department: str | None = None) -> Response:
    assert page.principal is not None
    systems = OrgRepository(session).systems(department)
    editable = {s.code for s in systems if may_register_system_for(page.principal, s.department_id)}
    rows = [service.system_read(s) for s in systems]
    return page.render("systems.html", systems=rows, editable=editable, department=department or "")


@router.get("/systems/new")
def new_system(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    if not may_register_systems(page.principal):
        raise Forbidden(
            M_("systems are registered by a department's officers and the bureau's operators"),
            code="missing_role",
        )
    return _system_form(page, session)


def _system_form(
    page: SignedInPage,
    session: DbSession,
    values: dict[str, str] | None = None,
    error: ZhongtaiError | None = None,
) -> Response:
    return page.render(
        "system_form.html",
        status_code=error.status_code if error else 200,
        system=None,
        departments=_departments_for(page, session),
        values=values or {},
        error=error,
    )


def _departments_for(page: SignedInPage, session: DbSession) -> list[Department]:
    """Only the departments the user may register a system for."""
    assert page.principal is not None
    principal = page.principal
    return [d for d in OrgRepository(session).departments() if may_register_system_for(principal, d.id)]


@router.post("/systems/new")
def create_system(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = {name: form_str(form, name) for name in ("code", "name", "description", "department")}
    try:
        try:
            data = SystemCreate(
                code=values["code"].upper(),
                name=values["name"],
                description=values["description"],
                department=values["department"] or None,
            )
        except ValidationError as exc:
            raise validation_message(exc) from exc
        service.register_system(session, page.principal, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()  # nothing half-written: the form comes back with what was typed
        return _system_form(page, session, values, exc)
    return RedirectResponse("/systems", status_code=303)


@router.get("/systems/{code}/edit")
def edit_system(page: SignedInPage, session: DbSession, code: str) -> Response:
    assert page.principal is not None
    system = OrgRepository(session).editable_system(page.principal, code)
    if system is None:
        service.update_system(session, page.principal, code, SystemUpdate())  # raises 404 or 403
    return page.render("system_form.html", system=system, departments=[], values={}, error=None)


@router.post("/systems/{code}/edit")
def update_system(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        data = SystemUpdate(
            name=form_str(form, "name"),
            description=form_str(form, "description"),
            status=form_str(form, "status") or None,
        )
    except ValidationError as exc:
        raise validation_message(exc) from exc
    service.update_system(session, page.principal, code, data)
    return RedirectResponse("/systems", status_code=303)
