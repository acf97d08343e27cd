"""Resumption applications (复工复产申报) and their employees (by pseudonym)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 22:00:35.154704
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "healthcode_resumptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("regulator", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "approved",
                "returned",
                "refused",
                name="resumptionstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_resumptions")),
        sa.UniqueConstraint("number", name=op.f("uq_healthcode_resumptions_number")),
    )
    with op.batch_alter_table("healthcode_resumptions", schema=None) as batch_op:
        batch_op.create_index("ix_healthcode_resumptions_enterprise", ["enterprise", "id"], unique=False)

    op.create_table(
        "healthcode_resumption_employees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resumption_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["resumption_id"],
            ["healthcode_resumptions.id"],
            name=op.f("fk_healthcode_resumption_employees_resumption_id_healthcode_resumptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_resumption_employees")),
        sa.UniqueConstraint(
            "resumption_id", "subject", name=op.f("uq_healthcode_resumption_employees_resumption_id")
        ),
    )
    with op.batch_alter_table("healthcode_resumption_employees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_healthcode_resumption_employees_resumption_id"), ["resumption_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_healthcode_resumption_employees_subject"), ["subject"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("healthcode_resumption_employees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_resumption_employees_subject"))
        batch_op.drop_index(batch_op.f("ix_healthcode_resumption_employees_resumption_id"))

    op.drop_table("healthcode_resumption_employees")
    with op.batch_alter_table("healthcode_resumptions", schema=None) as batch_op:
        batch_op.drop_index("ix_healthcode_resumptions_enterprise")

    op.drop_table("healthcode_resumptions")
