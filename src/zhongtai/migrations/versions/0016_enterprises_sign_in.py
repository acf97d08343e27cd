"""Enterprises sign in on the public side (a kind beside persons; names as long as an enterprise's)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:07:10.533030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_sign_in_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="person"))
        batch_op.alter_column(
            "name", existing_type=sa.VARCHAR(length=50), type_=sa.String(length=200), existing_nullable=False
        )

    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="person"))
        batch_op.alter_column(
            "name", existing_type=sa.VARCHAR(length=50), type_=sa.String(length=200), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(length=200), type_=sa.VARCHAR(length=50), existing_nullable=False
        )
        batch_op.drop_column("kind")

    with op.batch_alter_table("citizen_sign_in_codes", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(length=200), type_=sa.VARCHAR(length=50), existing_nullable=False
        )
        batch_op.drop_column("kind")
