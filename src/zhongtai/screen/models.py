"""The big screen's own tables: kiosk links, and each person's coarse attributes for risk-crowd counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, utcnow


class KioskLink(Base):
    """A revocable link that opens the screen on a wall display without signing in (only its hash kept)."""

    __tablename__ = "screen_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProfilePerson(Base):
    """A resident's coarse attributes, keyed by pseudonym (``core.pseudonym``), kept for counting risk
    groups: district, street, age band, sex, industry — never a name, number, address or birth date."""

    __tablename__ = "screen_profiles"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    district: Mapped[str] = mapped_column(String(8))
    street: Mapped[str] = mapped_column(String(60))
    age_band: Mapped[str] = mapped_column(String(8))
    sex: Mapped[str] = mapped_column(String(4))
    industry: Mapped[str] = mapped_column(String(60))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScreenState(Base):
    """A little state of the screen's jobs (the profile sweep's cursor through the population base)."""

    __tablename__ = "screen_state"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
