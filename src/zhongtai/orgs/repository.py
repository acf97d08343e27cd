"""All queries on departments and information systems, scoped to what the caller may see."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from zhongtai.core.principal import Principal
from zhongtai.orgs.models import Department, InformationSystem


class OrgRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def departments(self) -> list[Department]:
        return list(self.session.scalars(select(Department).order_by(Department.code)))

    def department_by_code(self, code: str) -> Department | None:
        return self.session.scalars(select(Department).where(Department.code == code)).first()

    def names(self) -> dict[str, tuple[str, str | None]]:
        """Every department's and system's code -> (name, English name): what pages show instead of codes."""
        rows = self.session.execute(select(Department.code, Department.name, Department.name_en)).all()
        systems = self.session.execute(select(InformationSystem.code, InformationSystem.name)).all()
        return {code: (name, None) for code, name in systems} | {
            code: (name, name_en) for code, name, name_en in rows
        }

    def departments_by_id(self) -> dict[int, Department]:
        return {d.id: d for d in self.departments()}

    def system_by_code(self, code: str) -> InformationSystem | None:
        return self.session.scalars(
            select(InformationSystem)
            .options(joinedload(InformationSystem.department))
            .where(InformationSystem.code == code)
        ).first()

    def systems(self, department_code: str | None = None) -> list[InformationSystem]:
        query: Select[InformationSystem] = (
            select(InformationSystem)
            .join(InformationSystem.department)
            .options(joinedload(InformationSystem.department))
            .order_by(InformationSystem.code)
        )
        if department_code:
            query = query.where(Department.code == department_code)
        return list(self.session.scalars(query))

    def editable_system(self, principal: Principal, code: str) -> InformationSystem | None:
        """The system if the caller may change it: its own department's, or any for an operator."""
        query = (
            select(InformationSystem)
            .options(joinedload(InformationSystem.department))
            .where(InformationSystem.code == code)
        )
        if not principal.is_operator:
            query = query.where(InformationSystem.department_id == principal.department_id)
        return self.session.scalars(query).first()

    def system_counts(self) -> dict[int, int]:
        rows = self.session.execute(
            select(InformationSystem.department_id, func.count()).group_by(InformationSystem.department_id)
        )
        return {department_id: count for department_id, count in rows}
