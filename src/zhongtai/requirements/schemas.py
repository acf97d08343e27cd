"""Pydantic shapes for business requirements, by purpose."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zhongtai.requirements.models import RequirementKind, RequirementStatus

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RequirementCreate(BaseModel):
    model_config = Strict

    kind: RequirementKind
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=2, max_length=10_000)
    due_date: date


class Links(BaseModel):
    model_config = Strict

    resources: list[str] = Field(default_factory=list, max_length=50, description="Catalog codes")
    applications: list[str] = Field(
        default_factory=list, max_length=50, description="Sharing application numbers"
    )
    capabilities: list[str] = Field(default_factory=list, max_length=50, description="Capability codes")


class RequirementAction(BaseModel):
    model_config = Strict

    action: str = Field(pattern=r"^(assign|reject|start|deliver|reopen|confirm)$")
    assignee: str | None = Field(None, max_length=32, description="assign: the delivering department's code")
    reason: str = Field("", max_length=2000)
    links: Links | None = None


class RequirementRead(BaseModel):
    number: str
    department: str
    kind: RequirementKind
    title: str
    description: str
    due_date: date
    status: RequirementStatus
    open: bool = Field(description="Still to be delivered or rejected")
    overdue: bool
    assignee: str | None
    links: dict[str, list[str]]
    steps: list[dict[str, Any]]
    filed_by: str
    filed_at: datetime
    delivered_at: datetime | None
    days_to_delivery: float | None


class RequirementStats(BaseModel):
    department: str
    filed: int
    open: int
    overdue: int
    delivered: int
    rejected: int
    median_days_to_delivery: float | None
