"""Business requirements' figures for the big screen (``core.rollups``): filed and handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from zhongtai.core.rollups import Feeds
from zhongtai.requirements import service


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    return {(f"total.{key}", ""): value for key, value in service.figures(session).items()}


def register(feeds: Feeds) -> None:
    feeds.gauge("requirements.registers", registers)
