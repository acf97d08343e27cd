"""Health code tables: signing keys (the platform's root and the code-signing certificates it issued, each
private key sealed at rest), the colour rules' versions, the evidence about persons (by pseudonymous
subject id), each person's colour and its history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import JSONText, UTCDateTime, str_enum, utcnow


class KeyRole(enum.StrEnum):
    ROOT = "root"  # signs certificates and the trust list
    SIGNER = "signer"  # signs codes


class SigningKey(Base):
    __tablename__ = "healthcode_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)  # hex of the DCC kid (8 bytes)
    role: Mapped[KeyRole] = mapped_column(str_enum(KeyRole))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    private_key_sealed: Mapped[str] = mapped_column(Text)
    usage: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A signer is on the trust list from its creation, signs from ``signs_from`` (after verifiers had
    # time to fetch the list) and until ``retired_at``; it stays listed while codes it signed may live.
    signs_from: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RuleVersion(Base):
    """One saved version of the colour rules (the health commission edits them; each save a new version)."""

    __tablename__ = "healthcode_rules"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")


class EvidenceRow(Base):
    """A fact about a person as it reached the health code (a test result, a gate's temperature, a stay,
    a check-in), keyed by the person's pseudonymous subject id, never the ID number."""

    __tablename__ = "healthcode_evidence"
    __table_args__ = (Index("ix_healthcode_evidence_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    fact: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    department: Mapped[str] = mapped_column(String(32))
    record: Mapped[str] = mapped_column(String(120))
    value: Mapped[str | None] = mapped_column(String(200))


class PersonColour(Base):
    """A person's current colour, the rule version that decided it and its reasons."""

    __tablename__ = "healthcode_colours"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    colour: Mapped[int] = mapped_column(Integer)
    rule_version: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONText())
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ColourChange(Base):
    """Each change of a person's colour, kept: the history the person and health staff may read."""

    __tablename__ = "healthcode_colour_history"
    __table_args__ = (Index("ix_healthcode_colour_history_subject", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    colour: Mapped[int] = mapped_column(Integer)
    previous: Mapped[int | None] = mapped_column(Integer)
    rule_version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONText())
