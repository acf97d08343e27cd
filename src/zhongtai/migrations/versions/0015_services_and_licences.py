"""services and licences

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:38:30.669040
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_ROLES = ("operator", "officer", "reviewer", "consumer", "developer", "auditor")
NEW_ROLES = (*OLD_ROLES, "caseworker")


def _role(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="role", native_enum=False, create_constraint=True, length=24)


def _set_roles(new: tuple[str, ...], old: tuple[str, ...]) -> None:
    """A role's CHECK constraint lists the roles: the table is rebuilt with the new list (batch mode)."""
    with op.batch_alter_table("user_roles", recreate="always") as batch_op:
        batch_op.alter_column("role", type_=_role(new), existing_type=_role(old), existing_nullable=False)


def upgrade() -> None:
    _set_roles(NEW_ROLES, OLD_ROLES)
    op.create_table(
        "lic_licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_subject", sa.String(length=64), nullable=False),
        sa.Column("holder_masked_id", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("subject_line", sa.Text(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "valid", "revoked", name="licencestatus", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lic_licences")),
        sa.UniqueConstraint("number", name=op.f("uq_lic_licences_number")),
    )
    with op.batch_alter_table("lic_licences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lic_licences_holder_subject"), ["holder_subject"], unique=False)

    op.create_table(
        "svc_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "applicant_kind",
            sa.Enum(
                "person",
                "enterprise",
                name="applicantkind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("co_departments", sa.JSON(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_svc_items_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_items")),
        sa.UniqueConstraint("code", name=op.f("uq_svc_items_code")),
    )
    with op.batch_alter_table("svc_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_items_department_id"), ["department_id"], unique=False)

    op.create_table(
        "svc_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "applicant_kind",
            sa.Enum(
                "person",
                "enterprise",
                name="applicantkind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("applicant_subject", sa.String(length=64), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_key_sealed", sa.Text(), nullable=False),
        sa.Column("filed_by_subject", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "in_review",
                "returned",
                "approved",
                "refused",
                "withdrawn",
                name="casestatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("caseworker", sa.String(length=64), nullable=True),
        sa.Column("counter_visits", sa.Integer(), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_svc_cases_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["svc_items.id"], name=op.f("fk_svc_cases_item_id_svc_items"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_svc_cases_number")),
    )
    with op.batch_alter_table("svc_cases", schema=None) as batch_op:
        batch_op.create_index("ix_svc_cases_applicant", ["applicant_subject", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_cases_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_cases_filed_by_subject"), ["filed_by_subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_cases_item_id"), ["item_id"], unique=False)

    op.create_table(
        "svc_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "upload",
                "data",
                "licence",
                name="materialsource",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("resource_code", sa.String(length=64), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("key_item", sa.String(length=100), nullable=True),
        sa.Column(
            "key_from",
            sa.Enum(
                "applicant", "field", name="keyfrom", native_enum=False, create_constraint=True, length=24
            ),
            nullable=True,
        ),
        sa.Column("field_label", sa.String(length=100), nullable=True),
        sa.Column("none_is_answer", sa.Boolean(), nullable=False),
        sa.Column("licence_type", sa.String(length=50), nullable=True),
        sa.Column("capability", sa.String(length=64), nullable=True),
        sa.Column(
            "review",
            sa.Enum(
                "pending",
                "approved",
                "returned",
                name="review",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("review_comment", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["svc_items.id"], name=op.f("fk_svc_materials_item_id_svc_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_materials")),
        sa.UniqueConstraint("item_id", "position", name=op.f("uq_svc_materials_item_id")),
    )
    with op.batch_alter_table("svc_materials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_materials_item_id"), ["item_id"], unique=False)

    op.create_table(
        "svc_case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "draft",
                "submitted",
                "in_review",
                "returned",
                "approved",
                "refused",
                "withdrawn",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "draft",
                "submitted",
                "in_review",
                "returned",
                "approved",
                "refused",
                "withdrawn",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["svc_cases.id"],
            name=op.f("fk_svc_case_events_case_id_svc_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_case_events")),
    )
    with op.batch_alter_table("svc_case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "svc_case_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "to_fetch",
                "fetched",
                "uploaded",
                "needed",
                name="materialoutcome",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("fallback_reason", sa.String(length=300), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("file_type", sa.String(length=100), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["svc_cases.id"],
            name=op.f("fk_svc_case_materials_case_id_svc_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["svc_materials.id"],
            name=op.f("fk_svc_case_materials_material_id_svc_materials"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_case_materials")),
        sa.UniqueConstraint("case_id", "material_id", name=op.f("uq_svc_case_materials_case_id")),
    )
    with op.batch_alter_table("svc_case_materials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_case_materials_case_id"), ["case_id"], unique=False)

    op.create_table(
        "svc_case_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "answered", name="taskstatus", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.Column("asked_by", sa.String(length=64), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["svc_cases.id"],
            name=op.f("fk_svc_case_tasks_case_id_svc_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_svc_case_tasks_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_case_tasks")),
    )
    with op.batch_alter_table("svc_case_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_case_tasks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_case_tasks_department_id"), ["department_id"], unique=False)

    op.create_table(
        "svc_savings",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["svc_cases.id"], name=op.f("fk_svc_savings_case_id_svc_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_svc_savings")),
    )
    with op.batch_alter_table("svc_savings", schema=None) as batch_op:
        batch_op.create_index("ix_svc_savings_day", ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_savings_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_savings_item_id"), ["item_id"], unique=False)

    with op.batch_alter_table("sharing_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_ref", sa.String(length=40), nullable=True))
        batch_op.alter_column("application_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_sharing_grants_case_ref"), ["case_ref"], unique=False)


def downgrade() -> None:
    _set_roles(OLD_ROLES, NEW_ROLES)
    with op.batch_alter_table("sharing_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_grants_case_ref"))
        batch_op.alter_column("application_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("case_ref")

    with op.batch_alter_table("svc_savings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_savings_item_id"))
        batch_op.drop_index(batch_op.f("ix_svc_savings_department_id"))
        batch_op.drop_index("ix_svc_savings_day")

    op.drop_table("svc_savings")
    with op.batch_alter_table("svc_case_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_case_tasks_department_id"))
        batch_op.drop_index(batch_op.f("ix_svc_case_tasks_case_id"))

    op.drop_table("svc_case_tasks")
    with op.batch_alter_table("svc_case_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_case_materials_case_id"))

    op.drop_table("svc_case_materials")
    with op.batch_alter_table("svc_case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_case_events_case_id"))

    op.drop_table("svc_case_events")
    with op.batch_alter_table("svc_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_materials_item_id"))

    op.drop_table("svc_materials")
    with op.batch_alter_table("svc_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_cases_item_id"))
        batch_op.drop_index(batch_op.f("ix_svc_cases_filed_by_subject"))
        batch_op.drop_index(batch_op.f("ix_svc_cases_department_id"))
        batch_op.drop_index("ix_svc_cases_applicant")

    op.drop_table("svc_cases")
    with op.batch_alter_table("svc_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_items_department_id"))

    op.drop_table("svc_items")
    with op.batch_alter_table("lic_licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lic_licences_holder_subject"))

    op.drop_table("lic_licences")
