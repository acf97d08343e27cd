"""Rows in a resource's clean zone, as a governance pass leaves them (open data reads nothing else)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.governance.models import CleanRecord


def governed(factory: sessionmaker[Session], code: str, rows: list[dict[str, Any]]) -> Resource:
    """``rows`` in the clean zone of resource ``code``; returns the resource."""
    with transaction(factory) as session:
        resource = session.scalar(select(Resource).where(Resource.code == code))
        assert resource is not None
        session.add_all(
            CleanRecord(
                job_id=1,
                source_key=f"{code}-{n:05d}",
                resource_id=resource.id,
                pass_id=1,
                batch_id=1,
                rule_version=1,
                data=data,
                changes=None,
            )
            for n, data in enumerate(rows)
        )
        return resource
