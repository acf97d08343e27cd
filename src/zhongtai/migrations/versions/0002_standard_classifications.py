"""Standard top levels of the catalog classification (类 and the base resources' 项).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (code, name, English name, parent, level)
STANDARD = [
    ("1", "基础信息资源", "Base information resources", None, 1),
    ("2", "主题信息资源", "Thematic information resources", None, 1),
    ("3", "部门信息资源", "Departmental information resources", None, 1),
    ("101", "人口基础信息", "Population", "1", 2),
    ("102", "法人单位基础信息", "Legal entities", "1", 2),
    ("103", "自然资源和空间地理基础信息", "Natural resources and geospatial", "1", 2),
    ("104", "社会信用基础信息", "Social credit", "1", 2),
    ("105", "电子证照基础信息", "Electronic licenses", "1", 2),
]

classifications = sa.table(
    "catalog_classifications",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("name_en", sa.String),
    sa.column("parent_code", sa.String),
    sa.column("level", sa.Integer),
)


def upgrade() -> None:
    op.bulk_insert(
        classifications,
        [
            {"code": code, "name": name, "name_en": name_en, "parent_code": parent, "level": level}
            for code, name, name_en, parent, level in STANDARD
        ],
    )


def downgrade() -> None:
    codes = [row[0] for row in reversed(STANDARD)]
    for code in codes:
        op.execute(classifications.delete().where(classifications.c.code == code))
