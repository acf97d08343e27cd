"""public side citizens and the audit subject

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:52:32
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "citizen_demo_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_demo_inbox")),
    )
    with op.batch_alter_table("citizen_demo_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_demo_inbox_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "citizen_sign_in_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("id_number_sealed", sa.Text(), nullable=False),
        sa.Column("mobile_sealed", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_sign_in_codes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_citizen_sign_in_codes_token_hash")),
    )
    with op.batch_alter_table("citizen_sign_in_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_sign_in_codes_subject"), ["subject"], unique=False)

    op.create_table(
        "citizen_sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_sign_in_failures")),
    )
    with op.batch_alter_table("citizen_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_sign_in_failures_key_at", ["key", "at"], unique=False)

    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("id_number_sealed", sa.Text(), nullable=False),
        sa.Column("mobile_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("subject", name=op.f("uq_citizens_subject")),
    )
    op.create_table(
        "citizen_family",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("id_number_sealed", sa.Text(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_citizen_family_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_family")),
        sa.UniqueConstraint("citizen_id", "subject", name=op.f("uq_citizen_family_citizen_id")),
    )
    with op.batch_alter_table("citizen_family", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_family_citizen_id"), ["citizen_id"], unique=False)

    op.create_table(
        "citizen_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_citizen_sessions_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_citizen_sessions_token_hash")),
    )
    with op.batch_alter_table("citizen_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_sessions_citizen_id"), ["citizen_id"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_subject"), ["subject"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_subject"))
        batch_op.drop_column("subject")

    with op.batch_alter_table("citizen_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_sessions_citizen_id"))

    op.drop_table("citizen_sessions")
    with op.batch_alter_table("citizen_family", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_family_citizen_id"))

    op.drop_table("citizen_family")
    op.drop_table("citizens")
    with op.batch_alter_table("citizen_sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_sign_in_failures_key_at")

    op.drop_table("citizen_sign_in_failures")
    with op.batch_alter_table("citizen_sign_in_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_sign_in_codes_subject"))

    op.drop_table("citizen_sign_in_codes")
    with op.batch_alter_table("citizen_demo_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_demo_inbox_sent_at"))

    op.drop_table("citizen_demo_inbox")
