"""Governance's figures for the big screen (``core.rollups``): tables governed, each department's
quality score (the mean of its resources' latest), open problems and open conflicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core.principal import platform_actor
from zhongtai.core.rollups import Feeds
from zhongtai.governance import service
from zhongtai.governance.models import Conflict

SCREEN = platform_actor("screen", "big screen")


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    values: dict[tuple[str, str], float] = {
        (f"total.{key}", ""): value for key, value in service.figures(session).items()
    }
    values[("governance.conflicts_open", "")] = (
        session.scalar(select(func.count()).select_from(Conflict).where(Conflict.open.is_(True))) or 0
    )
    for department in service.quality_overview(session, SCREEN).departments:
        values[("governance.quality", department.department)] = department.score
    return values


def register(feeds: Feeds) -> None:
    feeds.gauge("governance.registers", registers)
