"""Grants for one case (办件授权) alone: a service's case fetches the materials it needs from the providing
departments through a grant issued for that case — purpose the service, items what its materials need,
masked as the catalog sets them, read only by the responsible department within the case, and expiring
when the case closes (or at once, when the applicant withdraws consent).

A case's grant is never usable elsewhere: not by the records API, not by exports or subscriptions (see
``service.usable_grant``), not through the gateway (its grant snapshot leaves them out). Every read is an
access-audit entry naming the applicant as its subject, so it appears on their "who used my data" page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.catalog.models import ResourceStatus, SharingType
from zhongtai.core import audit
from zhongtai.core.errors import M_, Forbidden, Invalid, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.types import utcnow
from zhongtai.sharing import auth
from zhongtai.sharing.masking import Projection
from zhongtai.sharing.models import DeliveryMode, Grant, GrantStatus
from zhongtai.sharing.repository import SAFE_ITEM, SharingRepository
from zhongtai.sharing.schemas import ItemPolicyRead
from zhongtai.sharing.service import check_live, effective_policies, policies_of

MAX_ROWS = 20  # a material is a person's or an enterprise's own records: a handful, never a table


@dataclass(frozen=True, slots=True)
class CaseRead:
    """What one read under a case's grant returned: the projected rows and how each item was masked."""

    rows: list[dict[str, Any]]
    items: list[str]
    masking: dict[str, str]


def check_mapping(session: Session, resource_code: str, items: list[str], key_item: str) -> None:
    """Whether a material may be fetched from this resource: published, shareable, the items and the key
    among its items (refused at save, naming the problem)."""
    resource = SharingRepository(session).resource(resource_code)
    if resource is None:
        raise Invalid(M_("resource %(code)s does not exist", code=resource_code), field="resource")
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Invalid(
            M_(
                "resource %(code)s is %(status)s, not published",
                code=resource_code,
                status=resource.status.value,
            ),
            code="resource_not_published",
            field="resource",
        )
    if resource.sharing_type is SharingType.NOT_SHARED:
        raise Invalid(
            M_("resource %(code)s is not shared; the material must be uploaded", code=resource_code),
            code="not_shared",
            field="resource",
        )
    known = effective_policies(session, resource)
    unknown = [item for item in [*items, key_item] if item not in known]
    if unknown:
        raise Invalid(
            M_("resource %(code)s has no item %(items)s", code=resource_code, items="、".join(unknown)),
            code="unknown_item",
            field="items",
        )
    if not items:
        raise Invalid(M_("name at least one item the material needs"), field="items")
    if not SAFE_ITEM.fullmatch(key_item):
        raise Invalid(M_("%(item)s cannot be used to find records", item=key_item), field="key_item")


def prepare_key(session: Session, key_item: str) -> None:
    """Make the clean zone findable by this item (an index, once), before cases fetch by it."""
    SharingRepository(session).ensure_key_index(key_item)


def issue(
    session: Session,
    actor: Principal,
    *,
    case_ref: str,
    consumer_department_id: int,
    resource_code: str,
    items: list[str],
    purpose: str,
    expires_at: datetime,
) -> Grant:
    """A grant for ``case_ref`` alone (the applicant has consented): API reads by the responsible
    department, the catalog's masking, nothing unmasked."""
    repo = SharingRepository(session)
    resource = repo.resource(resource_code)
    if resource is None or resource.status is not ResourceStatus.PUBLISHED:
        raise Forbidden(
            M_("resource %(code)s is no longer published; the material must be uploaded", code=resource_code),
            code="resource_not_published",
        )
    grant = Grant(
        application_id=None,
        case_ref=case_ref,
        consumer_department_id=consumer_department_id,
        provider_department_id=resource.provider_department_id,
        resource_id=resource.id,
        items=list(items),
        unmasked_items=[],
        purpose=purpose[:500],
        mode=DeliveryMode.API,
        expires_at=expires_at,
        status=GrantStatus.ACTIVE,
        granted_at=utcnow(),
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.grant.issued",
        "grant",
        str(grant.id),
        {"case": case_ref, "resource": resource_code, "items": list(items), "purpose": purpose[:200]},
    )
    return grant


def read(
    session: Session,
    actor: Principal,
    *,
    grant_id: int,
    case_ref: str,
    key: tuple[str, str],
    subject: str,
    event: str,
) -> CaseRead:
    """The rows whose ``key`` item equals the key value, as the case's grant lets them out; one access
    entry with the applicant as subject. Refused (403) outside the case, after it closed, by anyone but
    the responsible department."""
    return read_many(
        session, actor, case_ref=case_ref, wanted=[(grant_id, key)], subject=subject, event=event
    )[grant_id]


def read_many(
    session: Session,
    actor: Principal,
    *,
    case_ref: str,
    wanted: list[tuple[int, tuple[str, str]]],
    subject: str,
    event: str,
) -> dict[int, CaseRead]:
    """Several reads of one case (grant id, key) at once: each grant checked, each resource's masking
    worked out once, one access entry per grant."""
    repo, now = SharingRepository(session), utcnow()
    grants = {grant.id: grant for grant in repo.grants_by_id([grant_id for grant_id, _ in wanted])}
    masking = policies_of(session, sorted({grant.resource_id for grant in grants.values()}))
    resources: dict[int, tuple[str, Projection]] = {}  # one masking per resource, however many reads
    found: dict[int, CaseRead] = {}
    for grant_id, key in wanted:
        grant = grants.get(grant_id)
        if grant is None or not auth.may_see_grant(actor, grant):
            raise NotFound(M_("grant %(grant_id)s not found", grant_id=grant_id))
        _check_use(actor, grant, case_ref, now)
        if grant.resource_id not in resources:
            resources[grant.resource_id] = _projection(grant, *masking[grant.resource_id])
        resource_code, project = resources[grant.resource_id]
        rows = [project(row) for row in repo.records_where(grant.resource_id, key[0], key[1], MAX_ROWS)]
        record(session, actor, grant, resource_code, event, subject, len(rows), project)
        found[grant_id] = CaseRead(rows, project.items, {i: rule.value for i, rule in project.rules.items()})
    return found


def _check_use(actor: Principal, grant: Grant, case_ref: str, now: datetime) -> None:
    if grant.case_ref != case_ref:
        raise Forbidden(
            M_("this grant does not belong to case %(case)s", case=case_ref), code="not_this_case"
        )
    if not auth.may_use_grant(actor, grant):
        raise Forbidden(
            M_("only the department handling the case reads under its grant"), code="not_your_grant"
        )
    check_live(grant, now)


def _projection(grant: Grant, code: str, policies: dict[str, ItemPolicyRead]) -> tuple[str, Projection]:
    items = [item for item in grant.items if item in policies]  # an item since removed never leaves
    return code, Projection(items, {k: p.masking for k, p in policies.items()}, grant.unmasked_items)


def record(
    session: Session,
    actor: Principal,
    grant: Grant,
    resource_code: str,
    event: str,
    subject: str,
    count: int,
    project: Projection,
) -> None:
    audit.record_access(
        session,
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        department_code=actor.department_code,
        event_type=event,
        resource_code=resource_code,
        items=project.items,
        record_count=count,
        purpose=grant.purpose,
        grant_id=grant.id,
        target_type="case",
        target_id=grant.case_ref,
        subject=subject,
    )


def preview(session: Session, resource_code: str, items: list[str], key: tuple[str, str]) -> CaseRead:
    """What a case's grant on this resource would let out for this key — for the applicant's own preview
    before consenting (the caller records the access: it is the person reading their own data)."""
    repo = SharingRepository(session)
    resource = repo.resource(resource_code)
    if resource is None:
        return CaseRead([], [], {})
    policies = effective_policies(session, resource)
    shown = [item for item in items if item in policies]
    project = Projection(shown, {k: p.masking for k, p in policies.items()}, [])
    rows = [project(row) for row in repo.records_where(resource.id, key[0], key[1], MAX_ROWS)]
    return CaseRead(rows, project.items, {item: rule.value for item, rule in project.rules.items()})


def close(session: Session, actor: Principal, case_ref: str, reason: str) -> int:
    """End every live grant of the case now (closed, withdrawn); returns how many were ended."""
    now = utcnow()
    ended = 0
    for grant in SharingRepository(session).case_grants(case_ref):
        if grant.status is GrantStatus.ACTIVE and grant.expires_at > now:
            grant.expires_at = now
            ended += 1
            audit.record(
                session,
                actor,
                "sharing.grant.ended",
                "grant",
                str(grant.id),
                {"case": case_ref, "reason": reason},
            )
    session.flush()
    return ended
