"""Sharing and exchange (共享交换): item policies, applications and their steps, grants, subscriptions
and deliveries. The change outbox itself is ``zhongtai.core.outbox`` (governance writes it)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhongtai.catalog.models import Resource
from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow
from zhongtai.orgs.models import Department
from zhongtai.sharing.masking import Masking, Sensitivity


class DeliveryMode(enum.StrEnum):
    API = "api"  # 接口
    FILE = "file"  # 文件
    SUBSCRIPTION = "subscription"  # 订阅推送


class ApplicationStatus(enum.StrEnum):
    BUREAU_REVIEW = "bureau_review"  # 数据资源局合规审核
    PROVIDER_REVIEW = "provider_review"  # 提供部门审核
    RETURNED = "returned"  # 退回修改
    GRANTED = "granted"  # 已授权
    REJECTED = "rejected"  # 不予共享
    WITHDRAWN = "withdrawn"  # 申请方撤回


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ItemPolicy(Base):
    """An information item's sensitivity level and masking rule, set by its provider."""

    __tablename__ = "sharing_item_policies"
    __table_args__ = (UniqueConstraint("resource_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    item: Mapped[str] = mapped_column(String(100))
    sensitivity: Mapped[Sensitivity] = mapped_column(str_enum(Sensitivity))
    masking: Mapped[Masking] = mapped_column(str_enum(Masking))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Application(Base):
    """共享申请: a consumer department asks for items of a published resource, for a purpose."""

    __tablename__ = "sharing_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    consumer_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="RESTRICT"), index=True
    )
    provider_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    items: Mapped[list[str]] = mapped_column(JSON)
    unmasked_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(String(500))
    basis: Mapped[str] = mapped_column(Text)
    mode: Mapped[DeliveryMode] = mapped_column(str_enum(DeliveryMode))
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[ApplicationStatus] = mapped_column(str_enum(ApplicationStatus), index=True)
    applicant_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    applicant_username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusal_reason: Mapped[str] = mapped_column(Text, default="")

    resource: Mapped[Resource] = relationship(lazy="raise")
    consumer: Mapped[Department] = relationship(lazy="raise", foreign_keys=[consumer_department_id])
    provider: Mapped[Department] = relationship(lazy="raise", foreign_keys=[provider_department_id])


class ApplicationStep(Base):
    """Every step of an application, with actor, department and time."""

    __tablename__ = "sharing_application_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("sharing_applications.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[ApplicationStatus | None] = mapped_column(str_enum(ApplicationStatus, "from_status"))
    to_status: Mapped[ApplicationStatus] = mapped_column(str_enum(ApplicationStatus, "to_status"))
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_department: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Grant(Base):
    """授权: what an approved application lets leave the platform, to whom, for what, until when."""

    __tablename__ = "sharing_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a case's grant (办件授权): issued by the case itself, for it alone (``case_ref``).
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_applications.id", ondelete="RESTRICT"), unique=True
    )
    case_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    consumer_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    provider_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="RESTRICT"), index=True
    )
    items: Mapped[list[str]] = mapped_column(JSON)
    unmasked_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(String(500))
    mode: Mapped[DeliveryMode] = mapped_column(str_enum(DeliveryMode))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[GrantStatus] = mapped_column(str_enum(GrantStatus), default=GrantStatus.ACTIVE)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    renewals: Mapped[int] = mapped_column(Integer, default=0)

    resource: Mapped[Resource] = relationship(lazy="raise")

    def live(self, now: datetime) -> bool:
        return self.status is GrantStatus.ACTIVE and self.expires_at > now


class Subscription(Base):
    """A consumer system's endpoint receiving the granted slice's changes (Standard Webhooks)."""

    __tablename__ = "sharing_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(Text)  # whsec_… Fernet-sealed; shown once at creation
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Delivery cursor: events up to this outbox id are delivered (or dead-lettered), in order.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    # With NATS JetStream: events up to this outbox id are published to the subscription's subject.
    relayed: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # Cron (city time): deliver at these moments only, e.g. daily reporting to the provincial platform.
    schedule: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    grant: Mapped[Grant] = relationship(lazy="raise")


class Delivery(Base):
    """One attempt to deliver one event to one subscription, with its outcome."""

    __tablename__ = "sharing_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("sharing_subscriptions.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | failed | dead | skipped
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Report(Base):
    """定期报送: figures a department reports upstream on a schedule (the health commission's daily epidemic
    report to the province), pushed to the receiver's endpoint signed like subscription events. The figures
    come from a producer a domain registers (``sharing.reports.PRODUCERS``): aggregates, never records."""

    __tablename__ = "sharing_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    producer: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(String(32))  # whose figures they are
    receiver: Mapped[str] = mapped_column(String(100))  # who receives them (e.g. the provincial platform)
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(Text)  # whsec_… sealed; shown once at creation
    hour: Mapped[int] = mapped_column(Integer, default=8)  # city time: the previous day's report goes then
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportDelivery(Base):
    """One report period (a day) of one report: delivered, failing (retried with backoff) or dead."""

    __tablename__ = "sharing_report_deliveries"
    __table_args__ = (UniqueConstraint("report_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("sharing_reports.id", ondelete="CASCADE"), index=True)
    period: Mapped[date] = mapped_column(Date)
    event_id: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12))  # delivered | failed | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")
    body_sha256: Mapped[str] = mapped_column(String(64), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
