"""Service items (政务服务事项) with their materials and how shared data replaces them, cases (办件) with
what each material became, co-handling tasks (协办), every step, and the ledger of what was saved."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow


class ApplicantKind(enum.StrEnum):
    PERSON = "person"  # 自然人
    ENTERPRISE = "enterprise"  # 法人


class MaterialSource(enum.StrEnum):
    UPLOAD = "upload"  # the applicant still submits it
    DATA = "data"  # shared data from a catalog resource (or the base database it feeds)
    LICENCE = "licence"  # an electronic licence the platform issued


class KeyFrom(enum.StrEnum):
    """Which value finds the applicant's records in the source."""

    APPLICANT = "applicant"  # their ID number or credit code
    FIELD = "field"  # a value they give on the form (e.g. the property certificate number)


class Review(enum.StrEnum):
    """The bureau's review of a material's data mapping; only an approved mapping is fetched."""

    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"


class CaseStatus(enum.StrEnum):
    DRAFT = "draft"  # chosen, previewed; not consented yet
    SUBMITTED = "submitted"  # consented, fetched; waiting for the caseworker
    IN_REVIEW = "in_review"  # accepted by a caseworker (co-handling may be open)
    RETURNED = "returned"  # back to the applicant for changes
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # the applicant withdrew (consent withdrawn with it)


FINISHED = (CaseStatus.APPROVED, CaseStatus.REFUSED)
CLOSED = (*FINISHED, CaseStatus.WITHDRAWN)


class MaterialOutcome(enum.StrEnum):
    TO_FETCH = "to_fetch"  # the platform will fetch it once the applicant consents
    FETCHED = "fetched"  # replaced by shared data or a licence: nothing submitted
    UPLOADED = "uploaded"
    NEEDED = "needed"  # an upload is still needed (an upload material, or a fetch that fell back)


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class ServiceItem(Base):
    """政务服务事项: who handles it, on what legal basis, within how many working days, with whom."""

    __tablename__ = "svc_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    applicant_kind: Mapped[ApplicantKind] = mapped_column(str_enum(ApplicantKind))
    legal_basis: Mapped[str] = mapped_column(Text)
    time_limit_days: Mapped[int] = mapped_column(Integer)  # 承诺时限, working days
    co_departments: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes of 协办 departments
    trips: Mapped[int] = mapped_column(Integer, default=1)  # counter visits it took on paper (跑动次数)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Material(Base):
    """材料: what a service needs, and whether the platform can fetch it instead (and from where)."""

    __tablename__ = "svc_materials"
    __table_args__ = (UniqueConstraint("item_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("svc_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[MaterialSource] = mapped_column(str_enum(MaterialSource))
    resource_code: Mapped[str | None] = mapped_column(String(64))  # DATA: the catalog resource
    items: Mapped[list[str]] = mapped_column(JSON, default=list)  # DATA: the items it needs
    key_item: Mapped[str | None] = mapped_column(String(100))  # DATA: the item that finds the records
    key_from: Mapped[KeyFrom | None] = mapped_column(str_enum(KeyFrom))
    field_label: Mapped[str | None] = mapped_column(String(100))  # KeyFrom.FIELD: what the form asks
    none_is_answer: Mapped[bool] = mapped_column(Boolean, default=False)  # no record proves something
    licence_type: Mapped[str | None] = mapped_column(String(50))  # LICENCE: e.g. 营业执照
    capability: Mapped[str | None] = mapped_column(String(64))  # the capability serving it to others
    review: Mapped[Review] = mapped_column(str_enum(Review), default=Review.APPROVED)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Case(Base):
    """办件: one application for one service by one applicant (or someone of their household)."""

    __tablename__ = "svc_cases"
    __table_args__ = (Index("ix_svc_cases_applicant", "applicant_subject", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("svc_items.id", ondelete="RESTRICT"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    applicant_kind: Mapped[ApplicantKind] = mapped_column(str_enum(ApplicantKind))
    applicant_subject: Mapped[str] = mapped_column(String(64))  # whose data: pseudonym
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_key_sealed: Mapped[str] = mapped_column(Text)  # ID number / credit code, encrypted at rest
    filed_by_subject: Mapped[str] = mapped_column(String(64), index=True)  # who applied (may be family)
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # values typed on the form
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.DRAFT)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_on: Mapped[date | None] = mapped_column(Date)  # the promised time limit, in working days
    caseworker: Mapped[str | None] = mapped_column(String(64))
    counter_visits: Mapped[int] = mapped_column(Integer, default=0)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseMaterial(Base):
    """What one material of a case became: fetched under the case's grant, uploaded, or still needed."""

    __tablename__ = "svc_case_materials"
    __table_args__ = (UniqueConstraint("case_id", "material_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("svc_cases.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("svc_materials.id", ondelete="RESTRICT"))
    outcome: Mapped[MaterialOutcome] = mapped_column(str_enum(MaterialOutcome))
    grant_id: Mapped[int | None] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # of what the applicant previewed
    fallback_reason: Mapped[str] = mapped_column(String(300), default="")
    problem_id: Mapped[int | None] = mapped_column(Integer)  # the data-quality problem it raised
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(Integer)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseTask(Base):
    """协办: a question to a co-handling department, answered in parallel, each with its own deadline."""

    __tablename__ = "svc_case_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("svc_cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    question: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.OPEN)
    answer: Mapped[str] = mapped_column(Text, default="")
    agrees: Mapped[bool | None] = mapped_column(Boolean)
    asked_by: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseEvent(Base):
    """Every step of a case: what happened, who did it, the status before and after."""

    __tablename__ = "svc_case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("svc_cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[CaseStatus | None] = mapped_column(str_enum(CaseStatus, "from_status"))
    to_status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, "to_status"))
    actor: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Saving(Base):
    """减少材料提交: one finished case's savings, written once in the transaction that finishes it."""

    __tablename__ = "svc_savings"
    __table_args__ = (Index("ix_svc_savings_day", "day"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("svc_cases.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    department_id: Mapped[int] = mapped_column(Integer, index=True)
    day: Mapped[date] = mapped_column(Date)  # city day of the decision
    submissions: Mapped[int] = mapped_column(Integer)  # materials fetched instead of submitted
    checks: Mapped[int] = mapped_column(Integer)  # and the checks of paper they spared
    trips: Mapped[int] = mapped_column(Integer)  # counter visits spared (跑动次数)
