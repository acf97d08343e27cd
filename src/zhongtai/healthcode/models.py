"""Health code tables: signing keys (the platform's root and the code-signing certificates it issued, each
private key sealed at rest), the colour rules' versions, the evidence about persons (by pseudonymous
subject id), each person's colour and its history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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


class PlaceStatus(enum.StrEnum):
    PENDING = "pending"  # 待审核 by the street / district office
    APPROVED = "approved"  # 已赋码: a poster can be printed
    RETURNED = "returned"  # 退回 with a reason; the applicant may apply again


class Place(Base):
    """A place with a place code (场所码): a shop, an office, a residential compound's gate."""

    __tablename__ = "healthcode_places"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    address: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(60))
    office: Mapped[str] = mapped_column(String(32))  # department code of the approving office
    owner_citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    status: Mapped[PlaceStatus] = mapped_column(str_enum(PlaceStatus), default=PlaceStatus.PENDING)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")
    code_text: Mapped[str | None] = mapped_column(Text)  # the signed place code, once approved


class Gate(Base):
    """A gate (卡口) of a place; opened on a guard's phone by its secret link (only its hash is kept)."""

    __tablename__ = "healthcode_gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("healthcode_places.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Passage(Base):
    """One scan at a gate (电子出入管理): whose code (pseudonym), what it showed, what the guard was told."""

    __tablename__ = "healthcode_passages"
    __table_args__ = (Index("ix_healthcode_passages_place_at", "place_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("healthcode_gates.id", ondelete="CASCADE"))
    place_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)  # None: the code was refused
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    colour: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # pass | restricted | barred | refused
    refusal: Mapped[str | None] = mapped_column(String(24))  # the verification stage that refused
    temperature: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8), default="in")
    plate: Mapped[str | None] = mapped_column(String(16))


class Visit(Base):
    """A citizen's scan of a place's poster (扫码登记); a repeat within a minute is the same visit."""

    __tablename__ = "healthcode_visits"
    __table_args__ = (
        Index("ix_healthcode_visits_subject_at", "subject", "at"),
        Index("ix_healthcode_visits_place_at", "place_id", "at"),  # who else was there (a trace)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("healthcode_places.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    colour: Mapped[int] = mapped_column(Integer)


class FeedPosition(Base):
    """Where a feed the health code pulls has got to (the list capability's opaque cursor)."""

    __tablename__ = "healthcode_feeds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RiskArea(Base):
    """A high- or medium-risk area declared by health staff: a district, or a street in it, for a period."""

    __tablename__ = "healthcode_risk_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(8))  # high | medium
    district: Mapped[str] = mapped_column(String(6))  # GB/T 2260 code
    street: Mapped[str] = mapped_column(String(60), default="")  # empty: the whole district
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # None: until lifted
    declared_by: Mapped[str] = mapped_column(String(64))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TravelDeclaration(Base):
    """行程申报: a person says they were in a declared area on a day (the evidence names this record)."""

    __tablename__ = "healthcode_travels"
    __table_args__ = (Index("ix_healthcode_travels_area", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("healthcode_risk_areas.id", ondelete="CASCADE"))
    on: Mapped[date] = mapped_column(Date)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CorrectionStatus(enum.StrEnum):
    OPEN = "open"  # 待处理 by the department whose record caused the reason
    UPHELD = "upheld"  # 纠错成立: the record was wrong; its reason is withdrawn and the code recomputed
    REJECTED = "rejected"  # 维持: the record stands, with the department's answer


class Correction(Base):
    """纠错申诉: a person disputes one reason of their code; the source department answers by a deadline."""

    __tablename__ = "healthcode_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    masked_name: Mapped[str] = mapped_column(String(50))
    department: Mapped[str] = mapped_column(String(32), index=True)  # who answers
    fact: Mapped[str] = mapped_column(String(24))
    record: Mapped[str] = mapped_column(String(120))
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[CorrectionStatus] = mapped_column(
        str_enum(CorrectionStatus), default=CorrectionStatus.OPEN
    )
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(Text, default="")


class TraceStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Trace(Base):
    """流调: a confirmed case's entries (place scans, gate records) over the rules' lookback, and everyone
    whose entries overlapped them at the same place; named by pseudonym, the case never shown to contacts."""

    __tablename__ = "healthcode_traces"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    case_subject: Mapped[str] = mapped_column(String(64), index=True)
    case_record: Mapped[str] = mapped_column(String(120))  # the positive result it started from
    status: Mapped[TraceStatus] = mapped_column(str_enum(TraceStatus), default=TraceStatus.OPEN)
    rule_version: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime())  # the case's entries from …
    until: Mapped[datetime] = mapped_column(UTCDateTime())  # … to the moment of the trace
    second_degree: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_note: Mapped[str] = mapped_column(Text, default="")


class ContactStatus(enum.StrEnum):
    FOUND = "found"  # classified by the rules; the code changed at once
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"  # with a reason; the evidence withdrawn and the colour recomputed


class TraceContact(Base):
    """One person a trace found, with the strongest encounter: where and when (their own entry)."""

    __tablename__ = "healthcode_trace_contacts"
    __table_args__ = (UniqueConstraint("trace_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trace_id: Mapped[int] = mapped_column(ForeignKey("healthcode_traces.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    degree: Mapped[int] = mapped_column(Integer)  # 1: met the case; 2: met a close contact
    kind: Mapped[str] = mapped_column(String(24))  # close_contact | co_visitor | secondary_contact
    place_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ContactStatus] = mapped_column(str_enum(ContactStatus), default=ContactStatus.FOUND)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ResumptionStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # with the regulator, within its deadline
    APPROVED = "approved"
    RETURNED = "returned"  # for changes: the enterprise applies again
    REFUSED = "refused"
    SUSPENDED = "suspended"  # resumed, then stopped by the regulator (an outbreak, measures not kept)


class Resumption(Base):
    """复工复产申报: an enterprise's application to resume work, with its site, measures and employees."""

    __tablename__ = "healthcode_resumptions"
    __table_args__ = (Index("ix_healthcode_resumptions_enterprise", "enterprise", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    enterprise: Mapped[str] = mapped_column(String(64))  # its subject: e-<credit code>
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200))
    measures: Mapped[str] = mapped_column(Text)
    regulator: Mapped[str] = mapped_column(String(32))  # the deciding department's code
    district: Mapped[str | None] = mapped_column(String(6))  # the site's district (GB/T 2260), if named
    street: Mapped[str] = mapped_column(String(60), default="")  # the site's street (街道), as declared
    source: Mapped[str] = mapped_column(String(16), default="upload")  # employees: upload | social_insurance
    # The attachments (prevention plan, site photos): name, type, size and SHA-256; the files by hash.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONText(), default=list)
    status: Mapped[ResumptionStatus] = mapped_column(
        str_enum(ResumptionStatus), default=ResumptionStatus.SUBMITTED
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class ResumptionEmployee(Base):
    """An employee listed on an application, checked against the population base; by pseudonym."""

    __tablename__ = "healthcode_resumption_employees"
    __table_args__ = (UniqueConstraint("resumption_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resumption_id: Mapped[int] = mapped_column(
        ForeignKey("healthcode_resumptions.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(64), index=True)
    # The name and ID number as the catalog masks them (王*明 3401**********1234): what a drill-down under
    # a grant shows; the full values are not kept.
    label: Mapped[str] = mapped_column(String(64), default="")
