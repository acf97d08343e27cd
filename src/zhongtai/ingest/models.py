"""Ingestion (数据归集): sources, jobs, runs (批次), rejected rows and the raw zone."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import func

from zhongtai.catalog.models import Resource
from zhongtai.core.database import Base
from zhongtai.core.types import JSONText, UTCDateTime, str_enum, utcnow
from zhongtai.orgs.models import InformationSystem


class SourceKind(enum.StrEnum):
    DATABASE = "database"
    FILE = "file"
    HTTP = "http"


class ObjectKind(enum.StrEnum):
    """What a job reads from its source."""

    TABLE = "table"
    QUERY = "query"
    FILES = "files"
    ENDPOINT = "endpoint"


class JobMode(enum.StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process died; the next run of the job starts over from the watermark
    SKIPPED = "skipped"  # a scheduled slot that found the job already running


class Source(Base):
    """A connection to one department system: a database, an inbox of files, or an HTTP API."""

    __tablename__ = "ingest_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    system_id: Mapped[int] = mapped_column(
        ForeignKey("information_systems.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Fernet token of the password / API token; never returned by any interface.
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    system: Mapped[InformationSystem] = relationship(lazy="raise")


class Job(Base):
    """归集任务: what to read from a source and how it maps onto a catalog resource's items."""

    __tablename__ = "ingest_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[int] = mapped_column(ForeignKey("ingest_sources.id", ondelete="RESTRICT"), index=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="RESTRICT"), index=True
    )
    object_kind: Mapped[ObjectKind] = mapped_column(str_enum(ObjectKind))
    source_object: Mapped[str] = mapped_column(Text)
    key_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[JobMode] = mapped_column(str_enum(JobMode), default=JobMode.FULL)
    watermark_column: Mapped[str | None] = mapped_column(String(100))
    watermark: Mapped[str | None] = mapped_column(String(500))
    mapping: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    schedule: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    source: Mapped[Source] = relationship(lazy="raise")
    resource: Mapped[Resource] = relationship(lazy="raise")


class Run(Base):
    """批次: one execution of a job. Its id is the batch id stamped on every raw row it wrote."""

    __tablename__ = "ingest_runs"
    # A scheduled slot is claimed once, whichever worker gets there first.
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("ingest_jobs.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus), default=RunStatus.RUNNING)
    worker: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_removed: Mapped[int] = mapped_column(BigInteger, default=0)  # full mode: gone from the source
    watermark_before: Mapped[str | None] = mapped_column(String(500))
    watermark_after: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)


class RejectedRow(Base):
    """A source row that did not make it into the raw zone, with the reason. Never silently dropped."""

    __tablename__ = "ingest_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(BigInteger)
    source_key: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)


class RawRecord(Base):
    """The raw zone: the latest gathered version of each source row, keyed by job and source key
    (the job names the catalog resource the row belongs to).

    Re-running a batch or an overlapping window rewrites the same keys, so it is idempotent. No other
    index: every one would slow the bulk load, and browsing goes by job (the key's prefix).
    """

    __tablename__ = "raw_records"

    # No foreign key: PostgreSQL checks one per inserted row, which costs bulk loads ~40%; jobs are never
    # deleted, only disabled, so the reference cannot dangle.
    job_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Byte-order collation on PostgreSQL: keys are identifiers; the locale's rules would slow every insert.
    source_key: Mapped[str] = mapped_column(
        String(200).with_variant(String(200, collation="C"), "postgresql"), primary_key=True
    )
    batch_id: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    row_hash: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())
