"""A small city for services: the household register (GAJ) and marriage records (MZJ) published with governed
rows, the housing bureau (ZJJ) with an officer and a caseworker, civil affairs' caseworker for co-handling,
and a housing-security service whose materials those registers replace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import PASSWORD, World, add_department, add_resource
from tests.public.helpers import NEIGHBOUR, WANG, WANG_CHILD
from zhongtai.core.database import transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user, issue_token
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.governance.models import CleanRecord
from zhongtai.services import cases, service
from zhongtai.services.models import ApplicantKind, Review
from zhongtai.services.schemas import ItemWrite, ReviewWrite

SERVICE = "ZJJ-GZF-001"
PDF = b"%PDF-1.4\n%test\n"
PEOPLE_ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "data_element": "DE00001", "sensitive": True},
    {
        "name": "公民身份号码",
        "data_type": "string",
        "length": 18,
        "data_element": "DE00002",
        "sensitive": True,
    },
    {"name": "户号", "data_type": "string", "length": 20, "sensitive": True},
    {"name": "户籍地址", "data_type": "string", "length": 200, "data_element": "DE00006", "sensitive": True},
]
MARRIAGE_ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "data_element": "DE00001", "sensitive": True},
    {
        "name": "公民身份号码",
        "data_type": "string",
        "length": 18,
        "data_element": "DE00002",
        "sensitive": True,
    },
    {"name": "配偶姓名", "data_type": "string", "length": 50, "data_element": "DE00001", "sensitive": True},
    {"name": "登记日期", "data_type": "date"},
]
STAFF = {
    "officer_z": ("ZJJ", Role.OFFICER),
    "caseworker_z": ("ZJJ", Role.CASEWORKER),
    "caseworker_m": ("MZJ", Role.CASEWORKER),
    "caseworker_g": ("GAJ", Role.CASEWORKER),
}


@dataclass
class City:
    population: str
    marriage: str
    staff: dict[str, Principal]
    estate: str | None = None
    insurance: str | None = None


def _row(person: Any) -> dict[str, Any]:
    return {
        "姓名": person.name,
        "公民身份号码": person.id_number,
        "户号": person.household,
        "户籍地址": "安徽省庐州市蜀山区幸福路 1 号",
    }


def add_clean_rows(
    factory: sessionmaker[Session], resource: str, rows: list[dict[str, Any]], job: int
) -> None:
    """Governed rows of a resource, as a governance pass leaves them in the clean zone."""
    from zhongtai.catalog.models import Resource

    with transaction(factory) as session:
        resource_id = session.scalars(select(Resource.id).where(Resource.code == resource)).one()
        for n, data in enumerate(rows):
            session.add(
                CleanRecord(
                    job_id=job,
                    source_key=f"k{n}",
                    resource_id=resource_id,
                    pass_id=1,
                    batch_id=1,
                    rule_version=1,
                    data=data,
                )
            )


def item_spec(city: City, **overrides: Any) -> dict[str, Any]:
    applicant = {"key_from": "applicant", "key_item": "公民身份号码"}
    spec: dict[str, Any] = {
        "code": SERVICE,
        "name": "公共租赁住房保障资格审核",
        "department": "ZJJ",
        "applicant_kind": "person",
        "legal_basis": "《公共租赁住房管理办法》第七条",
        "time_limit_days": 20,
        "co_departments": ["MZJ"],
        "trips": 3,
        "materials": [
            {
                "name": "居民户口簿",
                "source": "data",
                "resource": city.population,
                "items": ["姓名", "户号"],
                **applicant,
            },
            {
                "name": "婚姻状况证明",
                "source": "data",
                "resource": city.marriage,
                "items": ["姓名", "配偶姓名", "登记日期"],
                "none_is_answer": True,
                **applicant,
            },
            {"name": "家庭收入证明", "source": "upload"},
        ],
    }
    if city.estate and city.insurance:  # the full service: five materials replaced by data
        spec["materials"][2:2] = [
            {
                "name": "居民身份证",
                "source": "data",
                "resource": city.population,
                "items": ["姓名", "公民身份号码"],
                **applicant,
            },
            {
                "name": "不动产登记信息",
                "source": "data",
                "resource": city.estate,
                "items": ["房屋坐落"],
                "none_is_answer": True,
                "key_from": "applicant",
                "key_item": "权利人证件号码",
            },
            {
                "name": "社会保险参保证明",
                "source": "data",
                "resource": city.insurance,
                "items": ["参保状态"],
                **applicant,
            },
        ]
    spec.update(overrides)
    return spec


def build_city(factory: sessionmaker[Session], world: World, settings: Settings, full: bool = False) -> City:
    from zhongtai.core.identity.service import principal_for

    with transaction(factory) as session:
        add_department(session, "ZJJ", "住房和城乡建设局")
    population = add_resource(factory, "GAJ", name="常住人口基本信息", items=PEOPLE_ITEMS)
    marriage = add_resource(factory, "MZJ", name="结婚登记信息", items=MARRIAGE_ITEMS)
    add_clean_rows(factory, population, [_row(p) for p in (WANG, WANG_CHILD, NEIGHBOUR)], job=1)
    wed = {"姓名": WANG.name, "公民身份号码": WANG.id_number, "配偶姓名": "李梅", "登记日期": "2012-05-01"}
    add_clean_rows(factory, marriage, [wed], job=2)
    staff: dict[str, Principal] = {}
    with transaction(factory) as session:
        for name, (department, role) in STAFF.items():
            user = create_user(
                session,
                SYSTEM,
                username=name,
                display_name=name,
                department_code=department,
                roles=[role],
                password=PASSWORD,
            )
            world.tokens[name], _ = issue_token(session, SYSTEM, user, "test")
            staff[name] = principal_for(user, settings)
    city = City(population, marriage, staff)
    if full:
        city.estate, city.insurance = _more_registers(factory)
    with transaction(factory) as session:
        service.save_item(session, staff["officer_z"], ItemWrite.model_validate(item_spec(city)))
        approve_all(session)
    return city


def approve_all(session: Session) -> None:
    reviewer = Principal(None, "bureau", "bureau", None, None, frozenset({Role.OPERATOR}), True)
    item = service.get_item(session, SERVICE)
    for material in service.item_read(session, item).materials:
        if material.review is Review.PENDING:
            service.review_material(
                session, reviewer, SERVICE, material.position, ReviewWrite(decision=Review.APPROVED)
            )


def applicant_for(settings: Settings, person: Any) -> cases.Applicant:
    subject = person_subject(settings, person.id_number)
    return cases.Applicant(ApplicantKind.PERSON, subject, person.name, person.id_number, subject)


def _more_registers(factory: sessionmaker[Session]) -> tuple[str, str]:
    """The real-estate register (nothing for WANG: no home) and social insurance (WANG insured)."""
    with transaction(factory) as session:
        add_department(session, "ZRZYJ", "自然资源和规划局")
        add_department(session, "RSJ", "人力资源和社会保障局")
    id_item = PEOPLE_ITEMS[1]
    estate_items = [
        {**id_item, "name": "权利人证件号码"},
        {"name": "房屋坐落", "data_type": "string", "length": 200},
    ]
    estate = add_resource(factory, "ZRZYJ", name="不动产登记信息", items=estate_items)
    insurance_items = [*PEOPLE_ITEMS[:2], {"name": "参保状态", "data_type": "string", "length": 10}]
    insurance = add_resource(factory, "RSJ", name="社会保险参保信息", items=insurance_items)
    row = {"姓名": WANG.name, "公民身份号码": WANG.id_number, "参保状态": "正常参保"}
    add_clean_rows(factory, insurance, [row], job=4)
    return estate, insurance
