"""Pydantic shapes for departments and information systems, by purpose."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from zhongtai.orgs.models import DepartmentKind, SystemStatus

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,47}$"


class DepartmentRead(BaseModel):
    code: str
    name: str
    name_en: str | None
    kind: DepartmentKind
    parent_code: str | None
    system_count: int = 0


class SystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=CODE_PATTERN, max_length=48, description="Upper-case letters, digits, - or _")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    department: str | None = Field(
        None, max_length=32, description="Owning department code; defaults to the caller's own"
    )


class SystemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    status: SystemStatus | None = None


class SystemRead(BaseModel):
    code: str
    name: str
    description: str
    department: str
    department_name: str
    status: SystemStatus
    created_at: datetime
    updated_at: datetime
