"""一企一码、一人一码的精细化管理: a district's staff see their district by street, the city's staff the city
by district — enterprises by resumption state, employees back at work by colour — suppressed (no 1–9 shown,
none derivable); staff of a department without an area are refused; seeing people needs a live grant on
the health-code resource, shows them masked, records each, and stays inside the district."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_department, add_resource
from tests.public.helpers import an_id
from zhongtai.catalog.models import Resource
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.errors import Forbidden
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import oversight, persons, resumptions
from zhongtai.healthcode.models import PersonColour
from zhongtai.orgs.models import Department, DepartmentKind
from zhongtai.sharing.models import DeliveryMode, Grant

MEASURES = "每日两次消毒,员工每日测温并登记"
SHUSHAN, YAOHAI = "340104", "340102"


def _staff(code: str) -> Principal:
    return Principal(None, f"{code.lower()}.officer", "x", None, code, frozenset({Role.OFFICER}))


def _city(factory: sessionmaker[Session], settings: Settings) -> dict[str, str]:
    """Three enterprises: two resumed in 蜀山区 (12 and 3 employees, on two streets; two of the twelve
    red), one pending in 瑶海区. Returns their application numbers."""
    numbers = {}
    now = utcnow()
    regulator = Principal(None, "scjgj", "scjgj", None, "SCJGJ", frozenset({Role.OFFICER}))
    specs = [
        ("big", "庐州市蜀山区黄山路 1 号", "稻香村街道", range(100, 112), True),
        ("small", "庐州市蜀山区长江西路 2 号", "三里庵街道", range(200, 203), True),
        ("east", "庐州市瑶海区长江东路 3 号", "明光路街道", range(300, 311), False),
    ]
    with transaction(factory) as session:
        add_department(session, "SSQ", "蜀山区人民政府", DepartmentKind.DISTRICT)
        yaohai = add_department(session, "YHQ", "瑶海区人民政府", DepartmentKind.DISTRICT)
        child = add_department(session, "YHQ-MZ", "瑶海区民政局", DepartmentKind.DISTRICT)
        child.parent_id = yaohai.id
        for index, (name, site, street, people, approve) in enumerate(specs):
            listed = [resumptions.Listed(n, an_id(n), f"员工{n}") for n in people]
            who = (entity_subject(f"9134010000000000{index}X"), name)
            application = resumptions.apply(session, settings, who, site, street, MEASURES, listed, now)
            if approve:
                resumptions.decide(session, settings, regulator, application.number, "approve", "", now)
            numbers[name] = application.number
        for n in (100, 101):
            subject = person_subject(settings, an_id(n))
            session.add(
                PersonColour(
                    subject=subject, colour=2, rule_version=1, reasons=[], since=now, computed_at=now
                )
            )
    return numbers


def test_each_sees_its_area_suppressed(factory: sessionmaker[Session], settings: Settings) -> None:
    numbers = _city(factory, settings)
    with factory() as session:
        assert oversight.area_of(session, settings, _staff("SSQ")).district == SHUSHAN
        assert oversight.area_of(session, settings, _staff("YHQ-MZ")).district == YAOHAI  # under the district
        assert oversight.area_of(session, settings, _staff("WJW")).district is None  # the whole city
        with pytest.raises(Forbidden):
            oversight.area_of(session, settings, _staff("GAJ"))
        district = oversight.overview(session, settings, oversight.Area(SHUSHAN, "蜀山区"))
        assert district.enterprises.rows == ["三里庵街道", "稻香村街道"]  # streets of its own district only
        assert district.enterprises.cells[("稻香村街道", "approved")] is None  # one enterprise: <10
        employees = district.employees
        assert (
            employees.cells[("稻香村街道", "red")] is None
            and employees.cells[("三里庵街道", "green")] is None
        )
        shown = [*employees.cells.values(), *employees.row_totals.values(), *employees.col_totals.values()]
        assert all(v is None or v == 0 or v >= 10 for v in shown)
        assert employees.total == 15 or employees.total is None
        city = oversight.overview(session, settings, oversight.Area(None, "庐州市"))
        assert SHUSHAN in city.enterprises.rows and YAOHAI in city.enterprises.rows
        assert all(v is None or v == 0 or v >= 10 for v in city.employees.cells.values())
    assert numbers


def test_people_only_under_a_grant_masked_recorded_and_in_the_district(
    factory: sessionmaker[Session], world: World, settings: Settings, client: TestClient
) -> None:
    numbers = _city(factory, settings)
    with factory() as session:
        departments = {d.code: d.id for d in session.scalars(select(Department))}
    ssq = Principal(None, "ssq.officer", "x", departments["SSQ"], "SSQ", frozenset({Role.OFFICER}))
    with factory() as session:
        area = oversight.area_of(session, settings, ssq)
        with pytest.raises(Forbidden) as refused:
            oversight.drill_down(session, settings, ssq, area, numbers["big"], utcnow())
        assert refused.value.code == "no_grant"
    code = add_resource(factory, "WJW", name=persons.RESOURCE)
    with transaction(factory) as session:
        resource = session.scalars(select(Resource).where(Resource.code == code)).one()
        session.add(
            Grant(
                consumer_department_id=departments["SSQ"],
                provider_department_id=departments["WJW"],
                resource_id=resource.id,
                items=["姓名", "公民身份号码"],
                purpose="辖区复工企业员工健康状况核查",
                mode=DeliveryMode.API,
                expires_at=utcnow() + timedelta(days=30),
            )
        )
    with transaction(factory) as session:
        _, employees = oversight.drill_down(session, settings, ssq, area, numbers["big"], utcnow())
        assert len(employees) == 12 and sum(e.colour.label == "red" for e in employees) == 2
        assert all("*" in e.label and an_id(100) not in e.label for e in employees)
        with pytest.raises(Forbidden) as outside:
            oversight.drill_down(session, settings, ssq, area, numbers["east"], utcnow())
        assert outside.value.code == "outside_area"
    with factory() as session:
        recorded = session.scalars(
            select(AuditEvent.subject).where(AuditEvent.event_type == "healthcode.area.drill_down")
        )
        assert set(recorded) == {person_subject(settings, an_id(n)) for n in range(100, 112)}


def test_the_area_api_and_the_situation_by_street(
    factory: sessionmaker[Session], world: World, settings: Settings, client: TestClient
) -> None:
    _city(factory, settings)
    refused = client.get("/api/v1/healthcode/area", headers=world.auth("officer_a"))  # public security
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_area"
    city = client.get("/api/v1/healthcode/area", headers=world.auth("consumer_c")).json()  # health commission
    assert city["district"] is None and {r["row"] for r in city["enterprises"]["rows"]} >= {SHUSHAN, YAOHAI}
    situation = client.get("/api/v1/healthcode/situation", headers=world.auth("officer_a")).json()
    enterprises = {row["row"]: row for row in situation["enterprises"]["rows"]}
    assert enterprises[SHUSHAN]["cells"]["approved"] is None  # two resumed: <10
    by_street = client.get(
        "/api/v1/healthcode/situation", params={"district": SHUSHAN}, headers=world.auth("officer_a")
    )
    assert by_street.status_code == 200 and by_street.json()["district"] == SHUSHAN
    wrong = client.get(
        "/api/v1/healthcode/situation", params={"district": "110101"}, headers=world.auth("officer_a")
    )
    assert wrong.status_code == 422
    old = client.get(
        "/api/v1/healthcode/situation", params={"day": "2001-01-01"}, headers=world.auth("officer_a")
    )
    assert old.status_code == 422
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    day = client.get(
        "/api/v1/healthcode/situation", params={"day": yesterday}, headers=world.auth("officer_a")
    )
    assert day.status_code == 200 and day.json()["since"].startswith(yesterday)
