"""Pydantic shapes for capabilities, apps, keys and app subscriptions, by purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from zhongtai.capabilities.models import (
    AppStatus,
    CapabilityKind,
    CapabilityStatus,
    KeyAlgorithm,
    KeyStatus,
    Operation,
    SubscriptionStatus,
)
from zhongtai.sharing.masking import Masking

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
CODE = r"^[a-z0-9][a-z0-9._-]{1,63}$"
PURPOSE = r"^[A-Za-z0-9._-]{1,64}$"
METHODS = r"^(GET|POST|PUT|PATCH|DELETE)$"


class Sla(BaseModel):
    model_config = Strict

    availability: str = Field("99.9%", max_length=16, description="Promised availability")
    p95_ms: int = Field(200, ge=1, le=600_000, description="Promised 95th-percentile latency")
    support: str = Field("", max_length=200, description="Who answers when it breaks")


class CapabilityCreate(BaseModel):
    model_config = Strict

    code: str = Field(pattern=CODE, description="Gateway path segment: /gw/{code}/…")
    name: str = Field(min_length=2, max_length=200)
    description: str = Field("", max_length=5000)
    version: str = Field("1.0.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    kind: CapabilityKind
    operation: Operation
    provider: str | None = Field(None, max_length=32, description="Providing department (operators only)")
    resource: str | None = Field(None, max_length=32, description="Data: catalog code of the resource served")
    key_item: str | None = Field(None, max_length=100, description="Data lookup / verify: the key item")
    verify_items: list[str] = Field(default_factory=list, max_length=20)
    upstream_url: HttpUrl | None = Field(None, description="Proxy: the department backend's base URL")
    health_path: str | None = Field(
        None,
        max_length=200,
        pattern=r"^/[A-Za-z0-9/._~-]*$",
        description="Proxy: path on the backend's host",
    )
    methods: list[str] = Field(default_factory=list, max_length=5)
    request_schema: dict[str, Any] | None = Field(None, description="Proxy: JSON Schema of request bodies")
    masked_fields: dict[str, Masking] = Field(
        default_factory=dict, description="Proxy: answer fields to mask"
    )
    timeout_ms: int = Field(3000, ge=50, le=60_000)
    sla: Sla = Field(default_factory=Sla)
    rate_per_second: int = Field(100, ge=1, le=100_000)
    daily_quota: int = Field(100_000, ge=1, le=100_000_000)
    breaker_failures: int = Field(5, ge=1, le=1000)
    breaker_reset_seconds: int = Field(30, ge=1, le=3600)
    catalog_codes: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("health_path")
    @classmethod
    def _no_climbing(cls, value: str | None) -> str | None:
        if value is not None and ".." in value:
            raise ValueError("the health path may not contain ..")
        return value


class CapabilityUpdate(BaseModel):
    model_config = Strict

    name: str | None = Field(None, min_length=2, max_length=200)
    description: str | None = Field(None, max_length=5000)
    version: str | None = Field(None, pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    timeout_ms: int | None = Field(None, ge=50, le=60_000)
    sla: Sla | None = None
    rate_per_second: int | None = Field(None, ge=1, le=100_000)
    daily_quota: int | None = Field(None, ge=1, le=100_000_000)
    breaker_failures: int | None = Field(None, ge=1, le=1000)
    breaker_reset_seconds: int | None = Field(None, ge=1, le=3600)
    upstream_url: HttpUrl | None = Field(None, description="Proxy: the backend's new base URL (it moved)")


class CapabilityAction(BaseModel):
    model_config = Strict

    action: str = Field(pattern=r"^(publish|deprecate|retire)$")


class CapabilityRead(BaseModel):
    code: str
    name: str
    description: str
    provider: str
    version: str
    status: CapabilityStatus
    kind: CapabilityKind
    operation: Operation
    resource: str | None
    key_item: str | None
    verify_items: list[str]
    upstream_url: str | None = Field(None, description="Shown to the provider and the bureau only")
    methods: list[str]
    sla: dict[str, Any]
    rate_per_second: int
    daily_quota: int
    timeout_ms: int
    catalog_codes: list[str]
    created_at: datetime
    published_at: datetime | None


class AppCreate(BaseModel):
    model_config = Strict

    code: str = Field(pattern=CODE)
    name: str = Field(min_length=2, max_length=200)
    description: str = Field("", max_length=2000)


class AppAction(BaseModel):
    model_config = Strict

    action: str = Field(pattern=r"^(suspend|resume)$")


class AppRead(BaseModel):
    code: str
    name: str
    description: str
    department: str
    owner: str
    status: AppStatus
    created_at: datetime


class KeyCreate(BaseModel):
    model_config = Strict

    algorithm: KeyAlgorithm = KeyAlgorithm.HMAC_SHA256
    public_key: str | None = Field(
        None, max_length=2000, description="Ed25519: your public key (PEM); omit to have one generated"
    )


class KeyRead(BaseModel):
    key_id: str
    algorithm: KeyAlgorithm
    status: KeyStatus
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    secret: str | None = Field(None, description="HMAC secret (base64url) — shown this once")
    private_key: str | None = Field(None, description="Generated Ed25519 private key (PEM) — shown this once")


class SubscriptionCreate(BaseModel):
    model_config = Strict

    capability: str = Field(pattern=CODE)
    purpose: str = Field(pattern=PURPOSE, description="Purpose code every call must carry (X-Purpose)")


class SubscriptionDecision(BaseModel):
    model_config = Strict

    action: str = Field(pattern=r"^(approve|reject|cancel)$")
    reason: str = Field("", max_length=1000)


class SubscriptionRead(BaseModel):
    id: int
    app: str
    capability: str
    purpose: str
    status: SubscriptionStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str


class UsageRow(BaseModel):
    app: str
    capability: str
    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int]
