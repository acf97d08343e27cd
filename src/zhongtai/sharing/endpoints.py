"""Sharing REST API: item policies, applications and their steps, grants, records pages, file exports,
subscriptions, statistics.

Data access endpoints record one access-audit entry whatever the outcome: on success in the request's
own transaction (committed before the answer is sent, so an audit failure means no data); on refusal
after rolling the request back, in a transaction of its own, before the error is returned.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession, RowId
from zhongtai.sharing import reports, service
from zhongtai.sharing.access import audited
from zhongtai.sharing.models import ApplicationStatus
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.schemas import (
    ApplicationAction,
    ApplicationCreate,
    ApplicationRead,
    ApplicationUpdate,
    DeliveryRead,
    DepartmentStats,
    ExportCreate,
    ExportManifest,
    GrantRead,
    GrantRenew,
    GrantRevoke,
    ItemPolicyRead,
    ItemPolicyWrite,
    RecordsPage,
    Replay,
    Strict,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

router = APIRouter(prefix="/api/v1", tags=["sharing"])
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/resources/{code}/sharing-policy", response_model=list[ItemPolicyRead])
def item_policies(session: DbSession, principal: ApiPrincipal, code: str) -> list[ItemPolicyRead]:
    """Each information item's sensitivity level and masking rule (explicit or by its data element)."""
    resource = service.published_resource(SharingRepository(session), code)
    return list(service.effective_policies(session, resource).values())


@router.put("/resources/{code}/sharing-policy", response_model=ItemPolicyRead)
def set_item_policy(
    session: DbSession, principal: ApiPrincipal, code: str, body: ItemPolicyWrite
) -> ItemPolicyRead:
    """Set one item's sensitivity and masking (the providing department's officers)."""
    return service.set_policy(session, principal, code, body)


@router.post("/sharing/applications", response_model=ApplicationRead, status_code=201)
def apply(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, body: ApplicationCreate
) -> ApplicationRead:
    """Apply for items of a published resource, with purpose, basis, delivery mode and validity."""
    application = service.apply(session, settings, principal, body)
    return ApplicationRead.model_validate(service.application_view(session, principal, application, True))


@router.get("/sharing/applications", response_model=list[ApplicationRead])
def list_applications(
    session: DbSession,
    principal: ApiPrincipal,
    queue: Annotated[str | None, Query(pattern="^(applied|provider|bureau)$")] = None,
    status: ApplicationStatus | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[ApplicationRead]:
    """Applications the caller may see: ``queue=applied`` (mine), ``provider`` (for my data),
    ``bureau`` (awaiting the bureau's check)."""
    rows, _ = SharingRepository(session).applications(
        principal, status=status, role=queue, offset=offset, limit=limit
    )
    return [ApplicationRead.model_validate(service.application_view(session, principal, a)) for a in rows]


@router.get("/sharing/applications/{number}", response_model=ApplicationRead)
def get_application(session: DbSession, principal: ApiPrincipal, number: str) -> ApplicationRead:
    application = service.visible_application(session, principal, number)
    return ApplicationRead.model_validate(service.application_view(session, principal, application, True))


@router.patch("/sharing/applications/{number}", response_model=ApplicationRead)
def update_application(
    session: DbSession, principal: ApiPrincipal, number: str, body: ApplicationUpdate
) -> ApplicationRead:
    """Mend a returned application before resubmitting it."""
    application = service.update_application(session, principal, number, body)
    return ApplicationRead.model_validate(service.application_view(session, principal, application, True))


@router.post("/sharing/applications/{number}/actions", response_model=ApplicationRead)
def act(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, number: str, body: ApplicationAction
) -> ApplicationRead:
    """bureau_approve / bureau_reject / bureau_return, provider_approve / provider_reject /
    provider_return, resubmit / withdraw. Rejecting and returning need a comment."""
    application = service.act(session, settings, principal, number, body.action, body.comment)
    return ApplicationRead.model_validate(service.application_view(session, principal, application, True))


@router.get("/sharing/statistics", response_model=list[DepartmentStats])
def statistics(session: DbSession, principal: ApiPrincipal) -> list[DepartmentStats]:
    """Per department: applied, granted, rejected, open, overdue; received; time to decision."""
    rows = service.statistics(session)
    if not principal.sees_all_departments:
        rows = [r for r in rows if r["department"] == principal.department_code]
    return [DepartmentStats.model_validate(r) for r in rows]


@router.get("/sharing/grants", response_model=list[GrantRead])
def list_grants(
    session: DbSession, principal: ApiPrincipal, offset: Offset = 0, limit: Limit = 50
) -> list[GrantRead]:
    rows, _ = SharingRepository(session).grants(principal, offset, limit)
    return [GrantRead.model_validate(service.grant_view(session, g)) for g in rows]


@router.get("/sharing/grants/{grant_id}", response_model=GrantRead)
def get_grant(session: DbSession, principal: ApiPrincipal, grant_id: RowId) -> GrantRead:
    return GrantRead.model_validate(
        service.grant_view(session, service.visible_grant(session, principal, grant_id))
    )


@router.post("/sharing/grants/{grant_id}/revoke", response_model=GrantRead)
def revoke(session: DbSession, principal: ApiPrincipal, grant_id: RowId, body: GrantRevoke) -> GrantRead:
    """Stop the grant at once: records, exports and subscriptions refuse from now on."""
    return GrantRead.model_validate(
        service.grant_view(session, service.revoke(session, principal, grant_id, body.reason))
    )


@router.post("/sharing/grants/{grant_id}/renew", response_model=GrantRead)
def renew(session: DbSession, principal: ApiPrincipal, grant_id: RowId, body: GrantRenew) -> GrantRead:
    grant = service.renew(session, principal, grant_id, body.valid_until)
    return GrantRead.model_validate(service.grant_view(session, grant))


@router.get("/sharing/grants/{grant_id}/records", response_model=RecordsPage)
def records(
    session: DbSession, principal: ApiPrincipal, grant_id: RowId, offset: Offset = 0, limit: Limit = 100
) -> RecordsPage:
    """A page of the granted slice: the granted items only, masked unless granted unmasked."""
    return audited(
        session,
        principal,
        grant_id,
        "sharing.records.read",
        lambda: service.read_records(session, principal, grant_id, offset, limit),
    )


@router.post("/sharing/grants/{grant_id}/exports", response_model=ExportManifest, status_code=201)
def create_export(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, grant_id: RowId, body: ExportCreate
) -> ExportManifest:
    """Write the granted slice to a CSV or Parquet file; the manifest carries its SHA-256."""
    return audited(
        session,
        principal,
        grant_id,
        "sharing.export.created",
        lambda: service.export(session, settings, principal, grant_id, body.format),
    )


@router.get(
    "/sharing/exports/{export_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The export file",
        }
    },
)
def download_export(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, export_id: str
) -> FileResponse:
    path, manifest = audited(
        session,
        principal,
        None,
        "sharing.export.downloaded",
        lambda: service.export_file(session, settings, principal, export_id),
    )
    media = "text/csv" if manifest.format == "csv" else "application/vnd.apache.parquet"
    return FileResponse(
        path,
        media_type=media,
        filename=f"{manifest.resource}-{manifest.export_id[:8]}.{manifest.format}",
        headers={"X-Content-SHA256": manifest.sha256},
    )


@router.post("/sharing/grants/{grant_id}/subscriptions", response_model=SubscriptionCreated, status_code=201)
def subscribe(
    session: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    grant_id: RowId,
    body: SubscriptionCreate,
) -> SubscriptionCreated:
    """Push the granted slice's changes to the URL (Standard Webhooks). The secret is shown only now."""
    subscription, secret = service.subscribe(session, settings, principal, grant_id, body.url, body.schedule)
    return SubscriptionCreated.model_validate(
        {**service.subscription_view(session, subscription), "secret": secret}
    )


@router.get("/sharing/grants/{grant_id}/subscriptions", response_model=list[SubscriptionRead])
def list_subscriptions(
    session: DbSession, principal: ApiPrincipal, grant_id: RowId
) -> list[SubscriptionRead]:
    service.visible_grant(session, principal, grant_id)
    rows = SharingRepository(session).subscriptions_of(grant_id)
    return [SubscriptionRead.model_validate(service.subscription_view(session, s)) for s in rows]


@router.get("/sharing/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryRead])
def deliveries(session: DbSession, principal: ApiPrincipal, subscription_id: RowId) -> list[DeliveryRead]:
    """The latest delivery attempts, failed and dead-lettered ones included."""
    service.own_subscription(session, principal, subscription_id)
    rows = SharingRepository(session).deliveries(subscription_id)
    return [DeliveryRead.model_validate(d, from_attributes=True) for d in rows]


@router.post("/sharing/subscriptions/{subscription_id}/replay", response_model=SubscriptionRead)
def replay(
    session: DbSession, principal: ApiPrincipal, subscription_id: RowId, body: Replay
) -> SubscriptionRead:
    """Deliver again every event from ``since`` on, with their original event ids."""
    subscription = service.replay(session, principal, subscription_id, body.since)
    return SubscriptionRead.model_validate(service.subscription_view(session, subscription))


@router.delete("/sharing/subscriptions/{subscription_id}", response_model=SubscriptionRead)
def cancel(session: DbSession, principal: ApiPrincipal, subscription_id: RowId) -> SubscriptionRead:
    subscription = service.cancel(session, principal, subscription_id)
    return SubscriptionRead.model_validate(service.subscription_view(session, subscription))


class ReportCreate(BaseModel):
    model_config = Strict

    code: str = Field(min_length=2, max_length=48, description="e.g. healthcode-daily-province")
    name: str = Field(min_length=2, max_length=100)
    producer: str = Field(
        min_length=1, max_length=64, description="A registered producer, e.g. healthcode.daily"
    )
    department: str = Field(
        min_length=1, max_length=32, description="Whose figures they are (department code)"
    )
    receiver: str = Field(min_length=2, max_length=100, description="Who receives them")
    url: str = Field(min_length=8, max_length=500, description="The receiver's endpoint (on the allowlist)")
    hour: int = Field(8, ge=0, le=23, description="City time: the previous day's report is pushed after it")


class ReportDeliveryRead(BaseModel):
    period: date
    outcome: str
    attempts: int
    status_code: int | None
    error: str


class ReportRead(BaseModel):
    code: str
    name: str
    producer: str
    department: str
    receiver: str
    url: str
    hour: int
    active: bool
    delivered: int = Field(description="Periods delivered so far (向省报送 N 次)")
    recent: list[ReportDeliveryRead]
    secret: str | None = Field(None, description="The signing secret: shown once, at creation")


def _report_read(status: reports.ReportStatus, secret: str | None = None) -> ReportRead:
    r = status.report
    return ReportRead(
        code=r.code,
        name=r.name,
        producer=r.producer,
        department=r.department_code,
        receiver=r.receiver,
        url=r.url,
        hour=r.hour,
        active=r.active,
        delivered=status.delivered,
        recent=[
            ReportDeliveryRead(
                period=d.period,
                outcome=d.outcome,
                attempts=d.attempts,
                status_code=d.status_code,
                error=d.error,
            )
            for d in status.recent
        ],
        secret=secret,
    )


@router.get("/sharing/reports", response_model=list[ReportRead])
def list_reports(session: DbSession, principal: ApiPrincipal) -> list[ReportRead]:
    """Scheduled reports upstream (定期报送) with their deliveries counted."""
    return [_report_read(s) for s in reports.statuses(session, principal)]


@router.post("/sharing/reports", response_model=ReportRead, status_code=201)
def create_report(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, body: ReportCreate
) -> ReportRead:
    """Set up a scheduled report (operators); the answer carries the signing secret, once."""
    spec = reports.ReportSpec(
        body.code, body.name, body.producer, body.department, body.receiver, body.url, body.hour
    )
    report, secret = reports.create(session, settings, principal, spec)
    return _report_read(reports.ReportStatus(report, 0, 0, []), secret)
