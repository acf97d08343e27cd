"""Pydantic shapes for sources, jobs, runs and raw records, by purpose. Secrets only ever go in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zhongtai.ingest.mapping import FieldRule
from zhongtai.ingest.models import JobMode, ObjectKind, RunStatus, SourceKind
from zhongtai.orgs.schemas import CODE_PATTERN


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=CODE_PATTERN, max_length=48)
    name: str = Field(min_length=1, max_length=100)
    system: str = Field(max_length=48, description="Code of the information system the source belongs to.")
    kind: SourceKind
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="database: {url}; file: {format, encoding, delimiter, sheet}; "
        "http: {url, items_path, page_param, size_param, page_size, first_page, watermark_param}",
    )
    secret: str | None = Field(
        None, max_length=500, description="Password or API token; stored encrypted, never shown back."
    )


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    options: dict[str, Any] | None = None
    secret: str | None = Field(None, max_length=500, description="New secret; an empty string removes it.")


class SourceRead(BaseModel):
    code: str
    name: str
    system: str
    department: str
    kind: SourceKind
    options: dict[str, Any]
    has_secret: bool
    last_tested_at: datetime | None
    last_test_ok: bool | None
    last_test_message: str | None


class ConnectionTest(BaseModel):
    ok: bool
    message: str
    tested_at: datetime


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=CODE_PATTERN, max_length=48)
    name: str = Field(min_length=1, max_length=100)
    source: str = Field(max_length=48)
    resource: str = Field(max_length=40, description="Catalog resource code the rows belong to.")
    object_kind: ObjectKind
    source_object: str = Field(
        min_length=1, max_length=20_000, description="Table name, SQL query, file pattern, or endpoint path."
    )
    key_columns: list[str] = Field(min_length=1, max_length=10, description="Source columns that key a row.")
    mode: JobMode = JobMode.FULL
    watermark_column: str | None = Field(None, max_length=100)
    mapping: list[FieldRule] = Field(min_length=1, max_length=500)
    schedule: str | None = Field(None, max_length=100, description="Cron: minute hour day month weekday.")
    enabled: bool = True


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    source_object: str | None = Field(None, min_length=1, max_length=20_000)
    key_columns: list[str] | None = Field(None, min_length=1, max_length=10)
    mode: JobMode | None = None
    watermark_column: str | None = Field(None, max_length=100)
    mapping: list[FieldRule] | None = Field(None, min_length=1, max_length=500)
    schedule: str | None = Field(None, max_length=100, description="Empty string removes the schedule.")
    enabled: bool | None = None
    reset_watermark: bool = Field(False, description="Forget the watermark: the next run reads everything.")


class RunRead(BaseModel):
    id: int
    job: str
    trigger: str
    requested_by: str
    status: RunStatus
    worker: str | None
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    rows_written: int
    rows_rejected: int
    rows_removed: int
    watermark_before: str | None
    watermark_after: str | None
    error: str | None
    notes: str | None
    progress: dict[str, int] | None = Field(None, description="Live counts while the run is going.")


class JobRead(BaseModel):
    code: str
    name: str
    source: str
    resource: str
    resource_name: str
    department: str
    object_kind: ObjectKind
    source_object: str
    key_columns: list[str]
    mode: JobMode
    watermark_column: str | None
    watermark: str | None
    mapping: list[FieldRule]
    schedule: str | None
    next_run_at: datetime | None
    enabled: bool
    last_run: RunRead | None


class RunQueued(BaseModel):
    job: str
    queued: bool
    message: str


class RejectRead(BaseModel):
    row_number: int
    source_key: str | None
    field: str | None
    reason: str
    raw: str


class RawRecordRead(BaseModel):
    job: str
    source_key: str
    batch_id: int
    loaded_at: datetime
    data: dict[str, Any]


class RejectPage(BaseModel):
    items: list[RejectRead]
    total: int
    offset: int
    limit: int


class RawPage(BaseModel):
    items: list[RawRecordRead]
    total: int
    offset: int
    limit: int
