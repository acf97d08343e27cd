"""Business requirements (需求): departments file data, technology and collaboration needs; the bureau
triages, assigns and links them to what fulfils them, and tracks them to delivery."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow


class RequirementKind(enum.StrEnum):
    DATA = "data"  # 数据需求
    TECHNOLOGY = "technology"  # 技术需求
    COLLABORATION = "collaboration"  # 业务协同需求


class RequirementStatus(enum.StrEnum):
    FILED = "filed"  # 已提交
    ASSIGNED = "assigned"  # 已分派
    IN_PROGRESS = "in_progress"  # 办理中
    DELIVERED = "delivered"  # 已交付
    REJECTED = "rejected"  # 不予受理
    CLOSED = "closed"  # 已关闭 (the filing department confirmed the delivery)


class Requirement(Base):
    """需求: a department's business requirement, triaged by the bureau and tracked to delivery."""

    __tablename__ = "requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[RequirementKind] = mapped_column(str_enum(RequirementKind))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[RequirementStatus] = mapped_column(
        str_enum(RequirementStatus), default=RequirementStatus.FILED
    )
    assignee_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    # what fulfils it: {"resources": [codes], "applications": [numbers], "capabilities": [codes]}
    links: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
