"""The organisations' figures for the big screen (``core.rollups``): departments and systems connected."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from zhongtai.core.rollups import Feeds
from zhongtai.orgs import service


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    return {(f"total.{key}", ""): value for key, value in service.figures(session).items()}


def register(feeds: Feeds) -> None:
    feeds.gauge("orgs.registers", registers)
