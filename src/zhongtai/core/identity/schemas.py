"""Pydantic shapes for identity."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from zhongtai.core.identity.models import Role


class MeRead(BaseModel):
    username: str
    display_name: str
    department: str | None
    roles: list[Role]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    days: int | None = Field(None, ge=1, le=3650, description="Lifetime in days; none = until revoked")


class TokenRead(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; only its hash is stored")
