"""Data governance (数据治理): data elements, rule sets, the clean zone, base databases, quality.

The clean zone mirrors the raw zone (one row per job and source key) with the values standardized and
every changed value's rule recorded next to it. Base databases share one keyed table: a record per
(base, key) with its fused values and per-attribute provenance, the claims of each contributing source
beside it, superseded versions in ``base_history`` and disagreements in ``gov_conflicts``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhongtai.catalog.models import Resource
from zhongtai.core.database import Base
from zhongtai.core.types import JSONText, UTCDateTime, str_enum, utcnow

KEY = String(200).with_variant(String(200, collation="C"), "postgresql")


class BaseKind(enum.StrEnum):
    """The city's base databases (基础库)."""

    PERSON = "person"  # 人口库, keyed by ID number
    ENTITY = "entity"  # 法人库, keyed by unified social credit code
    LICENSE = "license"  # 电子证照库, keyed by licence number
    ADDRESS = "address"  # 地址库, keyed by the standardized address


class PassStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProblemStatus(enum.StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    FIXED = "fixed"  # the department says it is fixed; the platform re-checks
    CLOSED = "closed"  # the re-check found it gone


class DataElement(Base):
    """数据元: one version of a standard definition that catalog items reference by code (DE00002)."""

    __tablename__ = "gov_data_elements"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(32))
    standard: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RuleSet(Base):
    """One version of a resource's governance rules; a change makes a new version, old ones stay."""

    __tablename__ = "gov_rule_sets"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    auto_apply: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resource: Mapped[Resource] = relationship(lazy="raise")


class GovernancePass(Base):
    """治理批次: one application of a rule set to raw rows (an ingestion batch, or the whole resource).

    Invariant, checked when the pass is written: raw_rows = clean_rows + rejected_rows.
    """

    __tablename__ = "gov_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    elements: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # element code -> version used
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[PassStatus] = mapped_column(str_enum(PassStatus), default=PassStatus.RUNNING)
    raw_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    clean_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_values: Mapped[int] = mapped_column(BigInteger, default=0)
    fused_records: Mapped[int] = mapped_column(BigInteger, default=0)
    conflicts_opened: Mapped[int] = mapped_column(BigInteger, default=0)
    linked_rows: Mapped[int] = mapped_column(BigInteger, default=0)  # broken keys matched probabilistically
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class CleanRecord(Base):
    """The clean zone: the governed version of each raw row that passed every rule."""

    __tablename__ = "clean_records"
    __table_args__ = (Index("ix_clean_records_resource", "resource_id"),)

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(KEY, primary_key=True)
    resource_id: Mapped[int] = mapped_column(Integer)
    pass_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(Integer)  # the ingestion batch the raw row came from
    rule_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())
    # item -> {"from": raw value, "rule": rule id}: every value the rules changed
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONText())


class GovernanceReject(Base):
    """A raw row a rule refused, with the rule, its version, the item and the reason."""

    __tablename__ = "gov_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("gov_passes.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(200))
    item: Mapped[str | None] = mapped_column(String(100))
    rule_id: Mapped[str] = mapped_column(String(48))
    rule_version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    value: Mapped[str | None] = mapped_column(String(500))


class BaseSource(Base):
    """How one resource contributes to a base database: the key item, attribute -> item, and how much
    the platform trusts it (priority 1 wins; per-attribute overrides: 一数一源)."""

    __tablename__ = "base_sources"
    __table_args__ = (UniqueConstraint("base", "resource_id", "key_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind))
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    key_item: Mapped[str] = mapped_column(String(100))
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)  # base attribute -> item name
    constants: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # e.g. licence type
    priority: Mapped[int] = mapped_column(Integer, default=5)
    priorities: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # attribute -> priority
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    resource: Mapped[Resource] = relationship(lazy="raise")


class BaseRecord(Base):
    """A fused base record: current values, which source each came from, and since when it says so."""

    __tablename__ = "base_records"

    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind), primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())
    # attribute -> {"source": base source id, "department": code, "batch": id, "at": ISO time}
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONText())
    version: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())


class BaseHistory(Base):
    """A superseded version of a base record and the period it was current."""

    __tablename__ = "base_history"
    __table_args__ = (Index("ix_base_history_key", "base", "key", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind))
    key: Mapped[str] = mapped_column(KEY)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONText())
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime())


class BaseClaim(Base):
    """What one source last said about one base record, and the clean row that said it (so the claim is
    withdrawn when that row is refused or leaves the source)."""

    __tablename__ = "base_claims"
    # Finds the claims of rows a pass refuses or the source removed.
    __table_args__ = (Index("ix_base_claims_row", "job_id", "source_key"),)

    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind), primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())
    batch_id: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BaseLink(Base):
    """A row whose key is broken, linked to a base record by probabilistic matching: a suggestion for its
    department to correct the row (the row stays rejected until it does), and a lead for the base record."""

    __tablename__ = "base_links"
    __table_args__ = (
        UniqueConstraint("job_id", "source_key", "base"),
        Index("ix_base_links_key", "base", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind))
    key: Mapped[str] = mapped_column(KEY)
    job_id: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(200))
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    pass_id: Mapped[int] = mapped_column(ForeignKey("gov_passes.id", ondelete="CASCADE"), index=True)
    written_key: Mapped[str] = mapped_column(String(200))  # the broken number as the department wrote it
    probability: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Conflict(Base):
    """Sources disagree on an attribute of a base record. Never resolved by silent overwrite: the
    priority source's value is used and the disagreement stays open for the departments involved."""

    __tablename__ = "gov_conflicts"
    __table_args__ = (UniqueConstraint("base", "key", "attribute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[BaseKind] = mapped_column(str_enum(BaseKind))
    key: Mapped[str] = mapped_column(KEY)
    attribute: Mapped[str] = mapped_column(String(64))
    claims: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{department, source, value, batch, at}]
    departments: Mapped[str] = mapped_column(String(500))  # ",GAJ,MZJ," for a cheap "involves" filter
    open: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QualitySnapshot(Base):
    """One measurement of a resource's data quality; a series of them is its chart."""

    __tablename__ = "gov_quality"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rows: Mapped[int] = mapped_column(BigInteger)
    completeness: Mapped[float] = mapped_column(Float)
    validity: Mapped[float] = mapped_column(Float)
    uniqueness: Mapped[float | None] = mapped_column(Float)  # None: the resource has no identifying item
    consistency: Mapped[float | None] = mapped_column(Float)  # None: it feeds no base database
    timeliness: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Problem(Base):
    """数据质量问题: something wrong with a department's data, for its officer to fix."""

    __tablename__ = "gov_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    dimension: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))  # item name or rule id the problem is about
    description: Mapped[str] = mapped_column(Text)
    affected: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ProblemStatus] = mapped_column(
        str_enum(ProblemStatus), default=ProblemStatus.OPEN, index=True
    )
    assignee: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resource: Mapped[Resource] = relationship(lazy="raise")


class ProblemEvent(Base):
    """Every step of a problem: opened, assigned, fixed, re-checked (closed or reopened)."""

    __tablename__ = "gov_problem_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("gov_problems.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
