"""objections (异议) to accesses of one's data

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 19:34:04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "answered",
                name="objectionstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_audit_objections_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_objections")),
    )
    with op.batch_alter_table("audit_objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_objections_citizen_id"), ["citizen_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_objections_subject"), ["subject"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("audit_objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_objections_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_objections_citizen_id"))

    op.drop_table("audit_objections")
