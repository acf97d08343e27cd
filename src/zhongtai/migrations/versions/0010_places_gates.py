"""health code places, gates, passages and visits; the healthcode.verify capability operation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:04:39
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OPERATIONS = ["lookup", "list", "verify", "license_verify", "proxy"]


def _operation(values: list[str]) -> sa.Enum:
    return sa.Enum(*values, name="operation", native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    with op.batch_alter_table("capabilities", schema=None) as batch_op:
        batch_op.alter_column(
            "operation",
            existing_type=_operation(OPERATIONS),
            type_=_operation([*OPERATIONS, "healthcode_verify"]),
            existing_nullable=False,
        )
    op.create_table(
        "healthcode_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("street", sa.String(length=60), nullable=False),
        sa.Column("office", sa.String(length=32), nullable=False),
        sa.Column("owner_citizen_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "returned",
                name="placestatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("code_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_citizen_id"],
            ["citizens.id"],
            name=op.f("fk_healthcode_places_owner_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_places")),
        sa.UniqueConstraint("code", name=op.f("uq_healthcode_places_code")),
    )
    with op.batch_alter_table("healthcode_places", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_healthcode_places_owner_citizen_id"), ["owner_citizen_id"], unique=False
        )

    op.create_table(
        "healthcode_gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["healthcode_places.id"],
            name=op.f("fk_healthcode_gates_place_id_healthcode_places"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_gates")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_healthcode_gates_token_hash")),
    )
    with op.batch_alter_table("healthcode_gates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_gates_place_id"), ["place_id"], unique=False)

    op.create_table(
        "healthcode_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("colour", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["healthcode_places.id"],
            name=op.f("fk_healthcode_visits_place_id_healthcode_places"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_visits")),
    )
    with op.batch_alter_table("healthcode_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_visits_place_id"), ["place_id"], unique=False)
        batch_op.create_index("ix_healthcode_visits_subject_at", ["subject", "at"], unique=False)

    op.create_table(
        "healthcode_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("colour", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=24), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["gate_id"],
            ["healthcode_gates.id"],
            name=op.f("fk_healthcode_passages_gate_id_healthcode_gates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_passages")),
    )
    with op.batch_alter_table("healthcode_passages", schema=None) as batch_op:
        batch_op.create_index("ix_healthcode_passages_place_at", ["place_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_healthcode_passages_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("capabilities", schema=None) as batch_op:
        batch_op.alter_column(
            "operation",
            existing_type=_operation([*OPERATIONS, "healthcode_verify"]),
            type_=_operation(OPERATIONS),
            existing_nullable=False,
        )
    with op.batch_alter_table("healthcode_passages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_passages_subject"))
        batch_op.drop_index("ix_healthcode_passages_place_at")

    op.drop_table("healthcode_passages")
    with op.batch_alter_table("healthcode_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_healthcode_visits_subject_at")
        batch_op.drop_index(batch_op.f("ix_healthcode_visits_place_id"))

    op.drop_table("healthcode_visits")
    with op.batch_alter_table("healthcode_gates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_gates_place_id"))

    op.drop_table("healthcode_gates")
    with op.batch_alter_table("healthcode_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_places_owner_citizen_id"))

    op.drop_table("healthcode_places")
