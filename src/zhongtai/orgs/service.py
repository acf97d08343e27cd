"""Rules for departments' information systems. Services flush; the request owns the commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.types import utcnow
from zhongtai.orgs.auth import may_register_system_for
from zhongtai.orgs.models import Department, InformationSystem
from zhongtai.orgs.repository import OrgRepository
from zhongtai.orgs.schemas import DepartmentRead, SystemCreate, SystemRead, SystemUpdate


def department_read(department: Department, parents: dict[int, Department], systems: int) -> DepartmentRead:
    parent = parents.get(department.parent_id) if department.parent_id else None
    return DepartmentRead(
        code=department.code,
        name=department.name,
        name_en=department.name_en,
        kind=department.kind,
        parent_code=parent.code if parent else None,
        system_count=systems,
    )


def figures(session: Session) -> dict[str, int]:
    repo = OrgRepository(session)
    return {"orgs.departments": len(repo.departments()), "orgs.systems": sum(repo.system_counts().values())}


def names(session: Session) -> dict[str, tuple[str, str | None]]:
    """Department and system codes -> (name, English name), for pages that show names, not codes."""
    return OrgRepository(session).names()


def list_departments(session: Session) -> list[DepartmentRead]:
    repo = OrgRepository(session)
    by_id = repo.departments_by_id()
    counts = repo.system_counts()
    return [department_read(d, by_id, counts.get(d.id, 0)) for d in by_id.values()]


def get_department(session: Session, code: str) -> DepartmentRead:
    repo = OrgRepository(session)
    department = repo.department_by_code(code)
    if department is None:
        raise NotFound(M_("no department %(code)r", code=code), code="department_not_found")
    parent = repo.session.get(Department, department.parent_id) if department.parent_id else None
    parents = {parent.id: parent} if parent else {}
    return department_read(department, parents, repo.system_counts().get(department.id, 0))


def system_read(system: InformationSystem) -> SystemRead:
    return SystemRead(
        code=system.code,
        name=system.name,
        description=system.description,
        department=system.department.code,
        department_name=system.department.name,
        status=system.status,
        created_at=system.created_at,
        updated_at=system.updated_at,
    )


def register_system(session: Session, actor: Principal, data: SystemCreate) -> InformationSystem:
    repo = OrgRepository(session)
    department_code = data.department or actor.department_code or ""
    department = repo.department_by_code(department_code)
    if department is None:
        raise Invalid(
            M_("unknown department code %(department_code)r", department_code=department_code),
            field="department",
            code="unknown_department",
        )
    if not may_register_system_for(actor, department.id):
        raise Forbidden(
            M_("you may register systems only for your own department"), code="not_your_department"
        )
    if repo.system_by_code(data.code) is not None:
        raise Conflict(
            M_("system code %(code)r is already taken", code=data.code), field="code", code="duplicate_code"
        )
    system = InformationSystem(
        code=data.code, name=data.name, description=data.description, department_id=department.id
    )
    system.department = department
    session.add(system)
    session.flush()
    audit.record(
        session,
        actor,
        "orgs.system.created",
        "information_system",
        system.code,
        {"name": data.name, "department": department.code},
    )
    return system


def update_system(session: Session, actor: Principal, code: str, data: SystemUpdate) -> InformationSystem:
    repo = OrgRepository(session)
    system = repo.editable_system(actor, code)
    if system is None:
        if repo.system_by_code(code) is None:
            raise NotFound(M_("no information system %(code)r", code=code), code="system_not_found")
        raise Forbidden(M_("you may edit only your own department's systems"), code="not_your_department")
    if not (actor.is_operator or actor.has(Role.OFFICER)):
        raise Forbidden(M_("only a department data officer or an operator may edit systems"))
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    before = {key: getattr(system, key) for key in changes}
    for key, value in changes.items():
        setattr(system, key, value)
    system.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "orgs.system.updated",
        "information_system",
        code,
        audit.diff({k: str(v) for k, v in before.items()}, {k: str(v) for k, v in changes.items()}),
    )
    return system
