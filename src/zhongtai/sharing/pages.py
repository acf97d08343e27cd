"""Sharing pages: the application queues, applying, an application with its steps and the decisions open
to the reader, grants (revoke, renew) with their subscriptions and latest deliveries, scheduled reports
upstream with their deliveries, statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from zhongtai.core.errors import ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, refusal_to_show, valid_form
from zhongtai.sharing import auth, reports, service
from zhongtai.sharing.access import audited
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.schemas import ApplicationCreate, GrantRenew, GrantRevoke, SubscriptionCreate

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
QUEUES = ["all", "applied", "provider", "bureau"]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/sharing")
def applications(page: SignedInPage, session: DbSession, queue: str = "all", offset: Offset = 0) -> Response:
    assert page.principal is not None
    queue = queue if queue in QUEUES else "all"
    rows, total = SharingRepository(session).applications(
        page.principal, role=None if queue == "all" else queue, offset=offset, limit=PAGE_SIZE
    )
    found = {
        "items": [service.application_view(session, page.principal, a) for a in rows],
        "total": total,
        "offset": offset,
    }
    return page.render(
        "sharing_applications.html",
        found=found,
        queue=queue,
        queues=QUEUES,
        page_size=PAGE_SIZE,
        statistics=service.statistics(session) if page.principal.sees_all_departments else None,
    )


@router.get("/sharing/apply")
def apply_form(page: SignedInPage, session: DbSession, resource: str) -> Response:
    return _apply_form(page, session, resource, {})


APPLY_FIELDS = ("purpose", "basis", "mode", "valid_until")


def _apply_form(
    page: SignedInPage,
    session: DbSession,
    resource: str,
    values: dict[str, Any],
    error: ZhongtaiError | None = None,
) -> Response:
    found = service.published_resource(SharingRepository(session), resource)
    return page.render(
        "sharing_apply.html",
        status_code=error.status_code if error else 200,
        resource=found,
        policies=service.effective_policies(session, found),
        modes=service.offered_modes(found),
        values=values,
        error=error,
    )


@router.post("/sharing/apply")
def apply(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values: dict[str, Any] = {name: form_str(form, name) for name in APPLY_FIELDS}
    values["items"] = [str(v) for v in form.getlist("items")]
    values["unmasked_items"] = [str(v) for v in form.getlist("unmasked_items")]
    resource = form_str(form, "resource")
    try:
        data = valid_form(ApplicationCreate, {"resource": resource, **values})
        application = service.apply(session, settings, page.principal, data)
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()  # nothing half-written: the form comes back with what was typed
        return _apply_form(page, session, resource, values, exc)
    number = application.number
    session.commit()
    return RedirectResponse(f"/sharing/applications/{number}", status_code=303)


@router.get("/sharing/applications/{number}")
def application(page: SignedInPage, session: DbSession, number: str) -> Response:
    assert page.principal is not None
    found = service.visible_application(session, page.principal, number)
    view = service.application_view(session, page.principal, found, with_steps=True)
    return page.render("sharing_application.html", a=view)


@router.post("/sharing/applications/{number}")
def act(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, number: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.act(
        session, settings, page.principal, number, form_str(form, "action"), form_str(form, "comment")
    )
    session.commit()
    return RedirectResponse(f"/sharing/applications/{number}", status_code=303)


@router.get("/sharing/grants")
def grants(page: SignedInPage, session: DbSession, offset: Offset = 0) -> Response:
    assert page.principal is not None
    rows, total = SharingRepository(session).grants(page.principal, offset, PAGE_SIZE)
    found = {"items": [service.grant_view(session, g) for g in rows], "total": total, "offset": offset}
    return page.render("sharing_grants.html", found=found, page_size=PAGE_SIZE)


@router.get("/sharing/reports")
def scheduled_reports(page: SignedInPage, session: DbSession) -> Response:
    """定期报送: the reports the reader may see (the platform's staff: all; a department: its own), each with
    its deliveries counted and its last ten periods."""
    assert page.principal is not None
    return page.render("sharing_reports.html", statuses=reports.statuses(session, page.principal))


@router.get("/sharing/grants/{grant_id}")
def grant(page: SignedInPage, session: DbSession, grant_id: RowId) -> Response:
    assert page.principal is not None
    found = service.visible_grant(session, page.principal, grant_id)
    repo = SharingRepository(session)
    subscriptions = [
        {**service.subscription_view(session, s), "deliveries": repo.deliveries(s.id, 20)}
        for s in repo.subscriptions_of(found.id)
    ]
    return page.render(
        "sharing_grant.html",
        g=service.grant_view(session, found),
        subscribed=page.take_secret(),
        subscriptions=subscriptions,
        may_manage=auth.may_manage_grant(page.principal, found),
        may_use=auth.may_use_grant(page.principal, found),
    )


DATA_PAGE = 50


@router.get("/sharing/grants/{grant_id}/data")
def grant_data(page: SignedInPage, session: DbSession, grant_id: RowId, offset: Offset = 0) -> Response:
    """The granted data on a page: the granted items only, masked as the grant says, every page read
    recorded in the access trail (a refusal too)."""
    assert page.principal is not None
    principal = page.principal
    found = audited(
        session,
        principal,
        grant_id,
        "sharing.records.read",
        lambda: service.read_records(session, principal, grant_id, offset, DATA_PAGE),
    )
    return page.render(
        "sharing_grant_data.html",
        g=service.grant_view(session, service.visible_grant(session, principal, grant_id)),
        found=found,
        page_size=DATA_PAGE,
    )


@router.post("/sharing/grants/{grant_id}/revoke")
def revoke(page: SignedInPage, form: Form, session: DbSession, grant_id: RowId) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    reason = valid_form(GrantRevoke, {"reason": form_str(form, "reason")}).reason
    service.revoke(session, page.principal, grant_id, reason)
    session.commit()
    return RedirectResponse(f"/sharing/grants/{grant_id}", status_code=303)


@router.post("/sharing/grants/{grant_id}/renew")
def renew(page: SignedInPage, form: Form, session: DbSession, grant_id: RowId) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    until = valid_form(GrantRenew, {"valid_until": form_str(form, "valid_until")}).valid_until
    service.renew(session, page.principal, grant_id, until)
    session.commit()
    return RedirectResponse(f"/sharing/grants/{grant_id}", status_code=303)


@router.post("/sharing/grants/{grant_id}/subscriptions")
def subscribe(
    page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, grant_id: RowId
) -> Response:
    """Subscribe; the signing secret goes to the grant's page, shown there once (never in a URL)."""
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(
        SubscriptionCreate, {"url": form_str(form, "url"), "schedule": form_str(form, "schedule") or None}
    )
    subscription, secret = service.subscribe(
        session, settings, page.principal, grant_id, data.url, data.schedule
    )
    view = service.subscription_view(session, subscription)
    session.commit()
    shown = {"id": view["id"], "url": view["url"], "schedule": view["schedule"], "secret": secret}
    return page.redirect_with_secret(f"/sharing/grants/{grant_id}", shown)
