"""The licence register: every electronic licence the platform issued, whose it is and whether it holds."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow


class LicenceStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"  # the source register no longer holds it


class Licence(Base):
    """电子证照: issued from a licence base record; the holder is named by pseudonym (persons) or credit
    code (enterprises), the ID number only masked."""

    __tablename__ = "lic_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(50))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_subject: Mapped[str] = mapped_column(String(64), index=True)
    holder_masked_id: Mapped[str] = mapped_column(String(40), default="")
    issuer: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str] = mapped_column(String(32))  # the department whose register holds it
    subject_line: Mapped[str] = mapped_column(Text, default="")  # 房屋坐落 / 经营范围 …
    issued_on: Mapped[date | None] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    source_digest: Mapped[str] = mapped_column(String(64))  # of the base record it was issued from
    status: Mapped[LicenceStatus] = mapped_column(str_enum(LicenceStatus), default=LicenceStatus.VALID)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
