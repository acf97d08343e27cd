"""Scheduled reports upstream (定期报送)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 23:11:07.600916
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sharing_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("producer", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_reports")),
        sa.UniqueConstraint("code", name=op.f("uq_sharing_reports_code")),
    )
    op.create_table(
        "sharing_report_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["sharing_reports.id"],
            name=op.f("fk_sharing_report_deliveries_report_id_sharing_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_report_deliveries")),
        sa.UniqueConstraint("report_id", "period", name=op.f("uq_sharing_report_deliveries_report_id")),
    )
    with op.batch_alter_table("sharing_report_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_report_deliveries_report_id"), ["report_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sharing_report_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_report_deliveries_report_id"))

    op.drop_table("sharing_report_deliveries")
    op.drop_table("sharing_reports")
