"""Government information resource catalog (政务信息资源目录), 2017 compilation guide fields."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow
from zhongtai.orgs.models import Department, InformationSystem


class Category(enum.StrEnum):
    """First digit of the classification code."""

    BASE = "base"  # 基础信息资源 (1)
    THEMATIC = "thematic"  # 主题信息资源 (2)
    DEPARTMENTAL = "departmental"  # 部门信息资源 (3)


CATEGORY_BY_DIGIT = {"1": Category.BASE, "2": Category.THEMATIC, "3": Category.DEPARTMENTAL}


class ResourceFormat(enum.StrEnum):
    TABLE = "table"  # 数据库表
    FILE = "file"  # 电子文件
    API = "api"  # 接口
    SPATIAL = "spatial"  # 地理空间
    MEDIA = "media"  # 图像/音视频
    OTHER = "other"


class SharingType(enum.StrEnum):
    UNCONDITIONAL = "unconditional"  # 无条件共享
    CONDITIONAL = "conditional"  # 有条件共享
    NOT_SHARED = "not_shared"  # 不予共享


class SharingMode(enum.StrEnum):
    API = "api"
    FILE = "file"
    TABLE_SYNC = "table_sync"


class OpenType(enum.StrEnum):
    OPEN = "open"  # 无条件开放
    CONDITIONAL = "conditional"  # 有条件开放
    NOT_OPEN = "not_open"  # 不予开放


class UpdateCycle(enum.StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class DataType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    BINARY = "binary"


class ResourceStatus(enum.StrEnum):
    DRAFT = "draft"
    UNDER_REVIEW = "under_review"
    PUBLISHED = "published"
    RETIRED = "retired"


class Classification(Base):
    """类 / 项 / 目 / 细目: the code grows by 1, 2, 3, 3 digits at levels 1 to 4 (e.g. 1, 101, 101001)."""

    __tablename__ = "catalog_classifications"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("catalog_classifications.code", ondelete="RESTRICT")
    )
    level: Mapped[int] = mapped_column(Integer)


class Resource(Base):
    __tablename__ = "catalog_resources"
    __table_args__ = (UniqueConstraint("classification_code", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    classification_code: Mapped[str] = mapped_column(
        ForeignKey("catalog_classifications.code", ondelete="RESTRICT"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    category: Mapped[Category] = mapped_column(str_enum(Category), index=True)
    name: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(Text, default="")
    provider_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    format: Mapped[ResourceFormat] = mapped_column(str_enum(ResourceFormat))
    sharing_type: Mapped[SharingType] = mapped_column(str_enum(SharingType), index=True)
    sharing_conditions: Mapped[str] = mapped_column(Text, default="")
    sharing_basis: Mapped[str] = mapped_column(Text, default="")
    sharing_modes: Mapped[list[str]] = mapped_column(JSON, default=list)
    open_type: Mapped[OpenType] = mapped_column(str_enum(OpenType), index=True)
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    update_cycle: Mapped[UpdateCycle] = mapped_column(str_enum(UpdateCycle))
    source_system_id: Mapped[int | None] = mapped_column(
        ForeignKey("information_systems.id", ondelete="RESTRICT")
    )
    publish_date: Mapped[date | None] = mapped_column(Date)
    related_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ResourceStatus] = mapped_column(
        str_enum(ResourceStatus), default=ResourceStatus.DRAFT, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Lower-cased name + abstract + item names + code: substring search that works for Chinese.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    provider: Mapped[Department] = relationship(lazy="raise")
    source_system: Mapped[InformationSystem | None] = relationship(lazy="raise")
    items: Mapped[list[InformationItem]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="InformationItem.position",
    )


class InformationItem(Base):
    """信息项: one field of a resource."""

    __tablename__ = "catalog_items"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    data_type: Mapped[DataType] = mapped_column(str_enum(DataType))
    length: Mapped[int | None] = mapped_column(Integer)
    data_element: Mapped[str | None] = mapped_column(String(64))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class ResourceTransition(Base):
    """Every lifecycle step, with actor and time."""

    __tablename__ = "catalog_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[ResourceStatus | None] = mapped_column(str_enum(ResourceStatus, "from_status"))
    to_status: Mapped[ResourceStatus] = mapped_column(str_enum(ResourceStatus, "to_status"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_username: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResourceVersion(Base):
    """Snapshot of a published entry; a new one each time a published entry changes."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
