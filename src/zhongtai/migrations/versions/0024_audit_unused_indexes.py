"""Audit trail: drop the two indexes no query can seek in (event type, target id)

Every audit entry updates each of the trail's indexes, and the gateway writes one entry per call. No
query filters on ``target_id``; ``event_type`` is only matched by a prefix ``LIKE``, which neither
SQLite (case-insensitive LIKE) nor PostgreSQL (no ``text_pattern_ops``; a collation other than plain
C, ``C.UTF-8`` here) can seek in a plain B-tree (EXPLAIN: SQLite scans the whole index, PostgreSQL
the table). Measured on SQLite, groups of 16 gateway entries: ~40-44 µs of CPU an entry with the seven
secondary indexes, ~35-39 with the five kept (~22 with none). The price: an auditor's count of entries
filtered by event type alone reads the table instead of the narrower index; listing pages still walks
the time index.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 00:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNUSED = {"ix_audit_events_event_type": "event_type", "ix_audit_events_target_id": "target_id"}


def upgrade() -> None:
    for name in UNUSED:
        op.drop_index(name, table_name="audit_events")


def downgrade() -> None:
    for name, column in UNUSED.items():
        op.create_index(name, "audit_events", [column], unique=False)
