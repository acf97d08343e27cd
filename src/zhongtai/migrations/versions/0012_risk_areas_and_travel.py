"""health code risk areas and travel declarations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:45:21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "healthcode_risk_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("district", sa.String(length=6), nullable=False),
        sa.Column("street", sa.String(length=60), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("declared_by", sa.String(length=64), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_risk_areas")),
    )
    op.create_table(
        "healthcode_travels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["healthcode_risk_areas.id"],
            name=op.f("fk_healthcode_travels_area_id_healthcode_risk_areas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_travels")),
    )
    with op.batch_alter_table("healthcode_travels", schema=None) as batch_op:
        batch_op.create_index("ix_healthcode_travels_area", ["area_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_healthcode_travels_subject"), ["subject"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("healthcode_travels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_travels_subject"))
        batch_op.drop_index("ix_healthcode_travels_area")

    op.drop_table("healthcode_travels")
    op.drop_table("healthcode_risk_areas")
