"""Contact tracing (流调): traces and the contacts they found; visits findable by place and time

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:40:16.431467
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "healthcode_traces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("case_subject", sa.String(length=64), nullable=False),
        sa.Column("case_record", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="tracestatus", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_degree", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_traces")),
        sa.UniqueConstraint("number", name=op.f("uq_healthcode_traces_number")),
    )
    with op.batch_alter_table("healthcode_traces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_traces_case_subject"), ["case_subject"], unique=False)

    op.create_table(
        "healthcode_trace_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("degree", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "found",
                "confirmed",
                "dismissed",
                name="contactstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["healthcode_traces.id"],
            name=op.f("fk_healthcode_trace_contacts_trace_id_healthcode_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_trace_contacts")),
        sa.UniqueConstraint("trace_id", "subject", name=op.f("uq_healthcode_trace_contacts_trace_id")),
    )
    with op.batch_alter_table("healthcode_trace_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_trace_contacts_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_healthcode_trace_contacts_trace_id"), ["trace_id"], unique=False)

    with op.batch_alter_table("healthcode_visits", schema=None) as batch_op:
        batch_op.create_index("ix_healthcode_visits_place_at", ["place_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("healthcode_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_healthcode_visits_place_at")

    with op.batch_alter_table("healthcode_trace_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_trace_contacts_trace_id"))
        batch_op.drop_index(batch_op.f("ix_healthcode_trace_contacts_subject"))

    op.drop_table("healthcode_trace_contacts")
    with op.batch_alter_table("healthcode_traces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_traces_case_subject"))

    op.drop_table("healthcode_traces")
