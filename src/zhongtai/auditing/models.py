"""Objections (异议): a person disputes one access to their data; an auditor answers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum


class ObjectionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class Objection(Base):
    __tablename__ = "audit_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)  # whose data (pseudonym)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(Integer)  # the audit entry disputed
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[ObjectionStatus] = mapped_column(str_enum(ObjectionStatus), default=ObjectionStatus.OPEN)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(Text, default="")
