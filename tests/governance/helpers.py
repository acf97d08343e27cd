"""Builders for governance tests: person resources from several departments with raw batches in them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import add_resource
from tests.ingest.helpers import add_job, add_source
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.governance.models import BaseKind, BaseSource, RuleSet
from zhongtai.ingest.models import Job, RawRecord, Run, RunStatus

PERSON_ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "data_element": "DE00001"},
    {"name": "公民身份号码", "data_type": "string", "length": 18, "data_element": "DE00002"},
    {"name": "性别", "data_type": "string", "length": 4, "data_element": "DE00003"},
    {"name": "出生日期", "data_type": "string", "length": 20, "data_element": "DE00005"},
    {"name": "联系电话", "data_type": "string", "length": 20, "data_element": "DE00007"},
]
PERSON_RULES: list[dict[str, Any]] = [
    {"id": "name", "kind": "standardize", "item": "姓名"},
    {"id": "id-required", "kind": "required", "item": "公民身份号码"},
    {"id": "id", "kind": "standardize", "item": "公民身份号码"},
    {"id": "gender", "kind": "standardize", "item": "性别"},
    {"id": "birth", "kind": "standardize", "item": "出生日期"},
    {
        "id": "birth-id",
        "kind": "cross",
        "item": "出生日期",
        "check": "birth_date_matches_id",
        "id_item": "公民身份号码",
    },
    {"id": "phone", "kind": "standardize", "item": "联系电话"},
    {"id": "id-unique", "kind": "unique", "item": "公民身份号码"},
]
PERSON_ATTRIBUTES = {"name": "姓名", "gender": "性别", "birth_date": "出生日期", "phone": "联系电话"}


def person_source(
    factory: sessionmaker[Session], settings: Settings, department: str, system: str, priority: int
) -> tuple[str, str]:
    """A person resource of ``department`` with a job, rules and a base source; returns (resource, job)."""
    resource = add_resource(factory, department, name=f"{department}人口信息", items=PERSON_ITEMS)
    source = add_source(factory, settings, code=f"{department}-SRC", system=system)
    job = add_job(
        factory,
        source,
        resource,
        code=f"{department}-JOB",
        mapping=[{"item": item["name"], "source": item["name"]} for item in PERSON_ITEMS],
        key_columns=["key"],
        mode="full",
        watermark_column=None,
    )
    with transaction(factory) as session:
        resource_id = session.scalar(select(Job.resource_id).where(Job.code == job))
        assert resource_id is not None
        session.add(RuleSet(resource_id=resource_id, version=1, rules=PERSON_RULES, created_by="test"))
        session.add(
            BaseSource(
                base=BaseKind.PERSON,
                resource_id=resource_id,
                key_item="公民身份号码",
                attributes=PERSON_ATTRIBUTES,
                priority=priority,
            )
        )
    return resource, job


def raw_batch(factory: sessionmaker[Session], job_code: str, rows: dict[str, dict[str, Any]]) -> int:
    """Write ``rows`` (source key -> values) into the raw zone as one succeeded batch; returns its id."""
    with transaction(factory) as session:
        job_id = session.scalar(select(Job.id).where(Job.code == job_code))
        assert job_id is not None
        run = Run(
            job_id=job_id,
            trigger="test",
            requested_by="test",
            status=RunStatus.SUCCEEDED,
            rows_read=len(rows),
            rows_written=len(rows),
            finished_at=utcnow(),
        )
        session.add(run)
        session.flush()
        for key, data in rows.items():
            session.merge(RawRecord(job_id=job_id, source_key=key, batch_id=run.id, row_hash=0, data=data))
        return run.id
