"""Risk areas: health staff declare high- and medium-risk areas (a district, or a street in it) for a
period; a person who declares a stay in one during its period (行程申报), or whose gate record or place scan
falls in it then, gets a yellow reason naming the area and the record; lifting an area withdraws those
reasons and recomputes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from zhongtai.core import audit, heap
from zhongtai.core.bulk import key_list, moment_param, select_rows
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.governance.elements import division_name
from zhongtai.healthcode import colouring, columns
from zhongtai.healthcode.models import (
    EvidenceRow,
    Place,
    PlaceStatus,
    RiskArea,
    TravelDeclaration,
)
from zhongtai.healthcode.rules import Evidence, Fact
from zhongtai.healthcode.trail import person_access

LEVELS = ("high", "medium")
LOOKBACK_DAYS = 14  # a declaration covers the last two weeks, as the city's form asks


def may_declare(actor: Principal, settings: Settings) -> bool:
    """The health commission's officers and reviewers (and the platform's operators)."""
    return actor.is_operator or (
        actor.department_code == settings.healthcode_department and actor.has(Role.OFFICER, Role.REVIEWER)
    )


def _check(actor: Principal, settings: Settings) -> None:
    if not may_declare(actor, settings):
        raise Forbidden(M_("only the health commission declares risk areas"), code="forbidden")


def _record(area_id: int, travel_id: int) -> str:
    return f"area-{area_id}/travel-{travel_id}"


def active(session: Session, today: date) -> list[RiskArea]:
    query = (
        select(RiskArea)
        .where(RiskArea.lifted_at.is_(None), RiskArea.starts_on <= today)
        .where(or_(RiskArea.ends_on.is_(None), RiskArea.ends_on >= today - timedelta(days=LOOKBACK_DAYS)))
        .order_by(RiskArea.level, RiskArea.district)
    )
    return list(session.scalars(query))


def all_areas(session: Session) -> list[RiskArea]:
    return list(session.scalars(select(RiskArea).order_by(RiskArea.id.desc()).limit(200)))


def declare(
    session: Session,
    settings: Settings,
    actor: Principal,
    spec: tuple[str, str, str, date, date | None],
    now: datetime,
) -> RiskArea:
    level, district, street, starts, ends = spec
    _check(actor, settings)
    if level not in LEVELS:
        raise Invalid(M_("the level is high or medium"), field="level")
    if not (len(district) == 6 and district.isdigit() and division_name(district)):
        raise Invalid(M_("%(code)s is not a division code", code=district[:12]), field="district")
    if ends is not None and ends < starts:
        raise Invalid(M_("the period ends before it starts"), field="ends_on")
    area = RiskArea(
        level=level,
        district=district,
        street=street.strip()[:60],
        starts_on=starts,
        ends_on=ends,
        declared_by=actor.username,
        declared_at=now,
    )
    session.add(area)
    session.flush()
    found = sweep(session, settings, now, [area])
    audit.record(
        session,
        actor,
        "healthcode.area.declared",
        "risk_area",
        str(area.id),
        {"level": level, "entries": found},
    )
    return area


def covers(area: RiskArea, address: str, street: str) -> bool:
    """A place is in an area when its address names the area's district and (for a street) its street
    is the area's. Places' addresses are typed by their owners; the district's name is what they write."""
    district = division_name(area.district) or ""
    return bool(district) and district in address and (not area.street or street == area.street)


def _period(area: RiskArea, settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(area.starts_on, time(), settings.zone)
    end = datetime.combine(area.ends_on + timedelta(days=1), time(), settings.zone) if area.ends_on else now
    return max(start, now - timedelta(days=LOOKBACK_DAYS)), min(end, now)


def sweep(session: Session, settings: Settings, now: datetime, areas: list[RiskArea] | None = None) -> int:
    """Gate records and place scans inside a declared area during its period (the last 14 days at most)
    become yellow reasons naming the area and the entry — once each; run at declaration and by the
    ``healthcode.areas.sweep`` job for entries made since. Returns the entries newly counted."""
    chosen = areas if areas is not None else active(session, now.astimezone(settings.zone).date())
    place_columns = select(Place.id, Place.name, Place.address, Place.street)
    places = list(session.execute(place_columns.where(Place.status == PlaceStatus.APPROVED)))
    rows: list[tuple[object, ...]] = []
    for area in chosen:
        inside = [p.id for p in places if covers(area, p.address, p.street)]
        if inside:
            start, end = _period(area, settings, now)
            rows += _record_stays(session, settings, area, inside, start, end)
    if rows:
        # The new stays come back from the insert, as columns; a person's other evidence is read only if
        # they have any.
        stays = columns.stays_frame(rows, Fact.RISK_AREA_STAY, settings.healthcode_department)
        with heap.paused():
            colouring.recompute_stays(session, now, stays)
    return len(rows)


# An entry's record number is the area's prefix and the entry's id; NOT EXISTS makes a second sweep a no-op.
RECORD_SQL = "CAST(? AS VARCHAR(40)) || CAST(entry.id AS VARCHAR(20))"
STAYS_SQL = (
    "INSERT INTO healthcode_evidence (subject, fact, at, department, record, value) "  # noqa: S608
    f"SELECT entry.subject, ?, entry.at, ?, {RECORD_SQL}, place.name "
    "FROM TABLE AS entry JOIN healthcode_places AS place ON place.id = entry.place_id "
    "WHERE entry.place_id IN_KEYS AND entry.at >= ? AND entry.at <= ? AND entry.subject IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM healthcode_evidence AS held "
    f"WHERE held.subject = entry.subject AND held.record = {RECORD_SQL}) "
    "RETURNING subject, at, record, value"
)


def _record_stays(
    session: Session, settings: Settings, area: RiskArea, place_ids: list[int], start: datetime, end: datetime
) -> list[tuple[object, ...]]:
    """The place scans and gate records at these places in the period become evidence (a risk-area stay
    naming the area, the entry and the place), once each, inside the database: a sweep may meet hundreds of
    thousands of entries, and none of them needs to travel to Python and back. Returns each new one as
    (subject, at, record, value), as the driver gives them."""
    connection = session.connection()
    stays: list[tuple[object, ...]] = []
    for kind, table in (("visit", "healthcode_visits"), ("gate", "healthcode_passages")):
        sql = STAYS_SQL.replace("TABLE", table)
        prefix = f"area-{area.id}/{kind}-"
        params = (
            Fact.RISK_AREA_STAY.value,
            settings.healthcode_department,
            prefix,
            key_list(connection, place_ids),
            moment_param(connection, start),
            moment_param(connection, end),
            prefix,
        )
        stays += select_rows(connection, sql, params)
    return stays


def lift(session: Session, settings: Settings, actor: Principal, area_id: int, now: datetime) -> int:
    """Lift an area: its reasons are withdrawn and the people they concerned recomputed; returns how many."""
    _check(actor, settings)
    area = session.get(RiskArea, area_id)
    if area is None:
        raise NotFound(M_("no such risk area"), code="area_not_found")
    if area.lifted_at is not None:
        raise Conflict(M_("the area was already lifted"), code="area_lifted")
    area.lifted_at, area.lifted_by = now, actor.username
    mine = EvidenceRow.record.like(f"area-{area.id}/%")  # travels, gate records and place scans alike
    subjects = sorted(
        set(
            session.scalars(
                select(EvidenceRow.subject).where(EvidenceRow.fact == Fact.RISK_AREA_STAY.value, mine)
            )
        )
    )
    session.execute(
        delete(EvidenceRow).where(
            EvidenceRow.fact == Fact.RISK_AREA_STAY.value, EvidenceRow.record.like(f"area-{area.id}/%")
        )
    )
    colouring.recompute(session, now, subjects)
    audit.record(
        session, actor, "healthcode.area.lifted", "risk_area", str(area.id), {"persons": len(subjects)}
    )
    return len(subjects)


def declare_travel(
    session: Session, settings: Settings, subject: str, area_id: int, on: date, actor: str, now: datetime
) -> TravelDeclaration:
    """A stay in a declared area on a day within the last two weeks: a yellow reason when the day is in
    the area's period."""
    today = now.astimezone(settings.zone).date()
    area = session.get(RiskArea, area_id)
    if area is None or area.lifted_at is not None:
        raise NotFound(M_("no such risk area"), code="area_not_found")
    if not today - timedelta(days=LOOKBACK_DAYS) <= on <= today:
        raise Invalid(M_("give a day within the last 14 days"), field="on")
    travel = TravelDeclaration(subject=subject, area_id=area.id, on=on, declared_at=now)
    session.add(travel)
    session.flush()
    if area.starts_on <= on and (area.ends_on is None or on <= area.ends_on):
        at = min(datetime.combine(on, time(12), settings.zone), now)
        evidence = Evidence(
            Fact.RISK_AREA_STAY, at, settings.healthcode_department, _record(area.id, travel.id)
        )
        colouring.record_evidence(session, [(subject, evidence)])
        colouring.recompute(session, now, [subject])
    person_access(
        session,
        actor=actor,
        event="healthcode.travel.declared",
        subject=subject,
        target=("risk_area", str(area.id)),
        items=["risk_area", "day"],
    )
    return travel


def place_name(area: RiskArea) -> str:
    return f"{division_name(area.district) or area.district}{area.street}"
