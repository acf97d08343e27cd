"""Catalog rules: registration, edits, the lifecycle and version history. Services flush, never commit."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.catalog import codes
from zhongtai.catalog.auth import may_edit, may_register_for, may_take
from zhongtai.catalog.lifecycle import TRANSITIONS
from zhongtai.catalog.models import (
    InformationItem,
    Resource,
    ResourceStatus,
    ResourceTransition,
    ResourceVersion,
    SharingMode,
    SharingType,
)
from zhongtai.catalog.repository import CatalogRepository
from zhongtai.catalog.schemas import (
    ItemIn,
    ItemRead,
    ResourceCreate,
    ResourceRead,
    ResourceSummary,
    ResourceUpdate,
    TransitionRead,
)
from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.types import utcnow
from zhongtai.core.work import WorkItem
from zhongtai.orgs.models import Department, InformationSystem
from zhongtai.orgs.repository import OrgRepository


def summary(resource: Resource) -> ResourceSummary:
    return ResourceSummary(
        code=resource.code,
        name=resource.name,
        classification=resource.classification_code,
        category=resource.category,
        provider=resource.provider.code,
        provider_name=resource.provider.name,
        format=resource.format,
        sharing_type=resource.sharing_type,
        open_type=resource.open_type,
        update_cycle=resource.update_cycle,
        status=resource.status,
        version=resource.version,
        publish_date=resource.publish_date,
        item_count=len(resource.items),
        updated_at=resource.updated_at,
    )


def read(resource: Resource) -> ResourceRead:
    return ResourceRead(
        **summary(resource).model_dump(),
        abstract=resource.abstract,
        sharing_conditions=resource.sharing_conditions,
        sharing_basis=resource.sharing_basis,
        sharing_modes=list(resource.sharing_modes),
        open_conditions=resource.open_conditions,
        source_system=resource.source_system.code if resource.source_system else None,
        related_codes=list(resource.related_codes),
        items=[
            ItemRead(
                name=i.name,
                data_type=i.data_type,
                length=i.length,
                data_element=i.data_element,
                sensitive=i.sensitive,
            )
            for i in resource.items
        ],
        created_at=resource.created_at,
    )


def search_text(resource: Resource) -> str:
    parts = [resource.code, resource.name, resource.abstract, *(i.name for i in resource.items)]
    return "\n".join(parts).lower()


def item_rows(items: list[ItemIn]) -> list[InformationItem]:
    return [
        InformationItem(
            position=index,
            name=item.name,
            data_type=item.data_type,
            length=item.length,
            data_element=item.data_element,
            sensitive=item.sensitive,
        )
        for index, item in enumerate(items)
    ]


def check_sharing_rules(resource: Resource) -> None:
    """Sharing is the rule: refusing to share must cite a law or policy; conditions must be stated."""
    if resource.sharing_type is SharingType.NOT_SHARED and not resource.sharing_basis.strip():
        raise Invalid(
            M_("a 'not shared' entry must cite its legal or policy basis"),
            field="sharing_basis",
            code="basis_required",
        )
    if resource.sharing_type is SharingType.CONDITIONAL and not resource.sharing_conditions.strip():
        raise Invalid(
            M_("a 'conditional' entry must state its sharing conditions"),
            field="sharing_conditions",
            code="conditions_required",
        )
    if resource.sharing_type is not SharingType.NOT_SHARED and not resource.sharing_modes:
        raise Invalid(M_("choose at least one sharing mode"), field="sharing_modes", code="modes_required")


def _resolve_source_system(
    session: Session, code: str | None, provider: Department
) -> InformationSystem | None:
    if not code:
        return None
    system = OrgRepository(session).system_by_code(code)
    if system is None:
        raise Invalid(
            M_("unknown information system %(code)r", code=code), field="source_system", code="unknown_system"
        )
    if system.department_id != provider.id:
        raise Invalid(
            M_("system %(code)r belongs to another department", code=code),
            field="source_system",
            code="foreign_system",
        )
    return system


def _check_related(session: Session, own_code: str | None, related: list[str]) -> list[str]:
    unique = list(dict.fromkeys(related))
    if own_code in unique:
        raise Invalid(M_("a resource cannot be related to itself"), field="related_codes")
    missing = set(unique) - CatalogRepository(session).existing_codes(unique)
    if missing:
        raise Invalid(
            M_("unknown related resource codes: %(items)s", items=", ".join(sorted(missing))),
            field="related_codes",
            code="unknown_resource",
        )
    return unique


def require_provider(session: Session, code: str) -> Department:
    department = OrgRepository(session).department_by_code(code)
    if department is None:
        raise Invalid(
            M_("unknown department code %(code)r", code=code), field="provider", code="unknown_department"
        )
    return department


def require_classification(session: Session, code: str) -> str:
    if not codes.is_classification_code(code) or CatalogRepository(session).classification(code) is None:
        raise Invalid(
            M_("unknown classification code %(code)r", code=code),
            field="classification",
            code="unknown_classification",
        )
    return code


def _record_transition(
    session: Session,
    actor: Principal,
    resource: Resource,
    action: str,
    source: ResourceStatus | None,
    comment: str = "",
) -> None:
    session.add(
        ResourceTransition(
            resource_id=resource.id,
            action=action,
            from_status=source,
            to_status=resource.status,
            actor_user_id=actor.user_id,
            actor_username=actor.username,
            comment=comment,
            occurred_at=utcnow(),
        )
    )


def _snapshot_version(session: Session, actor: Principal, resource: Resource) -> None:
    resource.version += 1
    session.flush()
    snapshot = read(resource).model_dump(mode="json", exclude={"updated_at", "created_at"})
    session.add(
        ResourceVersion(
            resource_id=resource.id,
            version=resource.version,
            snapshot=snapshot,
            actor_username=actor.username,
            created_at=utcnow(),
        )
    )


def create_resource(session: Session, actor: Principal, data: ResourceCreate) -> Resource:
    provider = require_provider(session, data.provider or actor.department_code or "")
    if not may_register_for(actor, provider.id):
        raise Forbidden(
            M_("you may register resources only for your own department"), code="not_your_department"
        )
    classification = require_classification(session, data.classification)
    sequence = CatalogRepository(session).next_sequence(classification)
    if sequence > codes.MAX_SEQUENCE:
        raise Conflict(
            M_(
                "classification %(classification)s has no free sequence numbers left",
                classification=classification,
            )
        )
    resource = build_resource(
        session, data.model_dump(exclude={"classification", "provider", "items"}), provider
    )
    resource.code = codes.format_resource_code(classification, sequence)
    resource.classification_code = classification
    resource.sequence = sequence
    resource.category = codes.category_of(classification)
    resource.status = ResourceStatus.DRAFT
    resource.items = item_rows(data.items)
    resource.related_codes = _check_related(session, None, data.related_codes)
    finish_new(session, actor, resource, "create")
    return resource


def build_resource(session: Session, fields: dict[str, Any], provider: Department) -> Resource:
    system = _resolve_source_system(session, fields.pop("source_system", None), provider)
    fields.pop("related_codes", None)
    resource = Resource(
        **fields, provider_department_id=provider.id, source_system_id=system.id if system else None
    )
    resource.provider = provider
    resource.source_system = system
    resource.sharing_modes = [SharingMode(m).value for m in resource.sharing_modes]
    return resource


PAST_TENSE = {"create": "created", "import": "imported"}


def finish_new(session: Session, actor: Principal, resource: Resource, action: str) -> None:
    check_sharing_rules(resource)
    now = utcnow()
    resource.created_at = resource.updated_at = now
    resource.search_text = search_text(resource)
    session.add(resource)
    session.flush()
    _record_transition(session, actor, resource, action, None)
    if resource.status is ResourceStatus.PUBLISHED:
        _snapshot_version(session, actor, resource)
    audit.record(
        session,
        actor,
        f"catalog.resource.{PAST_TENSE[action]}",
        "resource",
        resource.code,
        {"name": resource.name, "provider": resource.provider.code, "status": resource.status.value},
    )


def get_visible(session: Session, actor: Principal, code: str) -> Resource:
    resource = CatalogRepository(session).visible(actor, code)
    if resource is None:
        raise NotFound(M_("no resource %(code)r", code=code), code="resource_not_found")
    return resource


def editable_resource(session: Session, actor: Principal, code: str) -> Resource:
    """The resource if the caller may change it now: 404 if unseen, 403 if not theirs, 409 if retired."""
    resource = _editable(session, actor, code)
    if resource.status is ResourceStatus.RETIRED:
        raise Conflict(M_("a retired resource cannot be changed"), code="retired")
    return resource


def _editable(session: Session, actor: Principal, code: str) -> Resource:
    repo = CatalogRepository(session)
    resource = repo.editable(actor, code)
    if resource is None:
        get_visible(session, actor, code)  # 404 when the caller may not even see it
        raise Forbidden(M_("you may change only your own department's resources"), code="not_your_department")
    return resource


def _comparable(resource: Resource) -> dict[str, Any]:
    return read(resource).model_dump(mode="json", exclude={"updated_at", "created_at", "version"})


def update_resource(session: Session, actor: Principal, code: str, data: ResourceUpdate) -> Resource:
    resource = editable_resource(session, actor, code)
    before = _comparable(resource)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in {"source_system", "publish_date"}:
            raise Invalid(M_("%(key)s cannot be empty", key=key), field=key)
    if "items" in changes:
        # Delete the old rows first: the flush would otherwise insert before deleting and trip the
        # unique (resource, item name) constraint when names are kept.
        resource.items.clear()
        session.flush()
        resource.items.extend(item_rows(data.items or []))
    if "source_system" in changes:
        system = _resolve_source_system(session, changes["source_system"], resource.provider)
        resource.source_system_id = system.id if system else None
        resource.source_system = system
    if "related_codes" in changes:
        resource.related_codes = _check_related(session, resource.code, changes["related_codes"])
    if "sharing_modes" in changes:
        resource.sharing_modes = [m.value for m in data.sharing_modes or []]
    for key in changes.keys() - {"items", "source_system", "related_codes", "sharing_modes"}:
        setattr(resource, key, getattr(data, key))
    check_sharing_rules(resource)
    session.flush()
    after = _comparable(resource)
    changed = audit.diff(before, after)
    if not changed:
        return resource
    resource.search_text = search_text(resource)
    resource.updated_at = utcnow()
    if resource.status is ResourceStatus.PUBLISHED:
        _snapshot_version(session, actor, resource)
    session.flush()
    audit.record(session, actor, "catalog.resource.updated", "resource", code, changed)
    return resource


def transition(session: Session, actor: Principal, code: str, action: str, comment: str = "") -> Resource:
    step = TRANSITIONS.get(action)
    if step is None:
        raise Invalid(M_("unknown action %(action)r", action=action), field="action")
    resource = get_visible(session, actor, code)
    if not may_take(actor, step, resource):
        raise Forbidden(
            M_("you may not %(action)s this resource", action=action), code="transition_forbidden"
        )
    if resource.status not in step.sources:
        raise Conflict(
            M_(
                "cannot %(action)s a resource that is %(status)s; %(action)s applies to: %(items)s",
                action=action,
                status=resource.status.value,
                items=", ".join(sorted(s.value for s in step.sources)),
            ),
            code="invalid_transition",
        )
    if step.needs_comment and not comment.strip():
        raise Invalid(
            M_("%(action)s needs a comment giving the reason", action=action),
            field="comment",
            code="comment_required",
        )
    source = resource.status
    resource.status = step.target
    resource.updated_at = utcnow()
    if step.target is ResourceStatus.PUBLISHED:
        resource.publish_date = resource.publish_date or date.today()
        _snapshot_version(session, actor, resource)
    session.flush()
    _record_transition(session, actor, resource, action, source, comment)
    audit.record(
        session,
        actor,
        f"catalog.resource.{action}",
        "resource",
        code,
        {"status": [source.value, step.target.value], "comment": comment},
    )
    return resource


def history(session: Session, actor: Principal, code: str) -> list[TransitionRead]:
    return transitions_of(session, get_visible(session, actor, code))


def transitions_of(session: Session, resource: Resource) -> list[TransitionRead]:
    """Lifecycle steps of a resource the caller was already allowed to see."""
    return [
        TransitionRead(
            action=t.action,
            from_status=t.from_status,
            to_status=t.to_status,
            actor=t.actor_username,
            comment=t.comment,
            occurred_at=t.occurred_at,
        )
        for t in CatalogRepository(session).transitions(resource.id)
    ]


def allowed_actions(actor: Principal, resource: Resource) -> list[str]:
    return [
        t.action
        for t in TRANSITIONS.values()
        if resource.status in t.sources and may_take(actor, t, resource)
    ]


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Entries waiting for the actor: review for the bureau's reviewers, drafts to submit for officers."""
    repo = CatalogRepository(session)
    work = []
    if actor.is_platform_reviewer:
        work += [
            WorkItem(
                N_("home.work.review"), r.name, f"/catalog/{r.code}", N_("home.do.review"), reference=r.code
            )
            for r in repo.with_status(ResourceStatus.UNDER_REVIEW)
        ]
    if actor.has(Role.OFFICER) and actor.department_id is not None:
        work += [
            WorkItem(
                N_("home.work.draft"), r.name, f"/catalog/{r.code}", N_("home.do.submit"), reference=r.code
            )
            for r in repo.with_status(ResourceStatus.DRAFT, actor.department_id)
        ]
    return work


def figures(session: Session) -> dict[str, int]:
    counts = CatalogRepository(session).count_by_status()
    return {"catalog.published": counts.get(ResourceStatus.PUBLISHED, 0), "catalog.all": sum(counts.values())}


def own_resources(session: Session, actor: Principal) -> list[ResourceSummary]:
    """What the caller's department provides and may change (operators: every resource), for forms."""
    return [summary(resource) for resource in CatalogRepository(session).editable_list(actor)]


def can_edit(actor: Principal, resource: Resource) -> bool:
    return may_edit(actor, resource) and resource.status is not ResourceStatus.RETIRED
