"""The catalog's figures for the big screen (``core.rollups``): entries published, by department."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource, ResourceStatus
from zhongtai.core.rollups import Feeds
from zhongtai.orgs.models import Department


def registers(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    query = (
        select(Department.code, func.count())
        .join(Resource, Resource.provider_department_id == Department.id)
        .where(Resource.status == ResourceStatus.PUBLISHED)
        .group_by(Department.code)
    )
    by_department = {("catalog.published", code): n for code, n in session.execute(query)}
    return {("total.catalog.published", ""): sum(by_department.values()), **by_department}


def register(feeds: Feeds) -> None:
    feeds.gauge("catalog.registers", registers)
