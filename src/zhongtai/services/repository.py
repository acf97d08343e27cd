"""Every query of services. Case lists are scoped: a department sees the cases it handles or co-handles;
an applicant sees the cases they filed or that are about them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.orgs.models import Department
from zhongtai.services.models import (
    Case,
    CaseEvent,
    CaseMaterial,
    CaseStatus,
    CaseTask,
    Material,
    Saving,
    ServiceItem,
    TaskStatus,
)


class ServicesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # Departments ---------------------------------------------------------------------------------------
    def department(self, code: str) -> Department | None:
        return self.session.scalars(select(Department).where(Department.code == code)).first()

    def department_names(self) -> dict[int, tuple[str, str]]:
        rows = self.session.execute(select(Department.id, Department.code, Department.name))
        return {row[0]: (row[1], row[2]) for row in rows}

    # Items ---------------------------------------------------------------------------------------------
    def items(self, active_only: bool = False) -> list[ServiceItem]:
        query = select(ServiceItem).order_by(ServiceItem.code)
        if active_only:
            query = query.where(ServiceItem.active.is_(True))
        return list(self.session.scalars(query))

    def item(self, code: str) -> ServiceItem | None:
        return self.session.scalars(select(ServiceItem).where(ServiceItem.code == code)).first()

    def item_by_id(self, item_id: int) -> ServiceItem:
        found = self.session.get(ServiceItem, item_id)
        assert found is not None
        return found

    def materials(self, item_id: int) -> list[Material]:
        query = select(Material).where(Material.item_id == item_id).order_by(Material.position)
        return list(self.session.scalars(query))

    def material(self, material_id: int) -> Material | None:
        return self.session.get(Material, material_id)

    def materials_in_use(self, item_id: int) -> set[int]:
        query = select(CaseMaterial.material_id).join(Case, Case.id == CaseMaterial.case_id)
        return set(self.session.scalars(query.where(Case.item_id == item_id)))

    def pending_reviews(self) -> list[tuple[ServiceItem, Material]]:
        query = (
            select(ServiceItem, Material)
            .join(Material, Material.item_id == ServiceItem.id)
            .where(Material.review == "pending")
            .order_by(ServiceItem.code, Material.position)
        )
        return [(row[0], row[1]) for row in self.session.execute(query)]

    # Cases ---------------------------------------------------------------------------------------------
    def case(self, number: str) -> Case | None:
        return self.session.scalars(select(Case).where(Case.number == number)).first()

    def next_case_serial(self, prefix: str) -> int:
        found = self.session.scalar(select(func.count()).where(Case.number.like(prefix + "%")))
        return (found or 0) + 1

    def cases_for(self, principal: Principal, status: str | None, limit: int = 100) -> list[Case]:
        # A department's own cases and those it co-handles; nobody else's (not even the bureau's staff:
        # a case's data is for the department that handles it).
        query: Select[Any] = select(Case).where(Case.status != CaseStatus.DRAFT)
        asked = select(CaseTask.case_id).where(CaseTask.department_id == principal.department_id)
        if principal.has(Role.CASEWORKER):
            query = query.where(or_(Case.department_id == principal.department_id, Case.id.in_(asked)))
        elif principal.has(Role.OFFICER):  # an officer answers co-handling questions, handles no case
            query = query.where(Case.id.in_(asked))
        else:
            return []
        if status:
            query = query.where(Case.status == status)
        return list(self.session.scalars(query.order_by(Case.id.desc()).limit(limit)))

    def cases_of_applicant(self, subjects: list[str], limit: int = 50) -> list[Case]:
        query = select(Case).where(
            or_(Case.filed_by_subject.in_(subjects), Case.applicant_subject.in_(subjects))
        )
        return list(self.session.scalars(query.order_by(Case.id.desc()).limit(limit)))

    def cases_started_since(self, filed_by: str, since: datetime) -> int:
        query = select(func.count()).where(Case.filed_by_subject == filed_by, Case.created_at > since)
        return self.session.scalar(query) or 0

    def case_materials(self, case_id: int) -> list[CaseMaterial]:
        query = select(CaseMaterial).where(CaseMaterial.case_id == case_id).order_by(CaseMaterial.id)
        return list(self.session.scalars(query))

    def tasks(self, case_id: int) -> list[CaseTask]:
        return list(
            self.session.scalars(select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.id))
        )

    def task(self, task_id: int) -> CaseTask | None:
        return self.session.get(CaseTask, task_id)

    def open_tasks_of(self, department_id: int) -> list[CaseTask]:
        query = select(CaseTask).where(
            CaseTask.department_id == department_id, CaseTask.status == TaskStatus.OPEN
        )
        return list(self.session.scalars(query.order_by(CaseTask.due_on)))

    def events(self, case_id: int) -> list[CaseEvent]:
        return list(
            self.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
        )

    def waiting_count(self, department_id: int) -> int:
        query = select(func.count()).where(
            Case.department_id == department_id, Case.status.in_([CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW])
        )
        return self.session.scalar(query) or 0

    # Ledger --------------------------------------------------------------------------------------------
    def saving(self, case_id: int) -> Saving | None:
        return self.session.get(Saving, case_id)

    def totals(self) -> tuple[int, int, int, int]:
        row = self.session.execute(
            select(
                func.count(), func.sum(Saving.submissions), func.sum(Saving.checks), func.sum(Saving.trips)
            )
        ).one()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)

    def totals_by(self, column: Any, since: date | None = None) -> list[tuple[Any, int, int, int, int]]:
        query = select(
            column,
            func.count(),
            func.sum(Saving.submissions),
            func.sum(Saving.checks),
            func.sum(Saving.trips),
        )
        if since is not None:
            query = query.where(Saving.day >= since)
        rows = self.session.execute(query.group_by(column).order_by(column))
        return [(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows]
