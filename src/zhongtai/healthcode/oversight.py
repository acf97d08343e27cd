"""一企一码、一人一码的精细化管理: district and street staff see their area — enterprises by the state of
their resumption, employees back at work by their code's colour — always as aggregates by street (a district's
staff) or by district (the city's), every table through small-cell suppression (``core.suppression``: no
count of 1–9 shown nor derivable from totals). Drill-down to the people of one enterprise only under a live
grant of the staff member's department on the health code's resource (安康码赋码信息), the names and ID
numbers masked as the catalog masks them, each person shown recorded with them as its subject.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core.errors import M_, Forbidden, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.suppression import Table, suppress
from zhongtai.healthcode import persons
from zhongtai.healthcode.divisions import OTHER, districts
from zhongtai.healthcode.models import PersonColour, Resumption, ResumptionEmployee, ResumptionStatus
from zhongtai.healthcode.rules import Colour
from zhongtai.healthcode.trail import person_access
from zhongtai.orgs.models import Department, DepartmentKind
from zhongtai.sharing import service as sharing
from zhongtai.sharing.models import Grant

COLOURS = [c.label for c in Colour]
STATES = [s.value for s in ResumptionStatus]
UNNAMED = "—"  # a site whose street was not given
DRILL_ITEMS = ("姓名", "公民身份号码")


@dataclass(frozen=True)
class Area:
    """What a staff member oversees: the whole city (``district`` None) or one district."""

    district: str | None
    name: str


@dataclass(frozen=True)
class Overview:
    area: Area
    enterprises: Table  # rows: streets or districts; columns: the application's state
    employees: Table  # employees of resumed enterprises (back at work) by colour


def area_of(session: Session, settings: Settings, actor: Principal) -> Area:
    """The city for the bureau, the health commission and the regulator; its district for a district
    government's staff (or a department under it); otherwise 403."""
    city_wide = {
        settings.platform_department_code,
        settings.healthcode_department,
        settings.healthcode_regulator,
    }
    if actor.is_operator or actor.department_code in city_wide:
        return Area(None, settings.healthcode_city)
    department = session.scalars(select(Department).where(Department.code == actor.department_code)).first()
    while department is not None and department.parent_id is not None:
        department = session.get(Department, department.parent_id)
    if department is not None and department.kind is DepartmentKind.DISTRICT:
        for code, name in districts(settings.city_division).items():
            if department.name.startswith(name):
                return Area(code, name)
    raise Forbidden(M_("only district and street staff oversee an area"), code="no_area")


def _latest_applications(session: Session, area: Area) -> list[Resumption]:
    """Each enterprise's latest application within the area."""
    newest = select(func.max(Resumption.id)).group_by(Resumption.enterprise)
    query = select(Resumption).where(Resumption.id.in_(newest))
    if area.district is not None:
        query = query.where(Resumption.district == area.district)
    return list(session.scalars(query))


def overview(session: Session, settings: Settings, area: Area) -> Overview:
    applications = _latest_applications(session, area)

    def row_of(application: Resumption) -> str:
        if area.district is None:
            return application.district or OTHER
        return application.street or UNNAMED

    states: Counter[tuple[str, str]] = Counter((row_of(a), a.status.value) for a in applications)
    resumed = {a.id: row_of(a) for a in applications if a.status is ResumptionStatus.APPROVED}
    colours: Counter[tuple[str, str]] = Counter()
    if resumed:
        query = (
            select(ResumptionEmployee.resumption_id, PersonColour.colour, func.count())
            .outerjoin(PersonColour, PersonColour.subject == ResumptionEmployee.subject)
            .where(ResumptionEmployee.resumption_id.in_(list(resumed)))
            .group_by(ResumptionEmployee.resumption_id, PersonColour.colour)
        )
        for resumption_id, colour, n in session.execute(query):
            colours[(resumed[resumption_id], Colour(int(colour or 0)).label)] += int(n)
    rows = _rows(settings, area, {r for r, _ in states})
    return Overview(area, suppress(states, rows, STATES), suppress(colours, rows, COLOURS))


def _rows(settings: Settings, area: Area, found: set[str]) -> list[str]:
    if area.district is None:
        known = list(districts(settings.city_division))
        return known + ([OTHER] if OTHER in found else [])
    return sorted(found)


# Drill-down, under a grant -------------------------------------------------------------------------------
def drill_grant(session: Session, settings: Settings, actor: Principal) -> Grant:
    """The actor's department's live grant on the health code's resource (安康码赋码信息, the health
    commission's) covering names and ID numbers, or 403 saying what to apply for."""
    grant = sharing.live_grant_on(session, actor, persons.RESOURCE, settings.healthcode_department)
    if grant is None or not set(DRILL_ITEMS) <= set(grant.items):
        raise Forbidden(
            M_(
                "seeing people needs your department's live grant on %(resource)s (姓名, 公民身份号码); "
                "apply under 共享",
                resource=persons.RESOURCE,
            ),
            code="no_grant",
        )
    return grant


@dataclass(frozen=True)
class Employee:
    label: str  # masked name and ID number
    colour: Colour


def drill_down(
    session: Session, settings: Settings, actor: Principal, area: Area, number: str, now: datetime
) -> tuple[Resumption, list[Employee]]:
    """One enterprise's employees with their colours, masked; each person's access recorded."""
    grant = drill_grant(session, settings, actor)
    application = session.scalars(select(Resumption).where(Resumption.number == number)).first()
    if application is None:
        raise NotFound(M_("no application %(number)s", number=number), code="not_found")
    if area.district is not None and application.district != area.district:
        raise Forbidden(
            M_("application %(number)s is outside your department's area", number=number), code="outside_area"
        )
    query = (
        select(ResumptionEmployee.subject, ResumptionEmployee.label, PersonColour.colour)
        .outerjoin(PersonColour, PersonColour.subject == ResumptionEmployee.subject)
        .where(ResumptionEmployee.resumption_id == application.id)
        .order_by(ResumptionEmployee.id)
    )
    found = []
    for subject, label, colour in session.execute(query):
        person_access(
            session,
            actor=actor.username,
            department=actor.department_code,
            event="healthcode.area.drill_down",
            subject=subject,
            target=("resumption", application.number),
            items=[*DRILL_ITEMS, "colour"],
            purpose=grant.purpose[:200],
            detail={"grant": grant.id},
        )
        found.append(Employee(label, Colour(int(colour or 0))))
    return application, found


def enterprises_in(session: Session, area: Area) -> list[Resumption]:
    """The enterprises of the area (their latest applications), for choosing one to drill into."""
    return sorted(_latest_applications(session, area), key=lambda a: a.number)
