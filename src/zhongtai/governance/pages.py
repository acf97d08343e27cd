"""Governance pages: quality overview with charts, a resource's rules / passes / quality / problems, the
clean zone, pass rejects, problem list, conflicts, data elements and base records with provenance."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from zhongtai.core.errors import M_, Invalid
from zhongtai.core.http import DbSession, RowId, job_context
from zhongtai.core.types import CITY_ZONE, IsoDateTime
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_json, form_str, validation_message
from zhongtai.governance import auth, service
from zhongtai.governance.elements import ETHNICITY_NAMES, GENDER_NAMES, KINDS, division_name
from zhongtai.governance.fusion import ATTRIBUTES
from zhongtai.governance.models import BaseKind, ProblemStatus
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.schemas import ElementWrite, ProblemStep, RuleSetWrite
from zhongtai.governance.tasks import enqueue_apply, enqueue_measure

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CODE_NAMES = {"gender": GENDER_NAMES, "ethnicity": ETHNICITY_NAMES}  # codes shown with their names
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def chart(values: list[float], width: int = 320, height: int = 60) -> str:
    """SVG polyline points for a series of scores (rendered without JavaScript). The scale runs from a
    little under the lowest score to 100, so a move from 99.1 to 99.8 is visible; one measurement draws a
    short flat line."""
    if not values:
        return ""
    series = values if len(values) > 1 else values * 2
    low = max(0.0, min(series) - 5)
    span = max(100.0 - low, 1.0)
    step = width / (len(series) - 1)
    return " ".join(
        f"{i * step:.1f},{height - (max(low, min(100.0, v)) - low) / span * height:.1f}"
        for i, v in enumerate(series)
    )


def chart_data(points: list[tuple[datetime, float]]) -> str:
    """The series for an ECharts trend (``static/charts.js``): times on the city's clock, scores, and the
    floor of the value axis (as the plain line's scale)."""
    scores = [score for _, score in points]
    low = max(0.0, min(scores) - 5) if scores else 0.0
    labels = [at.astimezone(CITY_ZONE).strftime("%m-%d %H:%M") for at, _ in points]
    return json.dumps({"x": labels, "y": scores, "min": int(low)}, ensure_ascii=False)


@router.get("/governance")
def overview(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    quality = service.quality_overview(session, page.principal)
    repo = GovernanceRepository(session)
    charts, data = {}, {}
    for department in quality.departments:
        found = repo.department(department.department)
        if found is not None:
            points = repo.department_series(found.id)[-60:]
            charts[department.department] = chart([score for _, score in points])
            data[department.department] = chart_data(points)
    conflicts = service.conflicts_page(session, page.principal, True, None, 0, 1).total
    problems = service.problems_page(session, page.principal, ["open", "assigned", "fixed"], 0, 1).total
    return page.render(
        "gov_overview.html",
        quality=quality,
        charts=charts,
        chart_series=data,
        bases=repo.count_records() if auth.may_read_base(page.principal) else None,
        open_conflicts=conflicts,
        open_problems=problems,
    )


@router.get("/governance/elements")
def elements(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    repo = GovernanceRepository(session)
    versions: dict[str, int] = {}
    for element in repo.elements():
        versions[element.code] = versions.get(element.code, 0) + 1
    return page.render(
        "gov_elements.html",
        elements=service.list_elements(session),
        versions=versions,
        can_define=auth.may_define(page.principal),
        kinds=sorted(KINDS),
    )


@router.post("/governance/elements")
def save_element(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        data = ElementWrite(
            code=form_str(form, "code").upper(),
            name=form_str(form, "name"),
            name_en=form_str(form, "name_en"),
            kind=form_str(form, "kind"),
            standard=form_str(form, "standard"),
            description=form_str(form, "description"),
        )
    except ValidationError as exc:
        raise validation_message(exc) from exc
    service.save_element(session, page.principal, data)
    return RedirectResponse("/governance/elements", status_code=303)


@router.get("/catalog/{code}/governance")
def resource_governance(page: SignedInPage, session: DbSession, code: str) -> Response:
    assert page.principal is not None
    resource = service.governed_resource(session, page.principal, code)
    rules = service.current_rules(session, page.principal, code)
    series = service.resource_quality(session, page.principal, code, 60)
    repo = GovernanceRepository(session)
    problems = [
        service.problem_read(session, p, page.principal, repo=repo)
        for p in reversed(repo.problems_of(resource.id))
    ]
    return page.render(
        "gov_resource.html",
        resource=resource,
        rules=rules,
        rules_text=json.dumps(rules.rules, ensure_ascii=False, indent=2),
        versions=service.rule_history(session, page.principal, code),
        passes=service.passes(session, page.principal, code, 20),
        series=series,
        latest=series[-1] if series else None,
        score_chart=chart([q.score for q in series]),
        score_series=chart_data([(q.measured_at, q.score) for q in series]),
        problems=problems,
        can_govern=auth.may_govern(page.principal, resource.provider_department_id),
    )


@router.post("/catalog/{code}/governance/rules")
def save_rules(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    rules = service.parse_rules(form_json(form, "rules", "[]"))
    data = RuleSetWrite(
        rules=rules, auto_apply=form_str(form, "auto_apply") == "on", comment=form_str(form, "comment")
    )
    service.save_rules(session, page.principal, code, data)
    return RedirectResponse(f"/catalog/{code}/governance", status_code=303)


@router.post("/catalog/{code}/governance/apply")
def apply_now(page: SignedInPage, form: Form, session: DbSession, request: Request, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    resource = service.governed_resource(session, page.principal, code, write=True)
    session.commit()  # jobs are sent only after the request's own changes are committed
    enqueue_apply(job_context(request), resource.code, None, "manual", page.principal.username)
    return RedirectResponse(f"/catalog/{code}/governance", status_code=303)


@router.post("/catalog/{code}/governance/measure")
def measure_now(page: SignedInPage, form: Form, session: DbSession, request: Request, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    resource = service.governed_resource(session, page.principal, code, write=True)
    session.commit()
    enqueue_measure(job_context(request), resource.code)
    return RedirectResponse(f"/catalog/{code}/governance", status_code=303)


@router.get("/catalog/{code}/clean")
def clean_data(page: SignedInPage, session: DbSession, code: str, offset: Offset = 0) -> Response:
    assert page.principal is not None
    clean = service.clean_page(session, page.principal, code, offset, PAGE_SIZE)
    columns: list[str] = []
    for record in clean.items:
        columns.extend(name for name in record.data if name not in columns)
    return page.render("gov_clean.html", code=code, clean=clean, columns=columns, page_size=PAGE_SIZE)


@router.get("/governance/passes/{pass_id}")
def pass_detail(page: SignedInPage, session: DbSession, pass_id: RowId, offset: Offset = 0) -> Response:
    assert page.principal is not None
    governed, resource = service.visible_pass(session, page.principal, pass_id)
    return page.render(
        "gov_pass.html",
        p=service.pass_read(governed, resource.code),
        resource=resource,
        rejects=service.pass_rejects(session, page.principal, pass_id, offset, PAGE_SIZE),
        page_size=PAGE_SIZE,
    )


@router.get("/governance/problems")
def problems(page: SignedInPage, session: DbSession, status: str = "active", offset: Offset = 0) -> Response:
    assert page.principal is not None
    statuses = {"active": ["open", "assigned", "fixed"], "all": None}.get(status, [status])
    if statuses and any(s not in {p.value for p in ProblemStatus} for s in statuses):
        raise Invalid(M_("no problem status %(status)r", status=status), field="status")
    found = service.problems_page(session, page.principal, statuses, offset, PAGE_SIZE)
    return page.render("gov_problems.html", problems=found, status=status, page_size=PAGE_SIZE)


@router.post("/governance/problems/{problem_id}")
def step_problem(
    page: SignedInPage, form: Form, session: DbSession, request: Request, problem_id: RowId
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        step = ProblemStep.model_validate(
            {
                "action": form_str(form, "action"),
                "assignee": form_str(form, "assignee") or None,
                "comment": form_str(form, "comment"),
            }
        )
    except ValidationError as exc:
        raise validation_message(exc) from exc
    _, resource_code = service.step_problem(session, page.principal, problem_id, step)
    session.commit()
    if step.action == "fix":
        enqueue_measure(job_context(request), resource_code)  # the platform's re-check
    return RedirectResponse("/governance/problems", status_code=303)


@router.get("/governance/conflicts")
def conflicts(page: SignedInPage, session: DbSession, closed: bool = False, offset: Offset = 0) -> Response:
    assert page.principal is not None
    found = service.conflicts_page(session, page.principal, not closed, None, offset, PAGE_SIZE)
    return page.render(
        "gov_conflicts.html",
        conflicts=found,
        closed=closed,
        page_size=PAGE_SIZE,
        may_read_base=auth.may_read_base(page.principal),  # departments see their conflicts, not the records
    )


@router.get("/base")
def base_search(page: SignedInPage, session: DbSession, base: str = "", key: str = "") -> Response:
    assert page.principal is not None
    if base and key:
        try:
            kind = BaseKind(base)
        except ValueError:
            raise Invalid(M_("no base database %(base)r", base=base), field="base") from None
        return RedirectResponse(f"/base/{kind.value}/{quote(key.strip()[:200], safe='')}", status_code=303)
    return page.render(
        "gov_base_search.html",
        bases=list(BaseKind),
        sources=service.base_source_reads(session),
        counts=GovernanceRepository(session).count_records() if auth.may_read_base(page.principal) else {},
        may_read_base=auth.may_read_base(page.principal),
    )


@router.get("/base/{base}/{key}")
def base_record(
    page: SignedInPage, session: DbSession, base: BaseKind, key: str, as_of: IsoDateTime | None = None
) -> Response:
    assert page.principal is not None
    detail = service.base_detail(session, page.principal, base, key[:200], as_of)
    labels = {a: division_name(str(v)) for a, v in detail.data.items() if a == "division_code"}
    labels |= {a: CODE_NAMES[a].get(str(v)) for a, v in detail.data.items() if a in CODE_NAMES}
    return page.render(
        "gov_base_record.html", r=detail, attributes=ATTRIBUTES[base], as_of=as_of, labels=labels
    )
