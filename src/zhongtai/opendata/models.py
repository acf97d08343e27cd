"""Open datasets, their versioned releases and the released rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import JSONText, UTCDateTime, utcnow


class OpenDataset(Base):
    """A catalog resource opened to the public (or to approved applicants) by its release rules."""

    __tablename__ = "open_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="RESTRICT"), unique=True
    )
    name: Mapped[str] = mapped_column(String(100), unique=True)  # CKAN's name: lower-case, digits, - and _
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    access: Mapped[str] = mapped_column(String(16))  # open | conditional (the resource's open type)
    license_id: Mapped[str] = mapped_column(String(32), default="cc-by-4.0")
    theme: Mapped[str] = mapped_column(String(8), default="GOVE")  # EU data theme (DCAT-AP)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # item -> keep | drop | month | district | year (what the release does with each of the resource's items)
    rules: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    release_id: Mapped[int | None] = mapped_column(Integer)  # the current release
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64))


class OpenRelease(Base):
    """One version of a dataset's released rows; older ones stay downloadable."""

    __tablename__ = "open_releases"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("open_datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[str]] = mapped_column(JSON)
    rules: Mapped[dict[str, str]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(
        String(64)
    )  # SHA-256 of the released rows: unchanged data, no new version
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class OpenRow(Base):
    """A released row: only the columns the release rules let out, already generalised."""

    __tablename__ = "open_rows"
    __table_args__ = (Index("ix_open_rows_release", "release_id", "row_number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(Integer)
    row_number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONText())


class OpenResource(Base):
    """The CKAN resource ids of a dataset's distributions (one per download format), for direct lookups."""

    __tablename__ = "open_resources"

    uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("open_datasets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))


class OpenFile(Base):
    """A release's download files (CSV, JSON), written with the release in parts of about a megabyte: the
    versioned files every server streams, kept in the database so they share its transaction."""

    __tablename__ = "open_files"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("open_releases.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OpenApplication(Base):
    """An application to use a conditionally open dataset: a signed-in citizen or enterprise of the public
    side states a purpose; the provider department approves or refuses, with reasons, by a deadline."""

    __tablename__ = "open_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("open_datasets.id", ondelete="CASCADE"), index=True)
    applicant: Mapped[str] = mapped_column(String(64), index=True)  # the citizen's subject (keyed)
    applicant_kind: Mapped[str] = mapped_column(String(16))  # person | enterprise
    applicant_name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # submitted|approved|refused|revoked
    reason: Mapped[str] = mapped_column(Text, default="")
    daily_quota: Mapped[int] = mapped_column(Integer)  # calls a day its key may make
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # past due: told to the bureau
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # approved use ends then
    # Calls counted on the application, not its key: a new key does not start the day's count again.
    day: Mapped[str] = mapped_column(String(10), default="")  # the Beijing day ``calls`` counts
    calls: Mapped[int] = mapped_column(Integer, default=0)


class OpenApiKey(Base):
    """The API key of an approved application, scoped to its dataset: only its SHA-256 kept."""

    __tablename__ = "open_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("open_applications.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown so its holder can tell keys apart
    # The new key, sealed, until its holder's next page shows it once (then cleared): a reload of that
    # page neither shows it again nor makes another key.
    reveal_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
