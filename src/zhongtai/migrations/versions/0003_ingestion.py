"""Ingestion: sources, jobs, runs (batches), rejected rows and the raw zone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "database",
                "file",
                "http",
                name="sourcekind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("last_tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_message", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["information_systems.id"],
            name=op.f("fk_ingest_sources_system_id_information_systems"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_sources")),
        sa.UniqueConstraint("code", name=op.f("uq_ingest_sources_code")),
    )
    with op.batch_alter_table("ingest_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_sources_system_id"), ["system_id"], unique=False)

    op.create_table(
        "ingest_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column(
            "object_kind",
            sa.Enum(
                "table",
                "query",
                "files",
                "endpoint",
                name="objectkind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("source_object", sa.Text(), nullable=False),
        sa.Column("key_columns", sa.JSON(), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "full", "incremental", name="jobmode", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("watermark_column", sa.String(length=100), nullable=True),
        sa.Column("watermark", sa.String(length=500), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_ingest_jobs_resource_id_catalog_resources"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["ingest_sources.id"],
            name=op.f("fk_ingest_jobs_source_id_ingest_sources"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_jobs")),
        sa.UniqueConstraint("code", name=op.f("uq_ingest_jobs_code")),
    )
    with op.batch_alter_table("ingest_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_jobs_resource_id"), ["resource_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_jobs_source_id"), ["source_id"], unique=False)

    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                "interrupted",
                "skipped",
                name="runstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("rows_removed", sa.BigInteger(), nullable=False),
        sa.Column("watermark_before", sa.String(length=500), nullable=True),
        sa.Column("watermark_after", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["ingest_jobs.id"], name=op.f("fk_ingest_runs_job_id_ingest_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
        sa.UniqueConstraint("job_id", "scheduled_for", name=op.f("uq_ingest_runs_job_id")),
    )
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_runs_job_id"), ["job_id"], unique=False)

    op.create_table(
        "raw_records",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column(
            "source_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("row_hash", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "source_key", name=op.f("pk_raw_records")),
    )
    op.create_table(
        "ingest_rejects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["ingest_runs.id"],
            name=op.f("fk_ingest_rejects_run_id_ingest_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejects")),
    )
    with op.batch_alter_table("ingest_rejects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_rejects_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_rejects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_rejects_run_id"))

    op.drop_table("ingest_rejects")
    op.drop_table("raw_records")
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_runs_job_id"))

    op.drop_table("ingest_runs")
    with op.batch_alter_table("ingest_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_jobs_source_id"))
        batch_op.drop_index(batch_op.f("ix_ingest_jobs_resource_id"))

    op.drop_table("ingest_jobs")
    with op.batch_alter_table("ingest_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_sources_system_id"))

    op.drop_table("ingest_sources")
