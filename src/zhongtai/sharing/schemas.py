"""Pydantic shapes for sharing and exchange, by purpose."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zhongtai.sharing.masking import Masking, Sensitivity
from zhongtai.sharing.models import ApplicationStatus, DeliveryMode, GrantStatus

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
MAX_ITEMS = 200


def _distinct(items: list[str]) -> list[str]:
    if len(set(items)) != len(items):
        raise ValueError("an item is named twice")
    return items


class ApplicationCreate(BaseModel):
    model_config = Strict

    resource: str = Field(min_length=1, max_length=32, description="Catalog code of a published resource")
    items: list[str] = Field(min_length=1, max_length=MAX_ITEMS, description="Information items needed")
    unmasked_items: list[str] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Items needed unmasked (justify in basis)"
    )
    purpose: str = Field(min_length=2, max_length=500, description="用途: what the data is used for")
    basis: str = Field(min_length=2, max_length=5000, description="Legal or business basis")
    mode: DeliveryMode
    valid_until: date

    _items = field_validator("items", "unmasked_items")(_distinct)


class ApplicationUpdate(BaseModel):
    """Changes an applicant makes to a returned application before resubmitting it."""

    model_config = Strict

    items: list[str] | None = Field(None, min_length=1, max_length=MAX_ITEMS)
    unmasked_items: list[str] | None = Field(None, max_length=MAX_ITEMS)
    purpose: str | None = Field(None, min_length=2, max_length=500)
    basis: str | None = Field(None, min_length=2, max_length=5000)
    mode: DeliveryMode | None = None
    valid_until: date | None = None

    _items = field_validator("items", "unmasked_items")(lambda v: v if v is None else _distinct(v))


class ApplicationAction(BaseModel):
    model_config = Strict

    action: str = Field(min_length=1, max_length=24)
    comment: str = Field("", max_length=2000)


class StepRead(BaseModel):
    action: str
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    actor_username: str
    actor_department: str | None
    comment: str
    occurred_at: datetime


class ApplicationRead(BaseModel):
    number: str
    resource: str
    resource_name: str
    consumer: str
    provider: str
    sharing_type: str
    items: list[str]
    unmasked_items: list[str]
    purpose: str
    basis: str
    mode: DeliveryMode
    valid_until: date
    status: ApplicationStatus
    applicant: str
    created_at: datetime
    step_due_at: datetime | None
    overdue: bool
    escalated_at: datetime | None
    decided_at: datetime | None
    refusal_reason: str
    grant_id: int | None
    actions: list[str]
    steps: list[StepRead] = []


class GrantRead(BaseModel):
    id: int
    application: str
    consumer: str
    provider: str
    resource: str
    items: list[str]
    unmasked_items: list[str]
    purpose: str
    mode: DeliveryMode
    expires_at: datetime
    status: GrantStatus
    live: bool
    granted_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str
    renewals: int


class GrantRevoke(BaseModel):
    model_config = Strict

    reason: str = Field(min_length=2, max_length=2000)


class GrantRenew(BaseModel):
    model_config = Strict

    valid_until: date


class ItemPolicyRead(BaseModel):
    item: str
    sensitivity: Sensitivity
    masking: Masking
    explicit: bool


class ItemPolicyWrite(BaseModel):
    model_config = Strict

    item: str = Field(min_length=1, max_length=100)
    sensitivity: Sensitivity
    masking: Masking


class RecordsPage(BaseModel):
    grant_id: int
    resource: str
    items: list[str]
    masking: dict[str, Masking]
    total: int
    offset: int
    limit: int
    records: list[dict[str, Any]]


class ExportCreate(BaseModel):
    model_config = Strict

    format: str = Field("csv", pattern="^(csv|parquet)$")


class ExportManifest(BaseModel):
    export_id: str
    grant_id: int
    resource: str
    consumer: str
    purpose: str
    items: list[str]
    masking: dict[str, Masking]
    format: str
    rows: int
    sha256: str
    bytes: int
    created_at: datetime
    expires_at: datetime


class SubscriptionCreate(BaseModel):
    model_config = Strict

    url: str = Field(min_length=8, max_length=500)
    schedule: str | None = Field(
        None,
        max_length=64,
        description="Cron (city time) to deliver in batches, e.g. '0 2 * * *' for daily reporting upstream; "
        "unset = as changes happen",
    )


class SubscriptionRead(BaseModel):
    id: int
    grant_id: int
    url: str
    active: bool
    cursor: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    schedule: str | None
    created_at: datetime
    backlog: int


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="The Standard Webhooks signing secret; shown only now")


class Replay(BaseModel):
    model_config = Strict

    since: datetime


class DeliveryRead(BaseModel):
    event_id: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str
    occurred_at: datetime


class DepartmentStats(BaseModel):
    department: str
    applied: int
    granted: int
    rejected: int
    open: int
    overdue: int
    received: int
    received_granted: int
    received_rejected: int
    median_hours_to_decision: float | None
    refusal_reasons: list[str]
