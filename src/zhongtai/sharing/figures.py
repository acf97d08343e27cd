"""Sharing's figures for the big screen (``core.rollups``): deliveries to subscribers by outcome,
applications and grants, applications past their step's deadline (an alert)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core import rollups
from zhongtai.core.rollups import Feeds, Page
from zhongtai.sharing.models import Application, ApplicationStatus, Delivery

IN_REVIEW = (ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.PROVIDER_REVIEW)


def deliveries(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(Delivery.id, Delivery.outcome, Delivery.occurred_at)
        .where(rollups.by_id_after(Delivery.id, after, recheck))
        .order_by(Delivery.id)
        .limit(limit)
    )
    page = Page()
    for i, outcome, at in session.execute(query):
        page.ids.append(int(i))
        page.add("sharing.deliveries", outcome, at)
    return page


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    counts = dict(
        session.execute(select(Application.status, func.count()).group_by(Application.status)).all()
    )
    overdue = select(func.count()).where(Application.step_due_at < now, Application.status.in_(IN_REVIEW))
    return {
        ("total.sharing.applications", ""): sum(counts.values()),
        ("total.sharing.granted", ""): counts.get(ApplicationStatus.GRANTED, 0),
        ("alert.applications_overdue", ""): session.scalar(overdue) or 0,
    }


def register(feeds: Feeds) -> None:
    feeds.stream("sharing.deliveries", deliveries)
    feeds.gauge("sharing.registers", registers)
