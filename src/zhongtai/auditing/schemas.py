"""Shapes of the audit trail's search interface."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zhongtai.core.types import IsoDateTime


class AuditFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    chain: str | None = Field(None, pattern="^(admin|access)$")
    event_type: str | None = Field(None, max_length=64, description="Prefix, e.g. sharing.")
    actor: str | None = Field(None, max_length=64)
    department: str | None = Field(None, max_length=32)
    resource: str | None = Field(None, max_length=32)
    grant_id: int | None = Field(None, ge=1, le=2**63 - 1)
    outcome: str | None = Field(None, max_length=16)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    occurred_at: datetime
    actor_username: str
    department_code: str | None
    event_type: str
    target_type: str
    target_id: str
    outcome: str
    app: str | None
    purpose: str | None
    grant_id: int | None
    resource_code: str | None
    items: list[str] | None
    record_count: int | None
    changes: dict[str, Any]
    request_id: str | None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int
    offset: int
    limit: int


EXPORT_COLUMNS = list(AuditEntryRead.model_fields)
