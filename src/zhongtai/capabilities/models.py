"""Capability platform (能力支撑平台): capabilities, apps and their signing keys, app subscriptions to
capabilities, the gateway's state version and usage counters."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhongtai.catalog.models import Resource
from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow
from zhongtai.orgs.models import Department


class CapabilityStatus(enum.StrEnum):
    DRAFT = "draft"  # 草稿
    PUBLISHED = "published"  # 已发布
    DEPRECATED = "deprecated"  # 已废弃 (still serves its subscribers; takes no new ones)
    RETIRED = "retired"  # 已下线


class CapabilityKind(enum.StrEnum):
    DATA = "data"  # 数据服务: generated from a catalog resource, no code
    PROXY = "proxy"  # 部门业务服务: a department backend behind the gateway
    PLATFORM = "platform"  # 平台服务: e.g. electronic license verification


class Operation(enum.StrEnum):
    LOOKUP = "lookup"  # one record by key
    LIST = "list"  # filtered list with paging
    VERIFY = "verify"  # yes / no: do these values belong to this key?
    LICENSE_VERIFY = "license_verify"  # platform: is this licence valid and held by this holder?
    HEALTHCODE_VERIFY = "healthcode_verify"  # platform: a health code checked online, the gate's rule
    PROXY = "proxy"


class KeyAlgorithm(enum.StrEnum):
    HMAC_SHA256 = "hmac-sha256"
    ED25519 = "ed25519"


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class AppStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"  # 待提供方审批
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Capability(Base):
    """能力: one standard interface a department (or the platform) offers through the gateway."""

    __tablename__ = "capabilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    provider_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[str] = mapped_column(String(32), default="1.0.0")
    status: Mapped[CapabilityStatus] = mapped_column(
        str_enum(CapabilityStatus), default=CapabilityStatus.DRAFT
    )
    kind: Mapped[CapabilityKind] = mapped_column(str_enum(CapabilityKind))
    operation: Mapped[Operation] = mapped_column(str_enum(Operation))
    # data capabilities: the catalog resource served, and the item a lookup / verify is keyed by
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resources.id", ondelete="RESTRICT"))
    key_item: Mapped[str | None] = mapped_column(String(100))
    verify_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    # proxied capabilities
    upstream_url: Mapped[str | None] = mapped_column(String(500))
    health_path: Mapped[str | None] = mapped_column(String(200))
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    request_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    masked_fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # response field -> masking
    timeout_ms: Mapped[int] = mapped_column(Integer, default=3000)
    # service level and protection
    sla: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rate_per_second: Mapped[int] = mapped_column(Integer, default=100)
    daily_quota: Mapped[int] = mapped_column(Integer, default=100_000)
    breaker_failures: Mapped[int] = mapped_column(Integer, default=5)
    breaker_reset_seconds: Mapped[int] = mapped_column(Integer, default=30)
    catalog_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # the entries it serves
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    provider: Mapped[Department] = relationship(lazy="raise")
    resource: Mapped[Resource | None] = relationship(lazy="raise")


class App(Base):
    """应用: a department's system that calls capabilities with its own keys."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    status: Mapped[AppStatus] = mapped_column(str_enum(AppStatus), default=AppStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    department: Mapped[Department] = relationship(lazy="raise")


class AppKey(Base):
    """A signing key of an app: several may be active at once, so keys rotate without downtime."""

    __tablename__ = "app_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(80), unique=True)
    algorithm: Mapped[KeyAlgorithm] = mapped_column(str_enum(KeyAlgorithm))
    secret_sealed: Mapped[str | None] = mapped_column(Text)  # HMAC secret, Fernet-sealed
    public_key: Mapped[str | None] = mapped_column(Text)  # Ed25519 public key, PEM
    status: Mapped[KeyStatus] = mapped_column(str_enum(KeyStatus), default=KeyStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppSubscription(Base):
    """An app's subscription to a capability, for a declared purpose code the calls must carry."""

    __tablename__ = "app_subscriptions"
    __table_args__ = (UniqueConstraint("app_id", "capability_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    capability_id: Mapped[int] = mapped_column(ForeignKey("capabilities.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    status: Mapped[SubscriptionStatus] = mapped_column(
        str_enum(SubscriptionStatus, "app_subscription_status"), default=SubscriptionStatus.PENDING
    )
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")

    app: Mapped[App] = relationship(lazy="raise")
    capability: Mapped[Capability] = relationship(lazy="raise")


class GatewayState(Base):
    """One row whose version moves whenever anything the gateway caches changes (capabilities, apps,
    keys, subscriptions, grants, item policies): every instance compares it on each call."""

    __tablename__ = "gateway_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class GatewayUsage(Base):
    """Calls of one app to one capability counted by one gateway instance over a short interval."""

    __tablename__ = "gateway_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_code: Mapped[str] = mapped_column(String(64), index=True)
    capability_code: Mapped[str] = mapped_column(String(64), index=True)
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    calls: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    # counts per latency bucket (upper bounds in ``gateway.metrics.BUCKETS_MS``) and per status code
    latency_buckets: Mapped[list[int]] = mapped_column(JSON)
    statuses: Mapped[dict[str, int]] = mapped_column(JSON)
