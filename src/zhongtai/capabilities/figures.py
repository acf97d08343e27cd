"""The capability platform's figures for the big screen (``core.rollups``): gateway calls, errors and the
latency histogram per minute (from the usage rows every gateway instance writes), capabilities published."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.capabilities.models import App, AppStatus, Capability, CapabilityStatus, GatewayUsage
from zhongtai.core import rollups
from zhongtai.core.rollups import Feeds, Page
from zhongtai.gateway.recorder import BUCKETS_MS

LATENCY_BOUNDS_MS = BUCKETS_MS  # the upper bound of each latency bucket counted


def usage(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(
            GatewayUsage.id,
            GatewayUsage.capability_code,
            GatewayUsage.interval_start,
            GatewayUsage.calls,
            GatewayUsage.errors,
            GatewayUsage.latency_buckets,
        )
        .where(rollups.by_id_after(GatewayUsage.id, after, recheck))
        .order_by(GatewayUsage.id)
        .limit(limit)
    )
    page = Page()
    for row in session.execute(query):
        at, capability = row.interval_start, row.capability_code
        page.ids.append(int(row.id))
        page.add("gateway.calls", capability, at, int(row.calls))
        if row.errors:
            page.add("gateway.errors", capability, at, int(row.errors))
        for index, n in enumerate(row.latency_buckets):
            if n:
                page.add("gateway.latency", str(index), at, int(n))
    return page


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    published = Capability.status == CapabilityStatus.PUBLISHED
    apps = App.status == AppStatus.ACTIVE
    return {
        ("total.capabilities.published", ""): session.scalar(select(func.count()).where(published)) or 0,
        ("total.capabilities.apps", ""): session.scalar(select(func.count()).where(apps)) or 0,
    }


def register(feeds: Feeds) -> None:
    feeds.stream("gateway.usage", usage)
    feeds.gauge("capabilities.registers", registers)
