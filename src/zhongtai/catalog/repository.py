"""All catalog queries. Department scoping lives here: callers only ever get rows they may read."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from zhongtai.catalog.models import (
    Classification,
    Resource,
    ResourceStatus,
    ResourceTransition,
    ResourceVersion,
)
from zhongtai.catalog.schemas import ResourceFilter
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.orgs.models import Department

MAX_TERMS = 10


def escape_like(term: str) -> str:
    """Escape LIKE wildcards so %, _ and \\ in a query match themselves."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_terms(query: str | None) -> list[str]:
    if not query:
        return []
    return [term.lower() for term in query.split()][:MAX_TERMS]


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Published entries are visible to every signed-in user; others only to their department and
    to the bureau's operators, reviewers and auditors."""
    if principal.sees_all_departments:
        return true()
    return or_(
        Resource.status == ResourceStatus.PUBLISHED,
        Resource.provider_department_id == principal.department_id,
    )


def editable_by(principal: Principal) -> ColumnElement[bool] | None:
    """Rows the caller may change: an operator any, an officer its own department's, others none."""
    if principal.is_operator:
        return true()
    if principal.has(Role.OFFICER):
        return Resource.provider_department_id == principal.department_id
    return None


class CatalogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _with_relations(self) -> Select[Resource]:
        return select(Resource).options(joinedload(Resource.provider), joinedload(Resource.source_system))

    def search(self, principal: Principal, filters: ResourceFilter) -> tuple[list[Resource], int]:
        conditions: list[ColumnElement[bool]] = [visible_to(principal)]
        for term in search_terms(filters.q):
            conditions.append(Resource.search_text.like(f"%{escape_like(term)}%", escape="\\"))
        if filters.department:
            conditions.append(Department.code == filters.department)
        if filters.category:
            conditions.append(Resource.category == filters.category)
        if filters.classification:
            pattern = f"{escape_like(filters.classification)}%"
            conditions.append(Resource.classification_code.like(pattern, escape="\\"))
        if filters.sharing_type:
            conditions.append(Resource.sharing_type == filters.sharing_type)
        if filters.open_type:
            conditions.append(Resource.open_type == filters.open_type)
        if filters.status:
            conditions.append(Resource.status == filters.status)
        total = self.session.scalar(
            select(func.count()).select_from(Resource).join(Resource.provider).where(*conditions)
        )
        rows = self.session.scalars(
            self._with_relations()
            .join(Resource.provider)
            .where(*conditions)
            .order_by(Resource.code)  # unique, so paging is stable
            .offset((filters.page - 1) * filters.page_size)
            .limit(filters.page_size)
        )
        return list(rows.unique()), int(total or 0)

    def editable_list(self, principal: Principal) -> list[Resource]:
        """The resources the caller may change (a form's choice of its own department's resources)."""
        rule = editable_by(principal)
        if rule is None:
            return []
        query = (
            self._with_relations()
            .where(rule, Resource.status != ResourceStatus.RETIRED)
            .order_by(Resource.code)
        )
        return list(self.session.scalars(query))

    def with_status(
        self, status: ResourceStatus, provider_department_id: int | None = None, limit: int = 20
    ) -> list[Resource]:
        query = self._with_relations().where(Resource.status == status)
        if provider_department_id is not None:
            query = query.where(Resource.provider_department_id == provider_department_id)
        return list(self.session.scalars(query.order_by(Resource.updated_at).limit(limit)))

    def count_by_status(self) -> dict[ResourceStatus, int]:
        rows = self.session.execute(select(Resource.status, func.count()).group_by(Resource.status)).all()
        return {status: count for status, count in rows}

    def exists(self, code: str) -> bool:
        return self.session.scalar(select(Resource.id).where(Resource.code == code)) is not None

    def visible(self, principal: Principal, code: str) -> Resource | None:
        return self.session.scalars(
            self._with_relations().where(Resource.code == code, visible_to(principal))
        ).first()

    def editable(self, principal: Principal, code: str) -> Resource | None:
        scope = editable_by(principal)
        if scope is None:
            return None
        return self.session.scalars(self._with_relations().where(Resource.code == code, scope)).first()

    def any_by_code(self, code: str) -> Resource | None:
        """Unscoped; for platform-side work (reviews) after the caller's right was checked."""
        return self.session.scalars(self._with_relations().where(Resource.code == code)).first()

    def existing_codes(self, codes: list[str]) -> set[str]:
        if not codes:
            return set()
        return set(self.session.scalars(select(Resource.code).where(Resource.code.in_(codes))))

    def next_sequence(self, classification_code: str) -> int:
        current = self.session.scalar(
            select(func.max(Resource.sequence)).where(Resource.classification_code == classification_code)
        )
        return int(current or 0) + 1

    def classification(self, code: str) -> Classification | None:
        return self.session.get(Classification, code)

    def classifications(self) -> list[Classification]:
        return list(self.session.scalars(select(Classification).order_by(Classification.code)))

    def transitions(self, resource_id: int) -> list[ResourceTransition]:
        return list(
            self.session.scalars(
                select(ResourceTransition)
                .where(ResourceTransition.resource_id == resource_id)
                .order_by(ResourceTransition.id)
            )
        )

    def versions(self, resource_id: int) -> list[ResourceVersion]:
        return list(
            self.session.scalars(
                select(ResourceVersion)
                .where(ResourceVersion.resource_id == resource_id)
                .order_by(ResourceVersion.version.desc())
            )
        )

    def all_for_export(self, principal: Principal) -> list[Resource]:
        return list(
            self.session.scalars(
                self._with_relations().where(visible_to(principal)).order_by(Resource.code)
            ).unique()
        )
