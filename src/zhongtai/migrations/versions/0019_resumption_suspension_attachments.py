"""Resumption applications: attachments, the site's district, where the employees came from, suspension;
employees' masked labels

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 23:02:22.278159
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("submitted", "approved", "returned", "refused")
NEW_STATUSES = (*OLD_STATUSES, "suspended")


def _status(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="resumptionstatus", native_enum=False, create_constraint=True, length=24)


CHECK = "resumptionstatus"  # the Enum's name, as 0018 created it


def _statuses_check(values: tuple[str, ...]) -> None:
    """The status's CHECK constraint lists the statuses: SQLite rebuilds the table (batch mode), PostgreSQL
    replaces the constraint (a rebuild there would drop the primary key the employees' foreign key uses)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("healthcode_resumptions", schema=None, recreate="always") as batch_op:
            others = NEW_STATUSES if values == OLD_STATUSES else OLD_STATUSES
            batch_op.alter_column(
                "status", type_=_status(values), existing_type=_status(others), existing_nullable=False
            )
        return
    op.drop_constraint(CHECK, "healthcode_resumptions", type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(CHECK, "healthcode_resumptions", f"status IN ({listed})")


def upgrade() -> None:
    with op.batch_alter_table("healthcode_resumption_employees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("healthcode_resumptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("street", sa.String(length=60), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="upload")
        )
        batch_op.add_column(sa.Column("attachments", sa.Text(), nullable=False, server_default="[]"))
    _statuses_check(NEW_STATUSES)


def downgrade() -> None:
    _statuses_check(OLD_STATUSES)
    with op.batch_alter_table("healthcode_resumptions", schema=None) as batch_op:
        batch_op.drop_column("attachments")
        batch_op.drop_column("source")
        batch_op.drop_column("street")
        batch_op.drop_column("district")
    with op.batch_alter_table("healthcode_resumption_employees", schema=None) as batch_op:
        batch_op.drop_column("label")
