"""Pydantic shapes for governance, by purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhongtai.governance.elements import KINDS
from zhongtai.governance.models import BaseKind, PassStatus, ProblemStatus
from zhongtai.governance.rules import RuleSpec

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _known_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind; one of: {', '.join(KINDS)}")
    return kind


ElementKind = Annotated[str, AfterValidator(_known_kind)]


class ElementRead(BaseModel):
    code: str
    version: int
    name: str
    name_en: str
    kind: str
    standard: str
    description: str
    created_by: str
    created_at: datetime


class ElementWrite(BaseModel):
    """A new data element, or a new version of an existing code (old versions stay)."""

    model_config = Strict

    code: str = Field(pattern=r"^DE\d{5}$")
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    kind: ElementKind
    standard: str = Field("", max_length=100)
    description: str = Field("", max_length=2000)


class StandardizeRequest(BaseModel):
    model_config = Strict

    values: list[Annotated[str, Field(max_length=10_000)]] = Field(min_length=1, max_length=1000)


class StandardizedValue(BaseModel):
    value: str
    canonical: str | None
    reason: str | None


class RuleSetWrite(BaseModel):
    model_config = Strict

    rules: list[RuleSpec] = Field(max_length=200)
    auto_apply: bool = Field(
        True, description="Govern every new ingestion batch of the resource automatically."
    )
    comment: str = Field("", max_length=2000)


class RuleSetRead(BaseModel):
    resource: str
    version: int
    rules: list[dict[str, Any]]
    auto_apply: bool
    comment: str
    created_by: str
    created_at: datetime | None


class PassRead(BaseModel):
    id: int
    resource: str
    run_id: int | None
    rule_version: int | None
    elements: dict[str, int]
    trigger: str
    requested_by: str
    status: PassStatus
    raw_rows: int
    clean_rows: int
    rejected_rows: int
    changed_values: int
    fused_records: int
    conflicts_opened: int
    linked_rows: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None


class PassQueued(BaseModel):
    resource: str
    queued: bool
    message: str


class GovernanceRejectRead(BaseModel):
    source_key: str
    item: str | None
    rule_id: str
    rule_version: int
    reason: str
    value: str | None


class GovernanceRejectPage(BaseModel):
    items: list[GovernanceRejectRead]
    total: int
    offset: int
    limit: int


class CleanRecordRead(BaseModel):
    source_key: str
    batch_id: int
    pass_id: int
    rule_version: int
    data: dict[str, Any]
    changes: dict[str, Any] | None


class CleanPage(BaseModel):
    items: list[CleanRecordRead]
    total: int
    offset: int
    limit: int


class BaseSourceWrite(BaseModel):
    model_config = Strict

    base: BaseKind
    resource: str = Field(max_length=32)
    key_item: str = Field(min_length=1, max_length=100)
    attributes: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=100)]] = Field(
        max_length=50
    )
    constants: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    priority: int = Field(5, ge=1, le=99, description="1 is the most trusted source")
    priorities: dict[Annotated[str, Field(max_length=64)], Annotated[int, Field(ge=1, le=99)]] = Field(
        default_factory=dict, max_length=50, description="Per-attribute priority overrides (一数一源)"
    )
    enabled: bool = True


class BaseSourceRead(BaseModel):
    id: int
    base: BaseKind
    resource: str
    resource_name: str
    department: str
    key_item: str
    attributes: dict[str, str]
    constants: dict[str, str]
    priority: int
    priorities: dict[str, int]
    enabled: bool
    withdrawing: bool = Field(
        False, description="switched off just now: its claims are being withdrawn (queued)"
    )


class ClaimRead(BaseModel):
    source: int
    department: str
    resource: str
    data: dict[str, Any]
    batch_id: int
    observed_at: datetime


class ConflictRead(BaseModel):
    id: int
    base: BaseKind
    key: str
    attribute: str
    claims: list[dict[str, Any]]
    open: bool
    opened_at: datetime
    resolved_at: datetime | None


class ConflictPage(BaseModel):
    items: list[ConflictRead]
    total: int
    offset: int
    limit: int


class HistoryRead(BaseModel):
    version: int
    data: dict[str, Any]
    provenance: dict[str, Any]
    valid_from: datetime
    valid_to: datetime


class BaseRecordRead(BaseModel):
    base: BaseKind
    key: str
    data: dict[str, Any]
    provenance: dict[str, Any]
    version: int | None = None
    valid_from: datetime | None = None


class LinkRead(BaseModel):
    """A row with a broken key that probabilistic matching attributes to this record."""

    department: str
    resource: str
    source_key: str
    written_key: str
    probability: float
    pass_id: int


class BaseRecordDetail(BaseRecordRead):
    claims: list[ClaimRead]
    links: list[LinkRead]
    conflicts: list[ConflictRead]
    history: list[HistoryRead]


class QualityRead(BaseModel):
    resource: str
    resource_name: str
    department: str
    measured_at: datetime
    rows: int
    completeness: float
    validity: float
    uniqueness: float | None
    consistency: float | None
    timeliness: float
    score: float
    details: dict[str, Any]


class DepartmentQuality(BaseModel):
    department: str
    department_name: str
    resources: int
    score: float


class QualityOverview(BaseModel):
    departments: list[DepartmentQuality]
    resources: list[QualityRead]


class ProblemEventRead(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor: str
    comment: str
    occurred_at: datetime


class ProblemRead(BaseModel):
    id: int
    resource: str
    resource_name: str
    department: str
    dimension: str
    subject: str
    description: str
    affected: int
    status: ProblemStatus
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    actions: list[str]
    events: list[ProblemEventRead] | None = None


class ProblemPage(BaseModel):
    items: list[ProblemRead]
    total: int
    offset: int
    limit: int


class ProblemStep(BaseModel):
    model_config = Strict

    action: Literal["assign", "fix"]
    assignee: str | None = Field(
        None, max_length=64, description="For assign: who in the department handles it"
    )
    comment: str = Field("", max_length=2000)
