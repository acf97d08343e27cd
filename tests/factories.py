"""Small factory functions that build test data through the same services the product uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog import service as catalog
from zhongtai.catalog.schemas import ResourceCreate
from zhongtai.core.database import transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user, issue_token
from zhongtai.core.principal import SYSTEM
from zhongtai.orgs.models import Department, DepartmentKind, InformationSystem

PASSWORD = "correct horse battery"


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


# who -> (department, roles)
PEOPLE: dict[str, tuple[str, list[Role]]] = {
    "admin": ("SJZYJ", [Role.OPERATOR]),
    "bureau_reviewer": ("SJZYJ", [Role.REVIEWER]),
    "auditor": ("SJZYJ", [Role.AUDITOR]),
    "officer_a": ("GAJ", [Role.OFFICER]),
    "officer_b": ("MZJ", [Role.OFFICER]),
    "consumer_a": ("GAJ", [Role.CONSUMER]),
    "consumer_c": ("WJW", [Role.CONSUMER]),
    "reviewer_a": ("GAJ", [Role.REVIEWER]),
    "developer_a": ("GAJ", [Role.DEVELOPER]),
    "developer_b": ("MZJ", [Role.DEVELOPER]),
    "developer_c": ("WJW", [Role.DEVELOPER]),
}


def add_department(
    session: Session, code: str, name: str, kind: DepartmentKind = DepartmentKind.MUNICIPAL
) -> Department:
    department = Department(code=code, name=name, kind=kind)
    session.add(department)
    session.flush()
    return department


def build_world(factory: sessionmaker[Session]) -> World:
    world = World()
    with transaction(factory) as session:
        departments = {
            "SJZYJ": add_department(session, "SJZYJ", "数据资源局"),
            "GAJ": add_department(session, "GAJ", "公安局"),
            "MZJ": add_department(session, "MZJ", "民政局"),
            "WJW": add_department(session, "WJW", "卫生健康委员会"),
        }
        session.add(
            InformationSystem(code="GAJ-RK", name="人口信息系统", department_id=departments["GAJ"].id)
        )
        session.add(
            InformationSystem(code="MZJ-HY", name="婚姻登记系统", department_id=departments["MZJ"].id)
        )
        for who, (department, roles) in PEOPLE.items():
            user = create_user(
                session,
                SYSTEM,
                username=who,
                display_name=who,
                department_code=department,
                roles=roles,
                password=PASSWORD,
            )
            world.tokens[who], _ = issue_token(session, SYSTEM, user, "test")
    return world


def resource_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "classification": "101",
        "name": "常住人口基本信息",
        "abstract": "户籍人口的基本登记信息",
        "format": "table",
        "sharing_type": "conditional",
        "sharing_conditions": "仅限政务服务办理",
        "sharing_modes": ["api"],
        "open_type": "not_open",
        "update_cycle": "daily",
        "items": [
            {"name": "姓名", "data_type": "string", "length": 50, "sensitive": True},
            {
                "name": "公民身份号码",
                "data_type": "string",
                "length": 18,
                "data_element": "DE00002",
                "sensitive": True,
            },
        ],
    }
    payload.update(overrides)
    return payload


def add_resource(
    factory: sessionmaker[Session], provider: str, publish: bool = True, **overrides: Any
) -> str:
    """Register a resource as the platform would, optionally through review to published."""
    with transaction(factory) as session:
        data = ResourceCreate.model_validate(resource_payload(provider=provider, **overrides))
        resource = catalog.create_resource(session, SYSTEM, data)
        if publish:
            catalog.transition(session, SYSTEM, resource.code, "submit")
            catalog.transition(session, SYSTEM, resource.code, "approve")
        return resource.code
