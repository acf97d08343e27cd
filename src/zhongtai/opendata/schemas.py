"""Open data's REST shapes (staff side): opening a resource by its release rules, and the applications
for conditionally open datasets. The public reads datasets through CKAN's Action API instead."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DatasetPublish(BaseModel):
    resource: str = Field(min_length=1, max_length=64, description="The catalog resource's code")
    rules: dict[str, str] = Field(
        max_length=200,
        description="item -> keep | drop | month | year | district, or count | count:month | count:year | "
        "count:district for an aggregated release (counts by those items, small cells suppressed); an item "
        "no rule names is dropped",
    )
    license_id: str = Field("cc-by-4.0", max_length=32)
    tags: list[str] | None = Field(None, max_length=30)


class DatasetRead(BaseModel):
    name: str
    title: str
    resource: str
    access: str = Field(description="open | conditional")
    rules: dict[str, str]
    license_id: str
    tags: list[str]
    version: int | None = Field(description="The current release (None: no governed rows yet)")
    rows: int | None
    changed: bool = Field(description="Whether this call released a new version")
    url: str


class ApplicationDecision(BaseModel):
    approve: bool
    reason: str = Field("", max_length=2000, description="Required to refuse")
    daily_quota: int = Field(1000, ge=1, le=1_000_000, description="Calls a day the applicant's key may make")
    term_days: int = Field(365, ge=1, le=1095, description="Days the approval lasts")


class ApplicationRevoke(BaseModel):
    reason: str = Field(min_length=2, max_length=2000)


class ApplicationRead(BaseModel):
    number: str
    dataset: str
    dataset_title: str
    applicant_kind: str
    applicant_name: str
    purpose: str
    status: str = Field(description="submitted | approved | refused | revoked | withdrawn")
    reason: str
    daily_quota: int
    calls_today: int
    submitted_at: datetime
    due_at: datetime
    overdue: bool
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    key_prefix: str | None = Field(description="The start of the live API key, if one was made")
