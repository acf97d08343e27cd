"""Business rules of sharing: applications through their lifecycle, grants, item policies, and data
leaving the platform (records pages, file exports, subscriptions) only within a live grant.

Services flush, never commit; the request or job owns the transaction. Every data access is recorded
in the audit trail's access chain in the same transaction as the read.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource, ResourceStatus, SharingType
from zhongtai.core import audit, outbox
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.principal import Principal, platform_actor
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, aware, utcnow
from zhongtai.core.work import WorkItem
from zhongtai.governance.models import DataElement
from zhongtai.ingest.schedule import next_due
from zhongtai.sharing import auth
from zhongtai.sharing.lifecycle import (
    BUREAU_APPROVED,
    TRANSITIONS,
    Actor,
    actions_from,
    due_at,
)
from zhongtai.sharing.masking import Projection, default_policy
from zhongtai.sharing.models import (
    Application,
    ApplicationStatus,
    ApplicationStep,
    DeliveryMode,
    Grant,
    GrantStatus,
    ItemPolicy,
    Subscription,
)
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.schemas import (
    ApplicationCreate,
    ApplicationUpdate,
    ExportManifest,
    ItemPolicyRead,
    ItemPolicyWrite,
    RecordsPage,
)
from zhongtai.sharing.webhooks import Allowlist, new_secret

MAX_YEARS = 3  # a grant lasts at most this long before it must be renewed
MAX_PAGE = 500
EXPORT_HOURS = 24  # an export file may be downloaded for a day
# The delivery mode each application mode needs among the resource's sharing modes.
MODE_NEEDS = {DeliveryMode.API: "api", DeliveryMode.FILE: "file", DeliveryMode.SUBSCRIPTION: "table_sync"}
SYSTEM_USER = "system"


def offered_modes(resource: Resource) -> list[DeliveryMode]:
    """The delivery modes a consumer may apply for: those whose sharing mode the resource supports."""
    return [mode for mode, needs in MODE_NEEDS.items() if needs in resource.sharing_modes]


# Item policies --------------------------------------------------------------------------------------
def effective_policies(session: Session, resource: Resource) -> dict[str, ItemPolicyRead]:
    """Each item's sensitivity and masking: the provider's setting, else the default by data element."""
    items = [(i.name, i.data_element, i.sensitive) for i in resource.items]
    explicit = SharingRepository(session).policies(resource.id)
    kinds = _element_kinds(session, [element for _, element, _ in items if element])
    return _policies(items, explicit, kinds)


def policies_of(
    session: Session, resource_ids: list[int]
) -> dict[int, tuple[str, dict[str, ItemPolicyRead]]]:
    """Several resources' codes and :func:`effective_policies`, read as plain rows in three queries (no
    resource objects, no relationship loading): for reads that need only the masking."""
    repo = SharingRepository(session)
    rows = repo.resources_items(resource_ids)
    explicit = repo.policies_of(resource_ids)
    kinds = _element_kinds(session, sorted({e for _, items in rows.values() for _, e, _ in items if e}))
    return {
        rid: (code, _policies(items, explicit.get(rid, {}), kinds)) for rid, (code, items) in rows.items()
    }


def _policies(
    items: list[tuple[str, str | None, bool]], explicit: dict[str, ItemPolicy], kinds: dict[str, str]
) -> dict[str, ItemPolicyRead]:
    found: dict[str, ItemPolicyRead] = {}
    for name, element, sensitive in items:
        if name in explicit:
            policy = explicit[name]
            found[name] = ItemPolicyRead(
                item=name, sensitivity=policy.sensitivity, masking=policy.masking, explicit=True
            )
            continue
        level, rule = default_policy(sensitive, kinds.get(element or ""))
        found[name] = ItemPolicyRead(item=name, sensitivity=level, masking=rule, explicit=False)
    return found


def identifying_items(session: Session, resource: Resource) -> dict[str, str]:
    """The items that name a person or an enterprise (item -> ``id_number`` / ``credit_code``, by their
    data elements): whose data a row is, for the audit trail's subject."""
    kinds = _element_kinds(session, [i.data_element for i in resource.items if i.data_element])
    found = {i.name: kinds.get(i.data_element or "", "") for i in resource.items}
    return {name: kind for name, kind in found.items() if kind in ("id_number", "credit_code")}


def _element_kinds(session: Session, codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    query = (
        select(DataElement.code, DataElement.kind)
        .where(DataElement.code.in_(codes))
        .order_by(DataElement.version)
    )
    return {row[0]: row[1] for row in session.execute(query)}  # the latest version wins


def set_policy(session: Session, actor: Principal, code: str, data: ItemPolicyWrite) -> ItemPolicyRead:
    repo = SharingRepository(session)
    resource = published_resource(repo, code)
    if not auth.may_set_policy(actor, resource.provider_department_id):
        raise Forbidden(
            M_("only the providing department's officers set its items' masking"), code="not_your_department"
        )
    if data.item not in {i.name for i in resource.items}:
        raise Invalid(
            M_("resource %(code)s has no information item %(item)r", code=code, item=data.item), field="item"
        )
    policy = repo.policies(resource.id).get(data.item)
    before = {"sensitivity": policy.sensitivity, "masking": policy.masking} if policy else {}
    if policy is None:
        policy = ItemPolicy(resource_id=resource.id, item=data.item)
        session.add(policy)
    policy.sensitivity, policy.masking = data.sensitivity, data.masking
    policy.updated_by, policy.updated_at = actor.username, utcnow()
    session.flush()
    after = {"sensitivity": data.sensitivity.value, "masking": data.masking.value}
    audit.record(session, actor, "sharing.policy.set", "resource", code, {data.item: [before, after]})
    return ItemPolicyRead(item=data.item, sensitivity=data.sensitivity, masking=data.masking, explicit=True)


def published_resource(repo: SharingRepository, code: str) -> Resource:
    resource = repo.resource(code)
    if resource is None or resource.status is not ResourceStatus.PUBLISHED:
        raise NotFound(M_("no published resource %(code)s", code=code), field="resource")
    return resource


# Applications ---------------------------------------------------------------------------------------
def apply(session: Session, settings: Settings, actor: Principal, data: ApplicationCreate) -> Application:
    if not auth.may_apply(actor):
        raise Forbidden(
            M_("applying needs the officer or consumer role in a department"), code="missing_role"
        )
    repo = SharingRepository(session)
    resource = published_resource(repo, data.resource)
    _check_shareable(resource, actor)
    _check_request(resource, data.items, data.unmasked_items, data.mode, data.valid_until)
    now = utcnow()
    application = Application(
        number=repo.next_application_number(now.astimezone(CITY_ZONE).year),
        consumer_department_id=actor.department_id,
        resource_id=resource.id,
        provider_department_id=resource.provider_department_id,
        items=data.items,
        unmasked_items=data.unmasked_items,
        purpose=data.purpose,
        basis=data.basis,
        mode=data.mode,
        valid_until=data.valid_until,
        status=ApplicationStatus.BUREAU_REVIEW,
        applicant_user_id=actor.user_id,
        applicant_username=actor.username,
        created_at=now,
        step_started_at=now,
        step_due_at=due_at(ApplicationStatus.BUREAU_REVIEW, now, step_days(settings)),
    )
    session.add(application)
    session.flush()
    _step(session, application, actor, "submit", None, ApplicationStatus.BUREAU_REVIEW, "")
    audit.record(
        session,
        actor,
        "sharing.application.submitted",
        "application",
        application.number,
        _summary(application),
    )
    if settings.sharing_auto_check and resource.sharing_type is SharingType.UNCONDITIONAL:
        _move(
            session,
            settings,
            application,
            resource,
            _automatic_bureau(),
            TRANSITIONS["bureau_approve"],
            "自动合规审核 automatic check",
        )
    return application


def step_days(settings: Settings) -> dict[ApplicationStatus, int]:
    """Working days each review step may take (local rules: the bureau 2, the provider 5)."""
    return {
        ApplicationStatus.BUREAU_REVIEW: settings.sharing_bureau_days,
        ApplicationStatus.PROVIDER_REVIEW: settings.sharing_provider_days,
    }


def _automatic_bureau() -> Principal:
    return platform_actor(SYSTEM_USER, "automatic compliance check")


def _check_shareable(resource: Resource, actor: Principal) -> None:
    if resource.sharing_type is SharingType.NOT_SHARED:
        raise Forbidden(
            M_(
                "resource %(code)s is not shared (不予共享); basis: %(value)s",
                code=resource.code,
                value=resource.sharing_basis or "—",
            ),
            code="not_shared",
        )
    if resource.provider_department_id == actor.department_id:
        raise Invalid(M_("your department provides this resource; it needs no application"), field="resource")


def _check_request(
    resource: Resource, items: list[str], unmasked: list[str], mode: DeliveryMode, valid_until: date
) -> None:
    names = {item.name for item in resource.items}
    unknown = [item for item in items if item not in names]
    if unknown:
        raise Invalid(
            M_(
                "resource %(code)s has no information item(s): %(items)s",
                code=resource.code,
                items=", ".join(unknown),
            ),
            field="items",
        )
    stray = [item for item in unmasked if item not in items]
    if stray:
        raise Invalid(
            M_("unmasked items must be among the items applied for: %(items)s", items=", ".join(stray)),
            field="unmasked_items",
        )
    if MODE_NEEDS[mode] not in resource.sharing_modes:
        offered = ", ".join(resource.sharing_modes) or "none"
        raise Invalid(
            M_(
                "resource %(code)s is not shared by %(mode)s (offered: %(offered)s)",
                code=resource.code,
                mode=mode.value,
                offered=offered,
            ),
            field="mode",
        )
    today = utcnow().astimezone(CITY_ZONE).date()
    if valid_until <= today:
        raise Invalid(M_("the validity period must end after today"), field="valid_until")
    if valid_until > today + timedelta(days=366 * MAX_YEARS):
        raise Invalid(
            M_("a grant lasts at most %(max_years)s years; apply again to renew", max_years=MAX_YEARS),
            field="valid_until",
        )


def update_application(
    session: Session, actor: Principal, number: str, data: ApplicationUpdate
) -> Application:
    """The applicant mends a returned application (then resubmits it)."""
    repo = SharingRepository(session)
    application = visible_application(session, actor, number)
    auth.check_act(actor, application, Actor.APPLICANT)
    if application.status is not ApplicationStatus.RETURNED:
        raise Conflict(M_("only a returned application can be changed"), code="not_returned")
    changes = data.model_dump(exclude_unset=True)
    resource = repo.resource_by_id(application.resource_id)
    before = _summary(application)
    for name, value in changes.items():
        setattr(application, name, value)
    _check_request(
        resource, application.items, application.unmasked_items, application.mode, application.valid_until
    )
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.application.updated",
        "application",
        number,
        audit.diff(before, _summary(application)),
    )
    return application


def visible_application(session: Session, actor: Principal, number: str) -> Application:
    application = SharingRepository(session).application(number)
    if application is None or not auth.may_see_application(actor, application):
        raise NotFound(M_("application %(number)s not found", number=number))
    return application


def act(
    session: Session, settings: Settings, actor: Principal, number: str, action: str, comment: str = ""
) -> Application:
    application = visible_application(session, actor, number)
    transition = TRANSITIONS.get(action)
    if transition is None:
        allowed = ", ".join(t.action for t in actions_from(application.status)) or "none"
        raise Invalid(
            M_("unknown action %(action)r; allowed now: %(allowed)s", action=action, allowed=allowed),
            field="action",
        )
    auth.check_act(actor, application, transition.actor)
    if application.status not in transition.sources:
        raise Conflict(
            M_(
                "cannot %(action)s an application that is %(status)s",
                action=action,
                status=application.status.value,
            ),
            code="invalid_transition",
        )
    if transition.needs_comment and not comment.strip():
        raise Invalid(M_("%(action)s needs a reason", action=action), field="comment")
    resource = SharingRepository(session).resource_by_id(application.resource_id)
    if action == "resubmit" or transition.target is ApplicationStatus.GRANTED:
        _check_still_shareable(resource)
    _move(session, settings, application, resource, actor, transition, comment)
    return application


def _check_still_shareable(resource: Resource) -> None:
    if resource.status is not ResourceStatus.PUBLISHED or resource.sharing_type is SharingType.NOT_SHARED:
        raise Conflict(
            M_("resource %(code)s is no longer published for sharing", code=resource.code), code="not_shared"
        )


def _move(
    session: Session,
    settings: Settings,
    application: Application,
    resource: Resource,
    actor: Principal,
    transition: Any,
    comment: str,
) -> None:
    target = transition.target
    if transition.action == "bureau_approve":
        target = BUREAU_APPROVED[resource.sharing_type.value]
    now = utcnow()
    before = application.status
    application.status = target
    application.step_started_at = now
    application.step_due_at = due_at(target, now, step_days(settings))
    application.escalated_at = None
    if target in (ApplicationStatus.GRANTED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN):
        application.decided_at = now
    if target is ApplicationStatus.REJECTED:
        application.refusal_reason = comment
    _step(session, application, actor, transition.action, before, target, comment)
    audit.record(
        session,
        actor,
        f"sharing.application.{transition.action}",
        "application",
        application.number,
        {"status": [before.value, target.value], "comment": comment},
    )
    if target is ApplicationStatus.GRANTED:
        _grant(session, application, actor)


def _step(
    session: Session,
    application: Application,
    actor: Principal,
    action: str,
    before: ApplicationStatus | None,
    after: ApplicationStatus,
    comment: str,
) -> None:
    session.add(
        ApplicationStep(
            application_id=application.id,
            action=action,
            from_status=before,
            to_status=after,
            actor_username=actor.username,
            actor_department=actor.department_code,
            comment=comment,
            occurred_at=utcnow(),
        )
    )
    session.flush()


def _summary(application: Application) -> dict[str, Any]:
    return {
        "resource_id": application.resource_id,
        "items": list(application.items),
        "unmasked_items": list(application.unmasked_items),
        "purpose": application.purpose,
        "mode": application.mode.value,
        "valid_until": application.valid_until.isoformat(),
    }


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CITY_ZONE).astimezone(UTC)


def _grant(session: Session, application: Application, actor: Principal) -> Grant:
    grant = Grant(
        application_id=application.id,
        consumer_department_id=application.consumer_department_id,
        provider_department_id=application.provider_department_id,
        resource_id=application.resource_id,
        items=list(application.items),
        unmasked_items=list(application.unmasked_items),
        purpose=application.purpose,
        mode=application.mode,
        expires_at=_end_of(application.valid_until),
        status=GrantStatus.ACTIVE,
        granted_at=utcnow(),
    )
    session.add(grant)
    session.flush()
    audit.record(session, actor, "sharing.grant.issued", "grant", str(grant.id), _summary(application))
    return grant


def escalate_overdue(session: Session, now: datetime) -> list[str]:
    """Mark applications whose step is past its deadline and record the escalation to the bureau."""
    numbers = []
    for application in SharingRepository(session).overdue(now):
        application.escalated_at = now
        audit.record(
            session,
            None,
            "sharing.application.escalated",
            "application",
            application.number,
            {
                "status": application.status.value,
                "due": application.step_due_at.isoformat() if application.step_due_at else None,
            },
        )
        numbers.append(application.number)
    session.flush()
    return numbers


# Grants -----------------------------------------------------------------------------------------
def visible_grant(session: Session, actor: Principal, grant_id: int) -> Grant:
    grant = SharingRepository(session).grant(grant_id)
    if grant is None or not auth.may_see_grant(actor, grant):
        raise NotFound(M_("grant %(grant_id)s not found", grant_id=grant_id))
    return grant


def _managed_grant(session: Session, actor: Principal, grant_id: int, verb: str) -> Grant:
    """A live-or-expired, not revoked grant the caller may manage (the provider or the bureau)."""
    grant = visible_grant(session, actor, grant_id)
    if not auth.may_manage_grant(actor, grant):
        raise Forbidden(
            M_("only the providing department or the bureau %(verb)s a grant", verb=verb),
            code="not_your_grant",
        )
    if grant.status is GrantStatus.REVOKED:
        raise Conflict(M_("the grant is revoked; the consumer applies again"), code="revoked")
    return grant


def revoke(session: Session, actor: Principal, grant_id: int, reason: str) -> Grant:
    grant = _managed_grant(session, actor, grant_id, "revokes")
    grant.status, grant.revoked_at, grant.revoked_by, grant.revoke_reason = (
        GrantStatus.REVOKED,
        utcnow(),
        actor.username,
        reason,
    )
    session.flush()
    audit.record(session, actor, "sharing.grant.revoked", "grant", str(grant.id), {"reason": reason})
    return grant


def renew(session: Session, actor: Principal, grant_id: int, valid_until: date) -> Grant:
    grant = _managed_grant(session, actor, grant_id, "renews")
    expires = _end_of(valid_until)
    if expires <= max(grant.expires_at, utcnow()):
        raise Invalid(M_("a renewal must end after the grant's current expiry"), field="valid_until")
    if expires > utcnow() + timedelta(days=366 * MAX_YEARS):
        raise Invalid(
            M_("a grant lasts at most %(max_years)s years", max_years=MAX_YEARS), field="valid_until"
        )
    before = grant.expires_at.isoformat()
    grant.expires_at, grant.renewals = expires, grant.renewals + 1
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.grant.renewed",
        "grant",
        str(grant.id),
        {"expires_at": [before, expires.isoformat()]},
    )
    return grant


def usable_grant(
    session: Session, actor: Principal, grant_id: int, mode: DeliveryMode | None = None
) -> Grant:
    """The grant, if the caller's department receives under it and it is live now."""
    grant = visible_grant(session, actor, grant_id)
    if not auth.may_use_grant(actor, grant):
        raise Forbidden(
            M_("only the consumer department receives data under its grant"), code="not_your_grant"
        )
    if grant.case_ref is not None:
        raise Forbidden(
            M_(
                "grant %(grant_id)s was issued for case %(case)s and is read only within it",
                grant_id=grant.id,
                case=grant.case_ref,
            ),
            code="case_grant",
        )
    check_live(grant, utcnow())
    if mode is not None and grant.mode is not mode:
        raise Forbidden(
            M_("this grant delivers by %(mode)s, not %(mode2)s", mode=grant.mode.value, mode2=mode.value),
            code="wrong_mode",
        )
    return grant


def live_grant_on(session: Session, actor: Principal, resource_name: str, provider: str) -> Grant | None:
    """The caller's department's live grant on the named resource of ``provider`` that the caller may use
    (for an application of another domain that reads under a grant), or None."""
    grant = SharingRepository(session).live_grant_on(
        actor.department_id or 0, resource_name, provider, utcnow()
    )
    return grant if grant is not None and auth.may_use_grant(actor, grant) else None


def check_live(grant: Grant, now: datetime) -> None:
    if grant.status is GrantStatus.REVOKED:
        raise Forbidden(M_("the grant was revoked"), code="grant_revoked")
    if grant.expires_at <= now:
        raise Forbidden(M_("the grant has expired"), code="grant_expired")


def projection(session: Session, grant: Grant) -> Projection:
    resource = SharingRepository(session).resource_by_id(grant.resource_id)
    policies = effective_policies(session, resource)
    items = [item for item in grant.items if item in policies]  # an item since removed never leaves
    return Projection(items, {k: p.masking for k, p in policies.items()}, grant.unmasked_items)


def read_records(session: Session, actor: Principal, grant_id: int, offset: int, limit: int) -> RecordsPage:
    """A page of the granted slice (API delivery), recorded in the access log."""
    if limit > MAX_PAGE:
        raise Invalid(M_("limit is at most %(max_page)s", max_page=MAX_PAGE), field="limit")
    grant = usable_grant(session, actor, grant_id, DeliveryMode.API)
    project = projection(session, grant)
    rows, total = SharingRepository(session).records_page(grant.resource_id, offset, limit)
    records = [project(row) for row in rows]
    resource = SharingRepository(session).resource_by_id(grant.resource_id)
    record_grant_access(
        session, actor, grant, resource.code, project.items, len(records), "sharing.records.read"
    )
    return RecordsPage(
        grant_id=grant.id,
        resource=resource.code,
        items=project.items,
        masking=dict(project.rules),
        total=total,
        offset=offset,
        limit=limit,
        records=records,
    )


def record_grant_access(
    session: Session,
    actor: Principal,
    grant: Grant,
    resource_code: str,
    items: list[str],
    count: int,
    event: str,
    detail: dict[str, Any] | None = None,
    outcome: str = "success",
    target: tuple[str, str] | None = None,
    subject: str | None = None,
) -> None:
    """One access-audit entry for data leaving (or refused) under ``grant``: purpose and grant from it;
    ``subject`` names whose data it was, when one person's or enterprise's row left."""
    target_type, target_id = target or ("grant", str(grant.id))
    audit.record_access(
        session,
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        department_code=actor.department_code,
        event_type=event,
        resource_code=resource_code,
        items=items,
        record_count=count,
        purpose=grant.purpose,
        grant_id=grant.id,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        subject=subject,
    )


def record_denied(session: Session, actor: Principal, grant_id: int | None, event: str, reason: str) -> None:
    """A refused access is an access too: one entry, outcome ``denied``, no data."""
    grant = SharingRepository(session).grant(grant_id) if grant_id else None
    resource = SharingRepository(session).resource_by_id(grant.resource_id).code if grant else "-"
    audit.record_access(
        session,
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        department_code=actor.department_code,
        event_type=event,
        resource_code=resource,
        items=[],
        record_count=0,
        purpose=grant.purpose if grant else "-",
        grant_id=grant.id if grant else None,
        target_id=str(grant_id) if grant_id else "-",
        outcome="denied",
        detail={"reason": reason[:200]},
    )


# File exports ----------------------------------------------------------------------------------
def export(session: Session, settings: Settings, actor: Principal, grant_id: int, fmt: str) -> ExportManifest:
    """Write the granted slice to a CSV or Parquet file with a manifest and checksum."""
    grant = usable_grant(session, actor, grant_id, DeliveryMode.FILE)
    repo = SharingRepository(session)
    project = projection(session, grant)
    resource = repo.resource_by_id(grant.resource_id)
    export_id = uuid.uuid4().hex
    folder = _export_dir(settings) / export_id
    folder.mkdir(parents=True)
    path = folder / f"data.{fmt}"
    rows = _write_export(
        path, fmt, project.items, (project(row) for page in repo.stream_records(resource.id) for row in page)
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    now = utcnow()
    manifest = ExportManifest(
        export_id=export_id,
        grant_id=grant.id,
        resource=resource.code,
        consumer=actor.department_code or "",
        purpose=grant.purpose,
        items=project.items,
        masking=dict(project.rules),
        format=fmt,
        rows=rows,
        sha256=digest,
        bytes=path.stat().st_size,
        created_at=now,
        expires_at=min(now + timedelta(hours=EXPORT_HOURS), grant.expires_at),
    )
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    record_grant_access(
        session,
        actor,
        grant,
        resource.code,
        project.items,
        rows,
        "sharing.export.created",
        {"export": export_id, "sha256": digest},
    )
    return manifest


def _export_dir(settings: Settings) -> Path:
    return (settings.data_dir / "exports").resolve()


def _write_export(path: Path, fmt: str, items: list[str], rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:  # the BOM lets Excel read Chinese
            writer = csv.DictWriter(handle, fieldnames=items)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
        return count
    schema = pa.schema([(item, pa.string()) for item in items])
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append({k: None if v is None else str(v) for k, v in row.items()})
            if len(batch) == 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count, batch = count + len(batch), []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def export_file(
    session: Session, settings: Settings, actor: Principal, export_id: str
) -> tuple[Path, ExportManifest]:
    """The export's file, for the consumer department while its grant is live and the export fresh."""
    if not export_id.isalnum() or len(export_id) != 32:
        raise NotFound(M_("export not found"))
    folder = _export_dir(settings) / export_id
    try:
        manifest = ExportManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotFound(M_("export not found")) from exc
    grant = usable_grant(session, actor, manifest.grant_id, DeliveryMode.FILE)
    if manifest.expires_at <= utcnow():
        raise Forbidden(M_("the export has expired; create a new one"), code="export_expired")
    record_grant_access(
        session,
        actor,
        grant,
        manifest.resource,
        manifest.items,
        manifest.rows,
        "sharing.export.downloaded",
        {"export": export_id},
    )
    return folder / f"data.{manifest.format}", manifest


# Subscriptions ---------------------------------------------------------------------------------
def subscribe(
    session: Session,
    settings: Settings,
    actor: Principal,
    grant_id: int,
    url: str,
    schedule: str | None = None,
) -> tuple[Subscription, str]:
    """A subscription to the grant's changes from now on; returns it with its secret (shown once)."""
    grant = usable_grant(session, actor, grant_id, DeliveryMode.SUBSCRIPTION)
    Allowlist(settings.webhook_allowed_hosts).check_url(url)
    first_slot = next_due(schedule, utcnow()) if schedule else None
    if schedule and first_slot is None:
        raise Invalid(
            M_("schedule %(schedule)r never comes due within a month", schedule=schedule), field="schedule"
        )
    outbox.feed(session, grant.resource_id)
    secret = new_secret()
    subscription = Subscription(
        grant_id=grant.id,
        url=url,
        secret_sealed=SecretBox(settings).seal(secret),
        active=True,
        cursor=outbox.last_event_id(session),
        relayed=outbox.last_event_id(session),
        schedule=schedule,
        next_attempt_at=first_slot,
        created_by=actor.username,
        created_at=utcnow(),
    )
    session.add(subscription)
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.subscription.created",
        "grant",
        str(grant.id),
        {"subscription": subscription.id, "url": url},
    )
    return subscription, secret


def own_subscription(session: Session, actor: Principal, subscription_id: int) -> Subscription:
    subscription = SharingRepository(session).subscription(subscription_id)
    if subscription is None:
        raise NotFound(M_("subscription %(subscription_id)s not found", subscription_id=subscription_id))
    grant = visible_grant(session, actor, subscription.grant_id)
    if not (auth.may_use_grant(actor, grant) or actor.sees_all_departments):
        raise NotFound(M_("subscription %(subscription_id)s not found", subscription_id=subscription_id))
    return subscription


def replay(session: Session, actor: Principal, subscription_id: int, since: datetime) -> Subscription:
    """Deliver again every event of the granted resource from ``since`` on (same event ids)."""
    subscription = own_subscription(session, actor, subscription_id)
    grant = usable_grant(session, actor, subscription.grant_id, DeliveryMode.SUBSCRIPTION)
    before = subscription.cursor
    subscription.cursor = SharingRepository(session).event_before(grant.resource_id, aware(since))
    subscription.relayed = subscription.cursor  # with JetStream, the events are published again
    subscription.attempts, subscription.next_attempt_at, subscription.last_error = 0, None, ""
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.subscription.replayed",
        "subscription",
        str(subscription.id),
        {"cursor": [before, subscription.cursor], "since": since.isoformat()},
    )
    return subscription


def cancel(session: Session, actor: Principal, subscription_id: int) -> Subscription:
    subscription = own_subscription(session, actor, subscription_id)
    grant = visible_grant(session, actor, subscription.grant_id)
    if not auth.may_use_grant(actor, grant):
        raise Forbidden(M_("only the consumer department cancels its subscription"), code="not_your_grant")
    subscription.active = False
    session.flush()
    audit.record(session, actor, "sharing.subscription.cancelled", "subscription", str(subscription.id))
    return subscription


OPEN_STEPS = (ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.PROVIDER_REVIEW, ApplicationStatus.RETURNED)


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Applications waiting for the actor's decision (or, returned, for the actor's changes), by deadline."""
    repo = SharingRepository(session)
    work = []
    for status in OPEN_STEPS:
        rows, _ = repo.applications(actor, status=status, limit=50)
        for application in rows:
            view = application_view(session, actor, application)
            if view["actions"]:
                work.append(
                    WorkItem(
                        N_("home.work.application"),
                        view["resource_name"],
                        f"/sharing/applications/{application.number}",
                        N_("home.do.decide")
                        if status is not ApplicationStatus.RETURNED
                        else N_("home.do.revise"),
                        due=application.step_due_at,
                        reference=application.number,
                    )
                )
    return work


def figures(session: Session) -> dict[str, int]:
    counts = SharingRepository(session).count_by_status()
    return {
        "sharing.applications": sum(counts.values()),
        "sharing.granted": counts.get(ApplicationStatus.GRANTED, 0),
    }


def statistics(session: Session) -> list[dict[str, Any]]:
    """Per department: applied, granted, rejected, open, overdue; received as provider; time to decision."""
    repo = SharingRepository(session)
    codes = repo.department_codes()
    now = utcnow()
    rows: dict[int, dict[str, Any]] = {}

    def row(department_id: int) -> dict[str, Any]:
        return rows.setdefault(
            department_id,
            {
                "department": codes.get(department_id, "?"),
                "applied": 0,
                "granted": 0,
                "rejected": 0,
                "open": 0,
                "overdue": 0,
                "received": 0,
                "received_granted": 0,
                "received_rejected": 0,
                "hours": [],
                "refusal_reasons": [],
            },
        )

    for application in repo.all_applications():
        mine, theirs = row(application.consumer_department_id), row(application.provider_department_id)
        mine["applied"] += 1
        theirs["received"] += 1
        status = application.status
        if status is ApplicationStatus.GRANTED:
            mine["granted"] += 1
            theirs["received_granted"] += 1
        elif status is ApplicationStatus.REJECTED:
            mine["rejected"] += 1
            theirs["received_rejected"] += 1
            theirs["refusal_reasons"].append(application.refusal_reason[:200])
        elif status in (
            ApplicationStatus.BUREAU_REVIEW,
            ApplicationStatus.PROVIDER_REVIEW,
            ApplicationStatus.RETURNED,
        ):
            mine["open"] += 1
            if application.step_due_at and application.step_due_at < now:
                mine["overdue"] += 1
        if application.decided_at and status is not ApplicationStatus.WITHDRAWN:
            theirs["hours"].append((application.decided_at - application.created_at).total_seconds() / 3600)
    result = []
    for values in sorted(rows.values(), key=lambda r: r["department"]):
        hours = sorted(values.pop("hours"))
        values["median_hours_to_decision"] = round(hours[len(hours) // 2], 1) if hours else None
        result.append(values)
    return result


def application_view(
    session: Session, actor: Principal, application: Application, with_steps: bool = False
) -> dict[str, Any]:
    """The application as its reader sees it, with the actions open to that reader."""
    repo = SharingRepository(session)
    resource = repo.resource_by_id(application.resource_id)
    grant = repo.grant_of(application.id)
    actions = [
        t.action for t in actions_from(application.status) if auth.may_act(actor, application, t.actor)
    ]
    if actor.user_id is not None and actor.user_id == application.applicant_user_id:
        actions = [a for a in actions if TRANSITIONS[a].actor is Actor.APPLICANT]
    view: dict[str, Any] = {
        "number": application.number,
        "resource": resource.code,
        "resource_name": resource.name,
        "consumer": repo.department_code(application.consumer_department_id),
        "provider": repo.department_code(application.provider_department_id),
        "sharing_type": resource.sharing_type.value,
        "items": application.items,
        "unmasked_items": application.unmasked_items,
        "purpose": application.purpose,
        "basis": application.basis,
        "mode": application.mode,
        "valid_until": application.valid_until,
        "status": application.status,
        "applicant": application.applicant_username,
        "created_at": application.created_at,
        "step_due_at": application.step_due_at,
        "overdue": bool(
            application.step_due_at
            and application.step_due_at < utcnow()
            and application.status in (ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.PROVIDER_REVIEW)
        ),
        "escalated_at": application.escalated_at,
        "decided_at": application.decided_at,
        "refusal_reason": application.refusal_reason,
        "grant_id": grant.id if grant else None,
        "actions": actions,
    }
    if with_steps:
        view["steps"] = [
            {
                "action": s.action,
                "from_status": s.from_status,
                "to_status": s.to_status,
                "actor_username": s.actor_username,
                "actor_department": s.actor_department,
                "comment": s.comment,
                "occurred_at": s.occurred_at,
            }
            for s in repo.steps(application.id)
        ]
    return view


def grant_view(session: Session, grant: Grant) -> dict[str, Any]:
    repo = SharingRepository(session)
    application = session.get(Application, grant.application_id) if grant.application_id else None
    return {
        "id": grant.id,
        "application": application.number if application else (grant.case_ref or "?"),
        "case": grant.case_ref,
        "consumer": repo.department_code(grant.consumer_department_id),
        "provider": repo.department_code(grant.provider_department_id),
        "resource": repo.resource_by_id(grant.resource_id).code,
        "items": grant.items,
        "unmasked_items": grant.unmasked_items,
        "purpose": grant.purpose,
        "mode": grant.mode,
        "expires_at": grant.expires_at,
        "status": grant.status,
        "live": grant.live(utcnow()),
        "granted_at": grant.granted_at,
        "revoked_at": grant.revoked_at,
        "revoked_by": grant.revoked_by,
        "revoke_reason": grant.revoke_reason,
        "renewals": grant.renewals,
    }


def subscription_view(session: Session, subscription: Subscription) -> dict[str, Any]:
    grant = SharingRepository(session).grant(subscription.grant_id)
    assert grant is not None
    return {
        "id": subscription.id,
        "grant_id": subscription.grant_id,
        "url": subscription.url,
        "active": subscription.active,
        "cursor": subscription.cursor,
        "attempts": subscription.attempts,
        "next_attempt_at": subscription.next_attempt_at,
        "last_error": subscription.last_error,
        "schedule": subscription.schedule,
        "created_at": subscription.created_at,
        "backlog": SharingRepository(session).backlog(grant.resource_id, subscription.cursor),
    }


def purge_outbox(session: Session, cutoff: datetime) -> int:
    """Drop change events older than ``cutoff`` that every active subscription of their resource has
    passed: they hold copies of personal data and are kept only as long as replay needs them."""
    repo = SharingRepository(session)
    removed = 0
    for resource_id in repo.fed_resources():
        cursors = [s.cursor for s in repo.subscriptions_of_resource(resource_id) if s.active]
        removed += repo.drop_events(resource_id, cutoff, min(cursors) if cursors else None)
    if removed:
        audit.record(
            session,
            None,
            "sharing.outbox.purged",
            "outbox",
            "-",
            {"removed": removed, "before": cutoff.isoformat()},
        )
    return removed
