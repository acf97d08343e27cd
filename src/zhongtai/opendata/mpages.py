"""The public side's open-data pages under ``/m/open``: a signed-in citizen or enterprise applies to use a
conditionally open dataset, follows its applications, makes the API key of an approved one (shown once)
and revokes it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from zhongtai.core.errors import M_, Invalid, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, check_csrf, form_str, refusal_to_show
from zhongtai.opendata import applications, service
from zhongtai.public.auth import PREFIX, CitizenPage

router = APIRouter(include_in_schema=False)


def _applicant(page: CitizenPage) -> applications.Applicant:
    assert page.citizen is not None
    return applications.Applicant(page.citizen.subject, page.citizen.kind, page.citizen.name)


def _mine(page: CitizenPage, session: DbSession, status_code: int = 200, **extra: Any) -> Response:
    found = applications.applications_of(session, _applicant(page))
    base = str(page.request.base_url).rstrip("/")
    resources = {f.dataset.id: service.resource_uuid(f.dataset.name, "csv") for f in found}
    return page.render(
        "m_open.html",
        status_code=status_code,
        found=found,
        now=utcnow(),
        base=base,
        resources=resources,
        **extra,
    )


@router.get(PREFIX + "/open")
def my_applications(page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    """The applicant's applications; a key made just now is shown here once (the request's commit clears
    it), so reloading neither shows it again nor makes another."""
    return _mine(page, session, new_keys=applications.reveal_new_keys(session, settings, _applicant(page)))


@router.get(PREFIX + "/open/apply/{name}")
def apply_form(page: CitizenPage, session: DbSession, name: str) -> Response:
    found = service.entry(session, name)
    error = None
    if found.dataset.access != "conditional":  # said before anything is typed
        error = Invalid(M_("dataset %(name)s is open to everyone; no application is needed", name=name[:100]))
    return page.render("m_open_apply.html", found=found, purpose="", error=error)


@router.post(PREFIX + "/open/apply/{name}")
def apply(page: CitizenPage, form: Form, session: DbSession, name: str) -> Response:
    check_csrf(page, form)
    purpose = form_str(form, "purpose")
    try:
        applications.apply(session, _applicant(page), name, purpose, utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        found = service.entry(session, name)
        return page.render(
            "m_open_apply.html", status_code=exc.status_code, found=found, purpose=purpose, error=exc
        )
    session.commit()
    return RedirectResponse(f"{PREFIX}/open", status_code=303)


@router.post(PREFIX + "/open/{number}")
def act(page: CitizenPage, form: Form, session: DbSession, settings: AppSettings, number: str) -> Response:
    """make-key (the new key shown on this answer only), revoke-key or withdraw."""
    check_csrf(page, form)
    action, applicant, now = form_str(form, "action"), _applicant(page), utcnow()
    try:
        if action == "make-key":
            applications.issue_key(session, settings, applicant, number, now)
        elif action == "revoke-key":
            applications.revoke_own_key(session, applicant, number, now)
        elif action == "withdraw":
            applications.withdraw(session, applicant, number)
        else:
            raise Invalid(M_("make a key, revoke it, or withdraw"), field="action")
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _mine(page, session, exc.status_code, error=exc, new_keys={})
    session.commit()
    return RedirectResponse(f"{PREFIX}/open", status_code=303)
