"""Open data: applications for conditionally open datasets and their scoped API keys

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("applicant", sa.String(length=64), nullable=False),
        sa.Column("applicant_kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["open_datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("open_applications") as batch_op:
        batch_op.create_index(batch_op.f("ix_open_applications_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_open_applications_applicant"), ["applicant"], unique=False)
        batch_op.create_index(batch_op.f("ix_open_applications_due_at"), ["due_at"], unique=False)
    op.create_table(
        "open_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("reveal_sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["open_applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("open_api_keys") as batch_op:
        batch_op.create_index(batch_op.f("ix_open_api_keys_application_id"), ["application_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_open_api_keys_application_id"), table_name="open_api_keys")
    op.drop_table("open_api_keys")
    op.drop_index(op.f("ix_open_applications_due_at"), table_name="open_applications")
    op.drop_index(op.f("ix_open_applications_applicant"), table_name="open_applications")
    op.drop_index(op.f("ix_open_applications_dataset_id"), table_name="open_applications")
    op.drop_table("open_applications")
