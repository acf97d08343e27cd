"""Open data: datasets, their versioned releases and the released rows

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("access", sa.String(length=16), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("theme", sa.String(length=8), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_open_datasets_resource_id_catalog_resources"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_open_datasets_name")),
        sa.UniqueConstraint("resource_id", name=op.f("uq_open_datasets_resource_id")),
    )
    op.create_table(
        "open_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["open_datasets.id"],
            name=op.f("fk_open_releases_dataset_id_open_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_releases")),
        sa.UniqueConstraint("dataset_id", "version", name=op.f("uq_open_releases_dataset_id")),
    )
    op.create_index(op.f("ix_open_releases_dataset_id"), "open_releases", ["dataset_id"], unique=False)
    op.create_table(
        "open_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_rows")),
    )
    op.create_index("ix_open_rows_release", "open_rows", ["release_id", "row_number"], unique=True)
    op.create_table(
        "open_resources",
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["open_datasets.id"],
            name=op.f("fk_open_resources_dataset_id_open_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_open_resources")),
    )
    op.create_index(op.f("ix_open_resources_dataset_id"), "open_resources", ["dataset_id"], unique=False)
    op.create_table(
        "open_files",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["open_releases.id"],
            name=op.f("fk_open_files_release_id_open_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_id", "kind", "part", name=op.f("pk_open_files")),
    )


def downgrade() -> None:
    op.drop_table("open_files")
    op.drop_index(op.f("ix_open_resources_dataset_id"), table_name="open_resources")
    op.drop_table("open_resources")
    op.drop_index("ix_open_rows_release", table_name="open_rows")
    op.drop_table("open_rows")
    op.drop_index(op.f("ix_open_releases_dataset_id"), table_name="open_releases")
    op.drop_table("open_releases")
    op.drop_table("open_datasets")
