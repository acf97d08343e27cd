"""Builds the synthetic demo city: departments, systems, users and a catalog, reproducible from a seed.

Later issues extend it with departments' source data; each part is a function taking the session and a
``random.Random`` so new parts slot in after these.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog import service as catalog
from zhongtai.catalog.models import Classification, Resource, ResourceTransition, ResourceVersion
from zhongtai.catalog.schemas import ItemIn, ResourceCreate
from zhongtai.core.database import downgrade, transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.service import create_user, principal_for
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.settings import get_settings
from zhongtai.core.types import CITY_ZONE
from zhongtai.demo.catalog_data import (
    CLASSIFICATIONS,
    DEPARTMENTAL_CLASS_NAMES,
    DISTRICT_TEMPLATES,
    ITEMS,
    NOT_SHARED_BASIS,
    RESOURCES,
)
from zhongtai.demo.organizations import DEMO_USERS, DEPARTMENTS, SYSTEMS
from zhongtai.demo.registers import REGISTERS
from zhongtai.orgs.models import Department, DepartmentKind, InformationSystem

DEMO_PASSWORD = "Zhongtai@2020"  # noqa: S105 - synthetic demo city only, printed at start
ResourceSpec = tuple[str, str, str, list[str], str, str, str]
DEPARTMENT_NAMES = {code: name for code, name, *_ in DEPARTMENTS}
CYCLE_WORDS = {
    "realtime": "实时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "yearly": "每年",
}
CONDITIONS = [
    "仅限用于政务服务事项办理,需注明办理事项",
    "需经提供部门审核同意,仅限核验使用",
    "限于本市政务部门履职需要,按最小必要原则使用",
]


def reset_database(url: str) -> None:
    """Drop every table the migrations made (the caller upgrades again)."""
    downgrade(url, "base")


def demo_users() -> list[tuple[str, str, list[str]]]:
    return [(u, d, r) for u, d, r, _ in DEMO_USERS]


def build_demo_city(
    factory: sessionmaker[Session], seed: int = 2020, console: Console | None = None
) -> list[tuple[str, str, list[str]]]:
    """Build the city once; a second call on a built database changes nothing."""
    console = console or Console(quiet=True)
    with transaction(factory) as session:
        if session.scalar(select(func.count()).select_from(Department)):
            console.print("demo city already built (use --reset to rebuild it)")
            return demo_users()
    rng = random.Random(seed)
    with transaction(factory) as session:
        add_departments(session)
        add_systems(session)
        add_classifications(session)
        add_users(session)
        specs = list(resource_specs())
        people = registrars(session)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("catalog entries", total=len(specs))
            for spec in specs:
                add_resource(session, rng, spec, people)
                progress.advance(task)
    console.print(
        f"built demo city: {len(DEPARTMENTS)} departments, {len(specs)} catalog entries (seed {seed})"
    )
    return demo_users()


def add_departments(session: Session) -> None:
    by_code: dict[str, Department] = {}
    for code, name, name_en, kind, parent in DEPARTMENTS:
        department = Department(
            code=code,
            name=name,
            name_en=name_en,
            kind=DepartmentKind(kind),
            parent_id=by_code[parent].id if parent else None,
        )
        session.add(department)
        session.flush()
        by_code[code] = department


def _departments(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.scalars(select(Department))}


def add_systems(session: Session) -> None:
    departments = _departments(session)
    for department_code, systems in SYSTEMS.items():
        for code, name, description in systems:
            session.add(
                InformationSystem(
                    code=code,
                    name=name,
                    description=description,
                    department_id=departments[department_code].id,
                )
            )
    session.flush()


def add_classifications(session: Session) -> None:
    rows: list[tuple[str, str, str | None]] = list(CLASSIFICATIONS)
    rows += [(code, name, None) for code, name in DEPARTMENTAL_CLASS_NAMES.values()]
    for code, name, name_en in sorted(rows):
        parent = code[:1] if len(code) == 3 else code[:3]
        session.add(
            Classification(
                code=code, name=name, name_en=name_en, parent_code=parent, level=2 if len(code) == 3 else 3
            )
        )
        session.flush()


def add_users(session: Session) -> None:
    for username, department, roles, display_name in DEMO_USERS:
        create_user(
            session,
            SYSTEM,
            username=username,
            display_name=display_name,
            department_code=department,
            roles=[Role(r) for r in roles],
            password=DEMO_PASSWORD,
        )


def resource_specs() -> Iterator[ResourceSpec]:
    yield from RESOURCES
    for code, name, _, kind, _ in DEPARTMENTS:
        if kind == "municipal":
            continue
        short = name.removesuffix("人民政府").removesuffix("管委会")
        for classification, template, items, sharing, cycle, open_type in DISTRICT_TEMPLATES:
            yield code, classification, template.format(d=short), items, sharing, cycle, open_type


@dataclass(frozen=True)
class Registrars:
    """Who registers and reviews the demo's entries, looked up once: each department's officer (the
    platform operator for departments without one) and the bureau's reviewer."""

    officers: dict[str, Principal]
    operator: Principal
    reviewer: Principal

    def officer(self, department_code: str) -> Principal:
        return self.officers.get(department_code, self.operator)


def registrars(session: Session) -> Registrars:
    repo = IdentityRepository(session)
    settings = get_settings()

    def principal(username: str) -> Principal:
        user = repo.user_by_username(username)
        assert user is not None, username
        return principal_for(user, settings)

    officers = {dept: principal(name) for name, dept, roles, _ in DEMO_USERS if "officer" in roles}
    return Registrars(officers, principal("admin"), principal("reviewer"))


def add_resource(session: Session, rng: random.Random, spec: ResourceSpec, people: Registrars) -> None:
    department, classification, name, item_names, sharing, cycle, open_type = spec
    officer = people.officer(department)
    data = ResourceCreate(
        classification=classification,
        provider=department,
        name=name,
        abstract=f"{name},由{DEPARTMENT_NAMES[department]}在业务办理中产生,"
        f"包含{'、'.join(item_names[:3])}等{len(item_names)}个信息项,{CYCLE_WORDS[cycle]}更新。",
        format="table" if rng.random() < 0.8 else rng.choice(["api", "file"]),
        sharing_type=sharing,
        sharing_conditions=rng.choice(CONDITIONS) if sharing == "conditional" else "",
        sharing_basis=NOT_SHARED_BASIS if sharing == "not_shared" else "",
        sharing_modes=[]
        if sharing == "not_shared"
        else rng.sample(["api", "file", "table_sync"], rng.randint(1, 2)),
        open_type=open_type,
        update_cycle=cycle,
        source_system=holding_system(name, SYSTEMS.get(department, [])),
        publish_date=None,
        items=[
            ItemIn(
                name=n,
                data_type=ITEMS[n][0],
                length=ITEMS[n][1],
                data_element=ITEMS[n][2],
                sensitive=ITEMS[n][3],
            )
            for n in item_names
        ],
    )
    resource = catalog.create_resource(session, officer, data)
    roll = rng.random()
    in_service = name in REGISTER_NAMES  # fed by the demo's department exports, opened as open data
    if classification.startswith("1") or in_service:  # base resources (population, legal entities …) too
        roll = min(max(roll, 0.12), 0.97)
    if roll < 0.06:
        return  # stays a draft
    catalog.transition(session, officer, resource.code, "submit")
    if roll < 0.12:
        return  # waiting for the bureau
    catalog.transition(session, people.reviewer, resource.code, "approve", "符合编目规范")
    resource.publish_date = date(2020, 1, 1) + timedelta(days=rng.randint(0, 900))
    if roll > 0.97:
        catalog.transition(session, officer, resource.code, "retire", "系统已停用")
    backdate(session, random.Random(resource.code), resource)  # its own draws: the city stays the same


REGISTER_NAMES = {register.resource_name for register in REGISTERS}


def holding_system(resource_name: str, systems: list[tuple[str, str, str]]) -> str | None:
    """The department's system whose name and scope share the most with the resource's name (the one that
    holds such data: 婚姻登记信息 → 婚姻登记管理系统), the first when nothing is shared."""
    if not systems:
        return None

    def bigrams(text: str) -> set[str]:
        return {text[i : i + 2] for i in range(len(text) - 1)}

    wanted = bigrams(resource_name)
    best = max(systems, key=lambda s: len(wanted & bigrams(s[1] + s[2])))
    return best[0]


def backdate(session: Session, rng: random.Random, resource: Resource) -> None:
    """The demo builds its catalog in seconds; a real one grew over years. A published entry's history and
    versions are dated around its publish date (registered some days before, approved on it, retired
    later), in office hours on the city's clock, so the pages tell a believable story."""
    if resource.publish_date is None:
        return
    session.flush()
    approved = datetime.combine(
        resource.publish_date, time(9 + rng.randint(0, 7), rng.randint(0, 59)), CITY_ZONE
    )
    offsets = {
        "create": -rng.randint(8, 20),
        "submit": -rng.randint(1, 6),
        "approve": 0,
        "retire": rng.randint(200, 600),
    }
    transitions = session.scalars(
        select(ResourceTransition).where(ResourceTransition.resource_id == resource.id)
    )
    for step in transitions:
        step.occurred_at = approved + timedelta(days=offsets.get(step.action, 0), minutes=rng.randint(0, 90))
    for version in session.scalars(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)):
        version.created_at = approved
    resource.created_at = approved + timedelta(days=offsets["create"])
    resource.updated_at = approved
