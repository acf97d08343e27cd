"""health code correction requests (纠错申诉)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:47:22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "healthcode_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("masked_name", sa.String(length=50), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("fact", sa.String(length=24), nullable=False),
        sa.Column("record", sa.String(length=120), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "upheld",
                "rejected",
                name="correctionstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_healthcode_corrections_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_corrections")),
    )
    with op.batch_alter_table("healthcode_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_healthcode_corrections_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_healthcode_corrections_department"), ["department"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_healthcode_corrections_subject"), ["subject"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("healthcode_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_corrections_subject"))
        batch_op.drop_index(batch_op.f("ix_healthcode_corrections_department"))
        batch_op.drop_index(batch_op.f("ix_healthcode_corrections_citizen_id"))

    op.drop_table("healthcode_corrections")
