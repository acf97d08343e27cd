"""Public-side tables, apart from staff identity: citizens (by a keyed hash of the ID number, the number
itself sealed), their one-time sign-in codes, their sessions, the family members they proved by the
household register, the sign-in attempts that drive lockout, and (outside production) the demo inbox of
text messages sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, utcnow


class Citizen(Base):
    """Someone signed in on the public side: a person, or an enterprise (by its credit code, proven by its
    legal representative)."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")  # person | enterprise
    subject: Mapped[str] = mapped_column(String(64), unique=True)  # core.pseudonym: the person, keyed
    name: Mapped[str] = mapped_column(String(200))
    # SecretBox: read only to act for them (the ID number; an enterprise's credit code)
    id_number_sealed: Mapped[str] = mapped_column(Text)
    mobile_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInCode(Base):
    """A one-time code sent to a mobile (only its keyed hash kept), for one pending sign-in."""

    __tablename__ = "citizen_sign_in_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the pending sign-in's handle
    kind: Mapped[str] = mapped_column(String(16), default="person")
    subject: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    id_number_sealed: Mapped[str] = mapped_column(Text)
    mobile_sealed: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CitizenSession(Base):
    __tablename__ = "citizen_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FamilyMember(Base):
    """A person a citizen may show codes for (a child, an elderly parent), proven in the same household."""

    __tablename__ = "citizen_family"
    __table_args__ = (UniqueConstraint("citizen_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(50))
    id_number_sealed: Mapped[str] = mapped_column(Text)
    relation: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignInAttempt(Base):
    """A failed identity check or code guess, by the keyed hash of the ID number typed and by the
    caller's address: counted over a window for lockout, whether or not such a person exists."""

    __tablename__ = "citizen_sign_in_failures"
    __table_args__ = (Index("ix_citizen_sign_in_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # "id:<subject>" or "ip:<address hash>"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SentMessage(Base):
    """A text message the development sender 'sent' (the demo inbox page); never written in production."""

    __tablename__ = "citizen_demo_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
