"""Pydantic shapes for the catalog, by purpose: Create, Update (all optional), Read, Filter, Transfer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zhongtai.catalog.models import (
    Category,
    DataType,
    OpenType,
    ResourceFormat,
    ResourceStatus,
    SharingMode,
    SharingType,
    UpdateCycle,
)

MAX_ITEMS = 500
MAX_RELATED = 50
MAX_QUERY = 200

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemIn(BaseModel):
    model_config = Strict

    name: str = Field(min_length=1, max_length=100)
    data_type: DataType
    length: int | None = Field(None, ge=1, le=1_000_000)
    data_element: str | None = Field(None, max_length=64)
    sensitive: bool = False

    @field_validator("data_element")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class ItemRead(BaseModel):
    name: str
    data_type: DataType
    length: int | None
    data_element: str | None
    sensitive: bool


def _unique_item_names(items: list[ItemIn] | None) -> list[ItemIn] | None:
    if items is None:
        return None
    if len(items) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS} information items")
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"information item {item.name!r} appears twice")
        seen.add(item.name)
    return items


class ResourceFields(BaseModel):
    """Editable fields shared by create and update."""

    model_config = Strict

    name: str = Field(min_length=1, max_length=200)
    abstract: str = Field("", max_length=4000)
    format: ResourceFormat = ResourceFormat.TABLE
    sharing_type: SharingType
    sharing_conditions: str = Field("", max_length=2000)
    sharing_basis: str = Field("", max_length=2000, description="Law or policy cited when not shared")
    sharing_modes: list[SharingMode] = Field(default_factory=list, max_length=3)
    open_type: OpenType = OpenType.NOT_OPEN
    open_conditions: str = Field("", max_length=2000)
    update_cycle: UpdateCycle
    source_system: str | None = Field(None, max_length=48, description="Information system code")
    publish_date: date | None = None
    related_codes: list[str] = Field(default_factory=list, max_length=MAX_RELATED)
    items: list[ItemIn] = Field(default_factory=list)

    @field_validator("items")
    @classmethod
    def _check_items(cls, items: list[ItemIn]) -> list[ItemIn]:
        return _unique_item_names(items) or []


class ResourceCreate(ResourceFields):
    classification: str = Field(max_length=16, description="Classification code, e.g. 101 or 301001")
    provider: str | None = Field(None, max_length=32, description="Provider department; default your own")


class ResourceUpdate(BaseModel):
    model_config = Strict

    name: str | None = Field(None, min_length=1, max_length=200)
    abstract: str | None = Field(None, max_length=4000)
    format: ResourceFormat | None = None
    sharing_type: SharingType | None = None
    sharing_conditions: str | None = Field(None, max_length=2000)
    sharing_basis: str | None = Field(None, max_length=2000)
    sharing_modes: list[SharingMode] | None = Field(None, max_length=3)
    open_type: OpenType | None = None
    open_conditions: str | None = Field(None, max_length=2000)
    update_cycle: UpdateCycle | None = None
    source_system: str | None = Field(None, max_length=48)
    publish_date: date | None = None
    related_codes: list[str] | None = Field(None, max_length=MAX_RELATED)
    items: list[ItemIn] | None = None

    @field_validator("items")
    @classmethod
    def _check_items(cls, items: list[ItemIn] | None) -> list[ItemIn] | None:
        return _unique_item_names(items)


class ResourceSummary(BaseModel):
    code: str
    name: str
    classification: str
    category: Category
    provider: str
    provider_name: str
    format: ResourceFormat
    sharing_type: SharingType
    open_type: OpenType
    update_cycle: UpdateCycle
    status: ResourceStatus
    version: int
    publish_date: date | None
    item_count: int
    updated_at: datetime


class ResourceRead(ResourceSummary):
    abstract: str
    sharing_conditions: str
    sharing_basis: str
    sharing_modes: list[SharingMode]
    open_conditions: str
    source_system: str | None
    related_codes: list[str]
    items: list[ItemRead]
    created_at: datetime


class ResourcePage(BaseModel):
    items: list[ResourceSummary]
    total: int
    page: int
    page_size: int


class ResourceFilter(BaseModel):
    q: str | None = Field(None, max_length=MAX_QUERY)
    department: str | None = Field(None, max_length=32)
    category: Category | None = None
    classification: str | None = Field(None, max_length=16)
    sharing_type: SharingType | None = None
    open_type: OpenType | None = None
    status: ResourceStatus | None = None
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)


Action = Literal["submit", "withdraw", "approve", "reject", "retire"]


class TransitionIn(BaseModel):
    model_config = Strict

    action: Action
    comment: str = Field("", max_length=2000)


class TransitionRead(BaseModel):
    action: str
    from_status: ResourceStatus | None
    to_status: ResourceStatus
    actor: str
    comment: str
    occurred_at: datetime


class VersionRead(BaseModel):
    version: int
    actor: str
    created_at: datetime
    snapshot: dict[str, object]


class ClassificationRead(BaseModel):
    code: str
    name: str
    name_en: str | None
    parent_code: str | None
    level: int


class ResourceTransfer(ResourceFields):
    """One resource as exported and imported; ``code`` and ``status`` travel with it."""

    code: str = Field(max_length=32)
    classification: str = Field(max_length=16)
    provider: str = Field(max_length=32)
    status: ResourceStatus = ResourceStatus.DRAFT


class ImportResult(BaseModel):
    imported: int
    codes: list[str]
