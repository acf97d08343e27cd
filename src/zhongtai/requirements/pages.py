"""Requirement pages: the list with statistics and a filing form; one requirement with its steps and the
actions open to the reader."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from zhongtai.core.http import DbSession
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, valid_form
from zhongtai.orgs.repository import OrgRepository
from zhongtai.requirements import auth, service
from zhongtai.requirements.lifecycle import STEPS
from zhongtai.requirements.models import RequirementKind
from zhongtai.requirements.schemas import Links, RequirementAction, RequirementCreate

router = APIRouter(include_in_schema=False)


@router.get("/requirements")
def requirements(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    rows = [service.view(session, r) for r in service.listing(session, page.principal)]
    return page.render(
        "requirements.html",
        rows=rows,
        statistics=service.statistics(session, page.principal),
        kinds=list(RequirementKind),
        may_file=auth.may_file(page.principal),
    )


@router.post("/requirements")
def file(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(
        RequirementCreate,
        {
            "kind": form_str(form, "kind"),
            "title": form_str(form, "title"),
            "description": form_str(form, "description"),
            "due_date": form_str(form, "due_date"),
        },
    )
    number = service.file(session, page.principal, data).number
    session.commit()
    return RedirectResponse(f"/requirements/{number}", status_code=303)


@router.get("/requirements/{number}")
def requirement(page: SignedInPage, session: DbSession, number: str) -> Response:
    assert page.principal is not None
    found = service.visible(session, page.principal, number)
    actions = [
        name
        for name, step in STEPS.items()
        if found.status in step.sources and auth.acts_as(page.principal, found, step.party)
    ]
    return page.render(
        "requirement.html",
        r=service.view(session, found),
        actions=actions,
        departments=[d.code for d in OrgRepository(session).departments()],
    )


def _codes(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


@router.post("/requirements/{number}")
def act(page: SignedInPage, form: Form, session: DbSession, number: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    links = None
    if any(form_str(form, name) for name in ("resources", "applications", "capabilities")):
        links = Links(
            resources=_codes(form_str(form, "resources")),
            applications=_codes(form_str(form, "applications")),
            capabilities=_codes(form_str(form, "capabilities")),
        )
    data = valid_form(
        RequirementAction,
        {
            "action": form_str(form, "action"),
            "assignee": form_str(form, "assignee") or None,
            "reason": form_str(form, "reason"),
            "links": links,
        },
    )
    service.act(session, page.principal, number, data)
    session.commit()
    return RedirectResponse(f"/requirements/{number}", status_code=303)
