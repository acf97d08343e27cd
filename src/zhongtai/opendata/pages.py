"""The open-data portal (``/open``), for anyone, no sign-in: datasets searched in Chinese with facets
(department, theme, tag, format), each with its metadata, a preview of its released rows, its downloads by
version and its DCAT-AP metadata — the same datasets and figures CKAN clients get from the Action API."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource, ResourceStatus
from zhongtai.core.errors import M_, Invalid, NotFound, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.i18n import N_
from zhongtai.core.principal import Principal
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, Page, SignedInPage, check_csrf, form_str, refusal_to_show
from zhongtai.governance.auth import may_govern
from zhongtai.opendata import applications, ckan, rules, service
from zhongtai.opendata.models import OpenDataset, OpenRelease

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
PREVIEW = 20
FACET_FIELDS = ["organization", "groups", "tags", "res_format"]
LABELS = (
    N_("open.facet.organization"),
    N_("open.facet.groups"),
    N_("open.facet.tags"),
    N_("open.facet.res_format"),
    N_("open.access.open"),
    N_("open.access.conditional"),
)


@router.get("/open")
def portal(
    page: Page,
    session: DbSession,
    q: str = Query("", max_length=200),
    fq: str = Query("", max_length=500),
    start: int = Query(0, ge=0, le=100_000),
) -> Response:
    base = str(page.request.base_url).rstrip("/")
    params: dict[str, Any] = {
        "q": q,
        "fq": fq,
        "rows": PER_PAGE,
        "start": start,
        "facet.field": json.dumps(FACET_FIELDS),
        "sort": "metadata_modified desc",
    }
    try:
        found = ckan.package_search(session, params, base)
        problem = ""
    except ckan.ActionError as exc:  # a malformed filter: say so, show everything
        found = ckan.package_search(session, {**params, "fq": ""}, base)
        problem = exc.message
    return page.render(
        "open_portal.html",
        q=q,
        fq=fq,
        start=start,
        per_page=PER_PAGE,
        found=found,
        problem=problem,
        themes=ckan.THEMES,
    )


@router.get("/open/datasets/{name}")
def dataset_page(page: Page, session: DbSession, name: str) -> Response:
    found = service.entry(session, name)
    base = str(page.request.base_url).rstrip("/")
    releases = list(
        session.scalars(
            select(OpenRelease)
            .where(OpenRelease.dataset_id == found.dataset.id)
            .order_by(OpenRelease.version.desc())
        )
    )
    preview: list[dict[str, Any]] = []
    if found.dataset.access == "open" and found.release is not None:
        for row in service.rows(session, found.release):
            preview.append(row)
            if len(preview) >= PREVIEW:
                break
    return page.render(
        "open_dataset.html",
        found=found,
        package=ckan.package_dict(found, base),
        releases=releases,
        columns=found.release.columns if found.release else [],
        preview=preview,
        themes=ckan.THEMES,
        base=base,
        count_column=rules.COUNT_COLUMN,
    )


# --- the staff's side: opening resources, deciding applications ------------------------------------------

RULE_CHOICES = (*rules.ACTIONS, *rules.COUNTS)
APPLICATION_LABELS = (
    N_("open.app.status.submitted"),
    N_("open.app.status.approved"),
    N_("open.app.status.refused"),
    N_("open.app.status.revoked"),
    N_("open.app.status.withdrawn"),
    N_("open.app.kind.person"),
    N_("open.app.kind.enterprise"),
    N_("open.rule.keep"),
    N_("open.rule.drop"),
    N_("open.rule.month"),
    N_("open.rule.year"),
    N_("open.rule.district"),
    N_("open.rule.count"),
    N_("open.rule.count:month"),
    N_("open.rule.count:year"),
    N_("open.rule.count:district"),
)


def _openable(session: Session, actor: Principal) -> list[tuple[Resource, OpenDataset | None]]:
    """Published resources whose open type is open or conditional that the actor may open (their
    department's; the bureau's operators: all), with their dataset if opened."""
    query = (
        select(Resource, OpenDataset)
        .outerjoin(OpenDataset, OpenDataset.resource_id == Resource.id)
        .where(Resource.status == ResourceStatus.PUBLISHED, Resource.open_type.in_(service.OPEN_TYPES))
        .order_by(Resource.code)
    )
    if not actor.is_operator:
        query = query.where(Resource.provider_department_id == (actor.department_id or -1))
    return [
        (r, d)
        for r, d in session.execute(query)
        if actor.is_operator or may_govern(actor, r.provider_department_id)
    ]


@router.get("/open/manage")
def manage(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    return page.render("open_manage.html", resources=_openable(session, page.principal))


@router.get("/open/manage/{code}")
def manage_one(page: SignedInPage, session: DbSession, code: str) -> Response:
    return _manage_page(page, session, code)


def _manage_page(
    page: SignedInPage, session: DbSession, code: str, status_code: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    found = [(r, d) for r, d in _openable(session, page.principal) if r.code == code]
    if not found:
        raise NotFound(M_("no resource %(code)r you may open", code=code[:64]), code="resource_not_found")
    resource, dataset = found[0]
    current = dict(dataset.rules) if dataset else {}
    extra.setdefault("error", None)
    extra.setdefault("wanted", current)
    extra.setdefault("license_id", dataset.license_id if dataset else "cc-by-4.0")
    extra.setdefault("tags", " ".join(dataset.tags) if dataset else "")
    return page.render(
        "open_manage_one.html",
        status_code=status_code,
        resource=resource,
        dataset=dataset,
        choices=RULE_CHOICES,
        licences=service.LICENCES,
        **extra,
    )


@router.post("/open/manage/{code}")
def publish_form(
    page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, code: str
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    wanted = {k.removeprefix("rule:"): form_str(form, k) for k in form if k.startswith("rule:")}
    license_id, tags = form_str(form, "license_id"), form_str(form, "tags").replace(",", " ").split()
    try:
        done = service.publish(session, settings, page.principal, code, wanted, license_id, tags[:30])
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _manage_page(
            page,
            session,
            code,
            exc.status_code,
            error=exc,
            wanted=wanted,
            license_id=license_id,
            tags=" ".join(tags),
        )
    session.commit()
    return RedirectResponse(f"/open/manage/{code}?released={int(done.changed)}", status_code=303)


@router.get("/open/applications")
def application_queue(
    page: SignedInPage, session: DbSession, status: str = Query("", max_length=16)
) -> Response:
    assert page.principal is not None
    found = applications.queue(session, page.principal, status or None)
    return page.render("open_applications.html", found=found, now=utcnow(), status=status)


@router.get("/open/applications/{number}")
def application_page(page: SignedInPage, session: DbSession, number: str) -> Response:
    return _application_page(page, session, number)


def _application_page(
    page: SignedInPage, session: DbSession, number: str, status_code: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    listed = applications.visible(session, page.principal, number)
    extra.setdefault("error", None)
    return page.render(
        "open_application.html",
        status_code=status_code,
        listed=listed,
        now=utcnow(),
        may_decide=applications.may_decide(page.principal, listed.provider_department_id),
        may_revoke=applications.may_revoke(page.principal, listed.provider_department_id),
        defaults={"quota": applications.DEFAULT_QUOTA, "term": applications.DEFAULT_TERM_DAYS},
        **extra,
    )


@router.post("/open/applications/{number}")
def act(page: SignedInPage, form: Form, session: DbSession, number: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    action, reason, now = form_str(form, "action"), form_str(form, "reason"), utcnow()
    try:
        if action == "revoke":
            applications.revoke(session, page.principal, number, reason, now)
        elif action in ("approve", "refuse"):
            quota = form_str(form, "daily_quota") or str(applications.DEFAULT_QUOTA)
            term = form_str(form, "term_days") or str(applications.DEFAULT_TERM_DAYS)
            if not (quota.isdigit() and term.isdigit()):
                raise Invalid(M_("quota and term are whole numbers"), field="daily_quota")
            applications.decide(
                session, page.principal, number, action == "approve", reason, now, int(quota), int(term)
            )
        else:
            raise Invalid(M_("approve, refuse or revoke"), field="action")
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _application_page(page, session, number, exc.status_code, error=exc)
    session.commit()
    return RedirectResponse(f"/open/applications/{number}", status_code=303)
