"""Requirement rules: filing, triage, delivery against links that must exist, statistics."""

from __future__ import annotations

import statistics as stats
from datetime import datetime, time
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from zhongtai.capabilities.models import Capability
from zhongtai.catalog.models import Resource
from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.principal import Principal
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.work import WorkItem
from zhongtai.orgs.models import Department
from zhongtai.orgs.repository import OrgRepository
from zhongtai.requirements import auth
from zhongtai.requirements.lifecycle import OPEN, STEPS
from zhongtai.requirements.models import Requirement, RequirementStatus
from zhongtai.requirements.schemas import Links, RequirementAction, RequirementCreate, RequirementRead
from zhongtai.sharing.models import Application


def file(session: Session, actor: Principal, data: RequirementCreate) -> Requirement:
    if not auth.may_file(actor):
        raise Forbidden(M_("a department's officers, consumers and developers file its requirements"))
    assert actor.department_id is not None
    now = utcnow()
    if data.due_date < now.astimezone(CITY_ZONE).date():
        raise Invalid(M_("the due date has passed"), field="due_date")
    requirement = Requirement(
        number=_next_number(session, now.astimezone(CITY_ZONE).year),
        department_id=actor.department_id,
        kind=data.kind,
        title=data.title,
        description=data.description,
        due_date=data.due_date,
        filed_by=actor.username,
        filed_at=now,
        links={},
        steps=[_step(actor, "file", "")],
    )
    session.add(requirement)
    session.flush()
    audit.record(
        session, actor, "requirement.filed", "requirement", requirement.number, {"kind": data.kind.value}
    )
    return requirement


def _next_number(session: Session, year: int) -> str:
    prefix = f"XQ{year}"
    last = session.scalar(select(func.max(Requirement.number)).where(Requirement.number.like(f"{prefix}%")))
    return f"{prefix}{(int(last[len(prefix) :]) + 1 if last else 1):05d}"


def _step(actor: Principal, action: str, reason: str) -> dict[str, Any]:
    return {
        "action": action,
        "by": actor.username,
        "department": actor.department_code,
        "at": utcnow().isoformat(timespec="seconds"),
        "reason": reason,
    }


def visible(session: Session, actor: Principal, number: str) -> Requirement:
    requirement = session.scalars(select(Requirement).where(Requirement.number == number)).first()
    if requirement is None or not auth.may_see(actor, requirement):
        raise NotFound(M_("no requirement %(number)s", number=number), code="requirement_not_found")
    return requirement


def listing(session: Session, actor: Principal, status: RequirementStatus | None = None) -> list[Requirement]:
    query = select(Requirement)
    if not actor.sees_all_departments:
        query = query.where(
            or_(
                Requirement.department_id == actor.department_id,
                Requirement.assignee_department_id == actor.department_id,
            )
        )
    if status is not None:
        query = query.where(Requirement.status == status)
    return list(session.scalars(query.order_by(Requirement.filed_at.desc())))


def act(session: Session, actor: Principal, number: str, data: RequirementAction) -> Requirement:
    requirement = visible(session, actor, number)
    step = STEPS[data.action]
    if not auth.acts_as(actor, requirement, step.party):
        raise Forbidden(
            M_("%(action)s is for the %(party)s", action=data.action, party=step.party.value),
            code="not_your_step",
        )
    if requirement.status not in step.sources:
        raise Conflict(
            M_(
                "a %(status)s requirement cannot be %(action)sed",
                status=requirement.status.value,
                action=data.action,
            ),
            code="invalid_transition",
        )
    if step.needs_reason and not data.reason.strip():
        raise Invalid(M_("say why (%(action)s)", action=data.action), field="reason")
    if data.action == "assign":
        requirement.assignee_department_id = _department(session, data.assignee).id
    if data.links is not None:
        if data.action not in ("assign", "start", "deliver"):
            raise Invalid(M_("links are set when assigning, starting or delivering"), field="links")
        requirement.links = checked_links(session, data.links)
    if data.action == "deliver":
        if not any(requirement.links.get(kind) for kind in ("resources", "applications", "capabilities")):
            raise Invalid(
                M_("link what fulfils it (catalog entry, application or capability) to deliver"),
                field="links",
            )
        requirement.delivered_at = utcnow()
    before = requirement.status
    requirement.status = step.target
    requirement.steps = [*requirement.steps, _step(actor, data.action, data.reason.strip())]
    session.flush()
    audit.record(
        session,
        actor,
        f"requirement.{data.action}",
        "requirement",
        number,
        {"status": [before.value, step.target.value]},
    )
    return requirement


def _department(session: Session, code: str | None) -> Department:
    found = OrgRepository(session).department_by_code(code) if code else None
    if found is None:
        raise Invalid(M_("assign names the delivering department"), field="assignee")
    return found


def checked_links(session: Session, links: Links) -> dict[str, list[str]]:
    """Links to things that exist: a requirement cannot be delivered by a typo."""
    for codes, column, label in (
        (links.resources, Resource.code, "catalog entry"),
        (links.applications, Application.number, "sharing application"),
        (links.capabilities, Capability.code, "capability"),
    ):
        found = set(session.scalars(select(column).where(column.in_(codes)))) if codes else set()
        missing = [code for code in codes if code not in found]
        if missing:
            raise Invalid(M_("no %(label)s %(missing)s", label=label, missing=missing[0]), field="links")
    return links.model_dump()


def view(session: Session, requirement: Requirement) -> RequirementRead:
    codes = _department_codes(session)
    today = utcnow().astimezone(CITY_ZONE).date()
    return RequirementRead(
        number=requirement.number,
        department=codes.get(requirement.department_id, "-"),
        kind=requirement.kind,
        title=requirement.title,
        description=requirement.description,
        due_date=requirement.due_date,
        status=requirement.status,
        open=requirement.status in OPEN,
        overdue=requirement.status in OPEN and requirement.due_date < today,
        assignee=codes.get(requirement.assignee_department_id)
        if requirement.assignee_department_id
        else None,
        links=requirement.links or {},
        steps=requirement.steps,
        filed_by=requirement.filed_by,
        filed_at=requirement.filed_at,
        delivered_at=requirement.delivered_at,
        days_to_delivery=_days(requirement.filed_at, requirement.delivered_at),
    )


def _department_codes(session: Session) -> dict[int, str]:
    return {row[0]: row[1] for row in session.execute(select(Department.id, Department.code))}


def _days(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 86400, 2)


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Requirements waiting for the actor: triage (the bureau), delivery (the assignee), confirmation
    (the filer)."""
    work = []
    for requirement in listing(session, actor):
        steps = [
            a
            for a, step in STEPS.items()
            if requirement.status in step.sources and auth.acts_as(actor, requirement, step.party)
        ]
        if steps:
            work.append(
                WorkItem(
                    N_("home.work.requirement"),
                    requirement.title,
                    f"/requirements/{requirement.number}",
                    f"req.action.{steps[0]}",
                    due=datetime.combine(requirement.due_date, time(18), tzinfo=CITY_ZONE),
                    reference=requirement.number,
                )
            )
    return work


def figures(session: Session) -> dict[str, int]:
    rows = session.execute(select(Requirement.status, func.count()).group_by(Requirement.status)).all()
    counts = {status: count for status, count in rows}
    done = counts.get(RequirementStatus.DELIVERED, 0) + counts.get(RequirementStatus.CLOSED, 0)
    return {"requirements.all": sum(counts.values()), "requirements.delivered": done}


def statistics(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Per filing department: filed, open, overdue, delivered, rejected, median days to delivery."""
    today = utcnow().astimezone(CITY_ZONE).date()
    codes = _department_codes(session)
    rows: dict[str, dict[str, Any]] = {}
    for requirement in listing(session, actor):
        code = codes.get(requirement.department_id, "-")
        row = rows.setdefault(
            code,
            {
                "department": code,
                "filed": 0,
                "open": 0,
                "overdue": 0,
                "delivered": 0,
                "rejected": 0,
                "days": [],
            },
        )
        row["filed"] += 1
        row["open"] += requirement.status in OPEN
        row["overdue"] += requirement.status in OPEN and requirement.due_date < today
        row["delivered"] += requirement.delivered_at is not None
        row["rejected"] += requirement.status is RequirementStatus.REJECTED
        days = _days(requirement.filed_at, requirement.delivered_at)
        if days is not None:
            row["days"].append(days)
    result = []
    for row in sorted(rows.values(), key=lambda r: r["department"]):
        days = row.pop("days")
        row["median_days_to_delivery"] = round(stats.median(days), 2) if days else None
        result.append(row)
    return result
