"""health code rules, evidence and colours

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "healthcode_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_healthcode_rules")),
    )
    op.create_table(
        "healthcode_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("fact", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("record", sa.String(length=120), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_evidence")),
    )
    op.create_index("ix_healthcode_evidence_subject_at", "healthcode_evidence", ["subject", "at"])
    op.create_table(
        "healthcode_colours",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("colour", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_healthcode_colours")),
    )
    op.create_table(
        "healthcode_colour_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("colour", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_colour_history")),
    )
    op.create_index("ix_healthcode_colour_history_subject", "healthcode_colour_history", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_healthcode_colour_history_subject", table_name="healthcode_colour_history")
    op.drop_table("healthcode_colour_history")
    op.drop_table("healthcode_colours")
    op.drop_index("ix_healthcode_evidence_subject_at", table_name="healthcode_evidence")
    op.drop_table("healthcode_evidence")
    op.drop_table("healthcode_rules")
