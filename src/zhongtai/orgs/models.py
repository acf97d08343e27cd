"""Departments (委办局, districts, development zones) and the information systems they own."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow


class DepartmentKind(enum.StrEnum):
    MUNICIPAL = "municipal"  # 市直委办局
    DISTRICT = "district"  # 区县
    ZONE = "zone"  # 开发区


class SystemStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[DepartmentKind] = mapped_column(str_enum(DepartmentKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side=[id], lazy="raise")


class InformationSystem(Base):
    __tablename__ = "information_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[SystemStatus] = mapped_column(
        str_enum(SystemStatus),
        default=SystemStatus.ACTIVE,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    department: Mapped[Department] = relationship(lazy="raise")
