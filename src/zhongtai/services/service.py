"""Service items and their materials: saved by the responsible department, each data-to-material mapping
checked at save (the resource published and shared, the items and key among its items, the capability
and licence type known) and reviewed by the bureau before a case fetches by it."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy.orm import Session

from zhongtai.capabilities import service as capabilities
from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound, ZhongtaiError
from zhongtai.core.i18n import N_
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.work import WorkItem
from zhongtai.licences.service import LICENCE_TYPES
from zhongtai.orgs.models import Department
from zhongtai.services import auth
from zhongtai.services.models import Case, CaseStatus, Material, MaterialSource, Review, ServiceItem
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.schemas import ItemRead, ItemWrite, MaterialRead, MaterialWrite, ReviewWrite
from zhongtai.sharing import casegrants
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.service import published_resource


def provider_of(session: Session, material: Material) -> str | None:
    """The department whose data replaces the material (its code), if it is fetched."""
    if material.source is MaterialSource.DATA and material.resource_code:
        resource = SharingRepository(session).resource(material.resource_code)
        return (
            SharingRepository(session).department_code(resource.provider_department_id) if resource else None
        )
    return None


def material_read(session: Session, material: Material) -> MaterialRead:
    return MaterialRead(
        id=material.id,
        position=material.position,
        name=material.name,
        source=material.source,
        resource=material.resource_code,
        provider=provider_of(session, material),
        items=list(material.items),
        key_item=material.key_item,
        key_from=material.key_from,
        field_label=material.field_label,
        none_is_answer=material.none_is_answer,
        licence_type=material.licence_type,
        capability=material.capability,
        review=material.review,
        review_comment=material.review_comment,
    )


def item_read(session: Session, item: ServiceItem) -> ItemRead:
    repo = ServicesRepository(session)
    department = repo.department_names().get(item.department_id, ("?", "?"))[0]
    return ItemRead(
        code=item.code,
        name=item.name,
        department=department,
        applicant_kind=item.applicant_kind,
        legal_basis=item.legal_basis,
        time_limit_days=item.time_limit_days,
        co_departments=list(item.co_departments),
        trips=item.trips,
        description=item.description,
        active=item.active,
        updated_by=item.updated_by,
        updated_at=item.updated_at,
        materials=[material_read(session, m) for m in repo.materials(item.id)],
    )


def catalog(session: Session, active_only: bool = False) -> list[ServiceItem]:
    return ServicesRepository(session).items(active_only)


def get_item(session: Session, code: str) -> ServiceItem:
    item = ServicesRepository(session).item(code)
    if item is None:
        raise NotFound(M_("no service item %(code)s", code=code), code="service_not_found")
    return item


def _department(repo: ServicesRepository, code: str, field: str) -> Department:
    found = repo.department(code)
    if found is None:
        raise Invalid(M_("no department %(code)s", code=code), field=field)
    return found


def check_material(session: Session, position: int, data: MaterialWrite) -> None:
    """Refuse a mapping that cannot be fetched, naming the material and the problem."""
    try:
        if data.source is MaterialSource.DATA:
            assert data.resource and data.key_item  # the schema requires them for data
            casegrants.check_mapping(session, data.resource, list(data.items), data.key_item)
        if data.source is MaterialSource.LICENCE and data.licence_type not in LICENCE_TYPES:
            raise Invalid(
                M_(
                    "no licence type %(type)s (known: %(known)s)",
                    type=data.licence_type,
                    known="、".join(LICENCE_TYPES),
                ),
                field="licence_type",
            )
        if data.capability:
            capabilities.visible_capability(session, SYSTEM, data.capability)
    except ZhongtaiError as exc:
        raise Invalid(
            M_(
                "material %(position)s (%(name)s): %(problem)s",
                position=position,
                name=data.name,
                problem=exc.message,
            ),
            code=exc.code if exc.code != "invalid" else "bad_mapping",
            field=f"materials[{position - 1}].{exc.field or 'resource'}",
        ) from exc


def _mapping(data: MaterialWrite) -> tuple[object, ...]:
    return (
        data.source, data.resource, tuple(data.items), data.key_item, data.key_from, data.field_label,
        data.none_is_answer, data.licence_type,
    )  # fmt: skip


def _mapping_of(material: Material) -> tuple[object, ...]:
    return (
        material.source, material.resource_code, tuple(material.items), material.key_item, material.key_from,
        material.field_label, material.none_is_answer, material.licence_type,
    )  # fmt: skip


def save_item(session: Session, actor: Principal, data: ItemWrite) -> ServiceItem:
    """Create or replace a service item (all-or-nothing); a changed data mapping waits for the bureau."""
    repo = ServicesRepository(session)
    department = _department(repo, data.department, "department")
    if not auth.may_maintain(actor, department.id):
        raise Forbidden(
            M_("only the responsible department's officers maintain its services"), code="not_your_service"
        )
    for code in data.co_departments:
        if _department(repo, code, "co_departments").id == department.id:
            raise Invalid(
                M_("the responsible department does not co-handle its own service"), field="co_departments"
            )
    for position, material in enumerate(data.materials, start=1):
        check_material(session, position, material)
    item = repo.item(data.code)
    if item is not None and not auth.may_maintain(actor, item.department_id):
        raise Forbidden(
            M_("only the responsible department's officers maintain its services"), code="not_your_service"
        )
    created = item is None
    if item is None:
        item = ServiceItem(code=data.code, department_id=department.id, updated_by=actor.username)
        session.add(item)
    item.name, item.department_id, item.applicant_kind = data.name, department.id, data.applicant_kind
    item.legal_basis, item.time_limit_days, item.trips = data.legal_basis, data.time_limit_days, data.trips
    item.co_departments, item.description, item.active = (
        list(data.co_departments),
        data.description,
        data.active,
    )
    item.updated_by, item.updated_at = actor.username, utcnow()
    session.flush()
    _save_materials(session, actor, item, data.materials)
    audit.record(
        session,
        actor,
        "services.item.created" if created else "services.item.updated",
        "service_item",
        item.code,
        {"materials": len(data.materials), "department": department.code},
    )
    return item


def _save_materials(
    session: Session, actor: Principal, item: ServiceItem, wanted: list[MaterialWrite]
) -> None:
    repo = ServicesRepository(session)
    existing = {m.position: m for m in repo.materials(item.id)}
    used = repo.materials_in_use(item.id)
    for position, data in enumerate(wanted, start=1):
        material = existing.pop(position, None)
        if material is not None and _mapping_of(material) == _mapping(data):
            material.name, material.capability = data.name, data.capability
            continue
        if material is not None and material.id in used:
            raise Conflict(
                M_(
                    "material %(position)s is part of cases already; add a new material instead",
                    position=position,
                ),
                code="material_in_use",
            )
        if material is None:
            material = Material(item_id=item.id, position=position)
            session.add(material)
        material.name, material.source, material.resource_code = data.name, data.source, data.resource
        material.items, material.key_item, material.key_from = list(data.items), data.key_item, data.key_from
        material.field_label, material.none_is_answer = data.field_label, data.none_is_answer
        material.licence_type, material.capability = data.licence_type, data.capability
        fetched = data.source is not MaterialSource.UPLOAD
        material.review = Review.PENDING if fetched else Review.APPROVED
        material.review_comment, material.reviewed_by, material.reviewed_at = "", None, None
    for position, material in existing.items():
        if material.id in used:
            raise Conflict(
                M_("material %(position)s is part of cases already and cannot be removed", position=position),
                code="material_in_use",
            )
        session.delete(material)
    session.flush()


def review_material(
    session: Session, actor: Principal, code: str, position: int, data: ReviewWrite
) -> Material:
    """The bureau approves a mapping (cases fetch by it from then on) or returns it with a comment."""
    if not auth.may_review(actor):
        raise Forbidden(
            M_("only the bureau's reviewers review data-to-material mappings"), code="not_a_reviewer"
        )
    item = get_item(session, code)
    material = next(
        (m for m in ServicesRepository(session).materials(item.id) if m.position == position), None
    )
    if material is None:
        raise NotFound(M_("service %(code)s has no material %(position)s", code=code, position=position))
    if data.decision is Review.PENDING:
        raise Invalid(M_("a review approves or returns"), field="decision")
    if data.decision is Review.RETURNED and len(data.comment.strip()) < 2:
        raise Invalid(M_("say why the mapping is returned"), field="comment")
    if material.source is MaterialSource.DATA and data.decision is Review.APPROVED:
        assert material.resource_code and material.key_item
        published_resource(SharingRepository(session), material.resource_code)  # still published
        casegrants.check_mapping(session, material.resource_code, list(material.items), material.key_item)
        casegrants.prepare_key(session, material.key_item)
    material.review, material.review_comment = data.decision, data.comment.strip()
    material.reviewed_by, material.reviewed_at = actor.username, utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        f"services.mapping.{data.decision.value}",
        "service_item",
        code,
        {"material": position, "comment": data.comment[:200]},
    )
    return material


def pending_reviews(session: Session, actor: Principal) -> list[tuple[ServiceItem, Material]]:
    return ServicesRepository(session).pending_reviews() if auth.may_review(actor) else []


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(18), tzinfo=CITY_ZONE)


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Cases to accept or decide (the department's caseworkers), co-handling questions to answer (the
    asked department), mappings to review (the bureau)."""
    repo, work = ServicesRepository(session), []
    names = {item.id: item.name for item in repo.items()}
    if actor.has(Role.CASEWORKER):
        for case in repo.cases_for(actor, None):
            if case.department_id != actor.department_id:
                continue
            action = {CaseStatus.SUBMITTED: "svc.accept", CaseStatus.IN_REVIEW: "svc.decide"}.get(case.status)
            if action:
                due = _end_of_day(case.due_on) if case.due_on else None
                work.append(
                    WorkItem(
                        N_("home.work.case"),
                        names[case.item_id],
                        f"/services/cases/{case.number}",
                        action,
                        due,
                        case.number,
                    )
                )
    if actor.department_id is not None and actor.has(Role.CASEWORKER, Role.OFFICER):
        for task in repo.open_tasks_of(actor.department_id):
            asked = session.get(Case, task.case_id)
            assert asked is not None
            href = f"/services/cases/{asked.number}"
            work.append(
                WorkItem(
                    N_("home.work.co_handling"),
                    task.question[:80],
                    href,
                    "svc.answer",
                    _end_of_day(task.due_on),
                    asked.number,
                )
            )
    for item, material in pending_reviews(session, actor):
        title = f"{item.name} · {material.name}"
        work.append(
            WorkItem(
                N_("home.work.mapping"), title, f"/services/items/{item.code}", "svc.review", None, item.code
            )
        )
    return work


def figures(session: Session) -> dict[str, int]:
    return {"services.saved": ServicesRepository(session).totals()[1]}
