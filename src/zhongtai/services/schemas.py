"""Service items, materials, cases and the ledger as they go in and out (by purpose)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from zhongtai.services.models import (
    ApplicantKind,
    CaseStatus,
    KeyFrom,
    MaterialOutcome,
    MaterialSource,
    Review,
    TaskStatus,
)

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")]
Position = Annotated[int, Path(ge=1, le=40, description="A material's position in its service item")]


class MaterialWrite(BaseModel):
    model_config = Strict

    name: Text200
    source: MaterialSource
    resource: str | None = Field(default=None, max_length=64)
    items: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=40
    )
    key_item: str | None = Field(default=None, max_length=100)
    key_from: KeyFrom | None = None
    field_label: str | None = Field(default=None, max_length=100)
    none_is_answer: bool = False
    licence_type: str | None = Field(default=None, max_length=50)
    capability: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _complete(self) -> MaterialWrite:
        if self.source is MaterialSource.DATA:
            if not self.resource or not self.key_item or not self.key_from:
                raise ValueError("a data material names its resource, items, key_item and key_from")
            if self.key_from is KeyFrom.FIELD and not self.field_label:
                raise ValueError("a key typed on the form needs a field_label")
        if self.source is MaterialSource.LICENCE and not self.licence_type:
            raise ValueError("a licence material names its licence_type")
        return self


class ItemWrite(BaseModel):
    """A service item as its department saves it (all of it: materials replace the old list)."""

    model_config = Strict

    code: Code
    name: Text200
    department: str = Field(max_length=32)
    applicant_kind: ApplicantKind
    legal_basis: Annotated[str, StringConstraints(min_length=2, max_length=2000)]
    time_limit_days: int = Field(ge=1, le=365)
    co_departments: list[str] = Field(default_factory=list, max_length=20)
    trips: int = Field(default=1, ge=0, le=10)
    description: str = Field(default="", max_length=2000)
    active: bool = True
    materials: list[MaterialWrite] = Field(min_length=1, max_length=40)


class MaterialRead(BaseModel):
    id: int
    position: int
    name: str
    source: MaterialSource
    resource: str | None
    provider: str | None
    items: list[str]
    key_item: str | None
    key_from: KeyFrom | None
    field_label: str | None
    none_is_answer: bool
    licence_type: str | None
    capability: str | None
    review: Review
    review_comment: str


class ItemRead(BaseModel):
    code: str
    name: str
    department: str
    applicant_kind: ApplicantKind
    legal_basis: str
    time_limit_days: int
    co_departments: list[str]
    trips: int
    description: str
    active: bool
    updated_by: str
    updated_at: datetime
    materials: list[MaterialRead]


class ReviewWrite(BaseModel):
    model_config = Strict

    decision: Review
    comment: str = Field(default="", max_length=1000)


class CaseMaterialRead(BaseModel):
    material: str
    source: MaterialSource
    outcome: MaterialOutcome
    provider: str | None
    records: int
    fallback_reason: str
    file_name: str | None


class TaskRead(BaseModel):
    id: int
    department: str
    question: str
    due_on: date
    status: TaskStatus
    answer: str
    agrees: bool | None


class CaseRead(BaseModel):
    number: str
    service: str
    department: str
    applicant: str  # masked
    status: CaseStatus
    submitted_at: datetime | None
    due_on: date | None
    decided_at: datetime | None
    decision_reason: str
    materials: list[CaseMaterialRead]
    tasks: list[TaskRead]


class TaskCreate(BaseModel):
    model_config = Strict

    department: str = Field(max_length=32)
    question: Annotated[str, StringConstraints(min_length=2, max_length=2000)]
    days: int = Field(default=3, ge=1, le=30)


class TaskAnswer(BaseModel):
    model_config = Strict

    agrees: bool
    answer: Annotated[str, StringConstraints(min_length=2, max_length=2000)]


class Decision(BaseModel):
    model_config = Strict

    action: Annotated[str, StringConstraints(pattern="^(approve|return|refuse)$")]
    reason: str = Field(default="", max_length=2000)


class LedgerRow(BaseModel):
    key: str  # service code, department code or ISO day
    name: str
    cases: int
    submissions: int
    checks: int
    trips: int


class Ledger(BaseModel):
    cases: int
    submissions: int
    checks: int
    trips: int
    reference_submissions: int
    by_service: list[LedgerRow]
    by_department: list[LedgerRow]
    by_day: list[LedgerRow]
