"""Searching the audit trail (the only reads of it outside verification)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from zhongtai.auditing.schemas import AuditFilter
from zhongtai.catalog.repository import escape_like
from zhongtai.core.audit import AuditEvent
from zhongtai.core.types import aware

EXPORT_PAGE = 5_000


def _filtered(filters: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    exact = {
        AuditEvent.chain: filters.chain,
        AuditEvent.actor_username: filters.actor,
        AuditEvent.department_code: filters.department,
        AuditEvent.resource_code: filters.resource,
        AuditEvent.grant_id: filters.grant_id,
        AuditEvent.outcome: filters.outcome,
    }
    for column, value in exact.items():
        if value is not None and value != "":
            query = query.where(column == value)
    if filters.event_type:
        query = query.where(AuditEvent.event_type.like(escape_like(filters.event_type) + "%", escape="\\"))
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= aware(filters.since))
    if filters.until:
        query = query.where(AuditEvent.occurred_at < aware(filters.until))
    return query


def latest(session: Session, actor_username: str | None, limit: int) -> list[AuditEvent]:
    query = select(AuditEvent)
    if actor_username is not None:
        query = query.where(AuditEvent.actor_username == actor_username)
    return list(
        session.scalars(query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit))
    )


def search(session: Session, filters: AuditFilter, offset: int, limit: int) -> tuple[list[AuditEvent], int]:
    query = _filtered(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return list(session.scalars(ordered.offset(offset).limit(limit)).all()), total


def stream(session: Session, filters: AuditFilter) -> Iterator[list[AuditEvent]]:
    """Every matching entry, oldest first, a page at a time (keyset on id)."""
    after = 0
    while True:
        page = list(
            session.scalars(
                _filtered(filters).where(AuditEvent.id > after).order_by(AuditEvent.id).limit(EXPORT_PAGE)
            ).all()
        )
        if not page:
            return
        yield page
        after = page[-1].id
