"""health code feeds: where each pulled feed has got to

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 18:17:28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "healthcode_feeds",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_healthcode_feeds")),
    )


def downgrade() -> None:

    op.drop_table("healthcode_feeds")
