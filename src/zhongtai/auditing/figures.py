"""The audit trail's figures for the big screen (``core.rollups``): records exchanged (the record counts of
every data access the trail holds: gateway calls, subscription deliveries, staff reads), by the department
that read them; and whether the trail still verifies (an alert)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.core import rollups
from zhongtai.core.audit import ACCESS, AuditEvent
from zhongtai.core.audit_integrity import verify
from zhongtai.core.rollups import Feeds, Page
from zhongtai.core.settings import Settings

VERIFY_SECONDS = 600  # a walk of both chains: every ten minutes, not every refresh


def access(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(
            AuditEvent.id,
            AuditEvent.chain,
            AuditEvent.department_code,
            AuditEvent.occurred_at,
            AuditEvent.record_count,
            AuditEvent.outcome,
        )
        .where(rollups.by_id_after(AuditEvent.id, after, recheck))
        .order_by(AuditEvent.id)
        .limit(limit)
    )
    page = Page()
    for row in session.execute(query):
        page.ids.append(int(row.id))
        if row.chain == ACCESS and row.outcome == "success" and row.record_count:
            page.add("exchange.records", row.department_code or "-", row.occurred_at, int(row.record_count))
    return page


def register(feeds: Feeds, settings: Settings) -> None:
    def chain(session: Session, now: datetime) -> dict[tuple[str, str], float]:
        return {("alert.audit_chain", ""): 0.0 if verify(session, settings).ok else 1.0}

    feeds.stream("audit.access", access)
    feeds.gauge("audit.chain", chain, every_seconds=VERIFY_SECONDS)
