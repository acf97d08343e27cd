"""The big screen: rollups, kiosk links, risk-crowd profiles, the screen role

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("operator", "officer", "reviewer", "consumer", "developer", "auditor", "caseworker")
NEW_ROLES = (*OLD_ROLES, "screen")


def _role(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="role", native_enum=False, create_constraint=True, length=24)


def _set_roles(new: tuple[str, ...], old: tuple[str, ...]) -> None:
    """A role's CHECK constraint lists the roles: the table is rebuilt with the new list (batch mode)."""
    with op.batch_alter_table("user_roles", recreate="always") as batch_op:
        batch_op.alter_column("role", type_=_role(new), existing_type=_role(old), existing_nullable=False)


def upgrade() -> None:
    _set_roles(NEW_ROLES, OLD_ROLES)
    op.create_table(
        "rollup_counts",
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("dim", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "dim", "minute", name=op.f("pk_rollup_counts")),
    )
    op.create_index("ix_rollup_counts_minute", "rollup_counts", ["minute"], unique=False)
    op.create_table(
        "rollup_gauges",
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("dim", sa.String(length=64), nullable=False),
        sa.Column("feed", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "dim", name=op.f("pk_rollup_gauges")),
    )
    op.create_index(op.f("ix_rollup_gauges_feed"), "rollup_gauges", ["feed"], unique=False)
    op.create_table(
        "rollup_marks",
        sa.Column("feed", sa.String(length=48), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_rollup_marks")),
    )
    op.create_table(
        "screen_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_screen_links_token_hash")),
    )
    op.create_table(
        "screen_profiles",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=8), nullable=False),
        sa.Column("street", sa.String(length=60), nullable=False),
        sa.Column("age_band", sa.String(length=8), nullable=False),
        sa.Column("sex", sa.String(length=4), nullable=False),
        sa.Column("industry", sa.String(length=60), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_screen_profiles")),
    )
    op.create_table(
        "screen_state",
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_screen_state")),
    )
    # The ledger's totals so far: from now on each finished case adds its own in its transaction.
    op.execute(
        "INSERT INTO rollup_counts (metric, dim, minute, value) "
        "SELECT 'services.cases', '', 0, count(*) FROM svc_savings HAVING count(*) > 0"
    )
    op.execute(
        "INSERT INTO rollup_counts (metric, dim, minute, value) "
        "SELECT 'services.saved', '', 0, sum(submissions) FROM svc_savings HAVING count(*) > 0"
    )
    op.execute(
        "INSERT INTO rollup_counts (metric, dim, minute, value) "
        "SELECT 'services.trips', '', 0, sum(trips) FROM svc_savings HAVING count(*) > 0"
    )


def downgrade() -> None:
    op.drop_table("screen_state")
    op.drop_table("screen_profiles")
    op.drop_table("screen_links")
    op.drop_table("rollup_marks")
    op.drop_index(op.f("ix_rollup_gauges_feed"), table_name="rollup_gauges")
    op.drop_table("rollup_gauges")
    op.drop_index("ix_rollup_counts_minute", table_name="rollup_counts")
    op.drop_table("rollup_counts")
    op.execute("DELETE FROM user_roles WHERE role = 'screen'")
    _set_roles(OLD_ROLES, NEW_ROLES)
