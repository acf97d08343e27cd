"""Builders for sharing tests: a governed person resource of the public security bureau with clean rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric

from tests.factories import add_resource
from tests.governance.helpers import PERSON_ITEMS, PERSON_RULES, raw_batch
from tests.ingest.helpers import add_job, add_source
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.governance.models import RuleSet
from zhongtai.governance.pipeline import run_pass
from zhongtai.ingest.models import Job


def id_number(n: int) -> str:
    stem = f"110101{1980 + n % 20}{1 + n % 9:02d}{10 + n % 10:02d}{n % 1000:03d}"
    return stem + ric.calc_check_digit(stem + "0")


def person(n: int, name: str = "张三丰") -> dict[str, Any]:
    number = id_number(n)
    born = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    return {
        "姓名": name,
        "公民身份号码": number,
        "性别": "男",
        "出生日期": born,
        "联系电话": f"1380000{n:04d}",
    }


def shared_people(
    factory: sessionmaker[Session], settings: Settings, sharing_type: str = "conditional", rows: int = 3
) -> tuple[str, str]:
    """A published, governed GAJ person resource shared by API, file and table sync; (resource, job)."""
    overrides: dict[str, Any] = {
        "name": "常住人口基本信息",
        "items": PERSON_ITEMS,
        "sharing_type": sharing_type,
        "sharing_modes": ["api", "file", "table_sync"],
    }
    if sharing_type == "not_shared":
        overrides["sharing_basis"] = "《居民身份证法》第六条"
    if sharing_type != "conditional":
        overrides["sharing_conditions"] = ""
    resource = add_resource(factory, "GAJ", **overrides)
    source = add_source(factory, settings, code="GAJ-SRC", system="GAJ-RK")
    mapping = [{"item": item["name"], "source": item["name"]} for item in PERSON_ITEMS]
    job = add_job(
        factory,
        source,
        resource,
        code="GAJ-JOB",
        mapping=mapping,
        key_columns=["key"],
        mode="full",
        watermark_column=None,
    )
    with transaction(factory) as session:
        resource_id = session.scalar(select(Job.resource_id).where(Job.code == job))
        session.add(RuleSet(resource_id=resource_id, version=1, rules=PERSON_RULES, created_by="test"))
    batch = raw_batch(factory, job, {f"k{n}": person(n) for n in range(rows)})
    outcome = run_pass(factory, resource, run_id=batch, trigger="test")
    assert outcome.clean_rows == rows, outcome
    return resource, job


def apply_body(resource: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": resource,
        "items": ["姓名", "公民身份号码"],
        "purpose": "核酸检测结果关联居民身份",
        "basis": "《传染病防治法》第十二条",
        "mode": "api",
        "valid_until": "2027-12-31",
    }
    body.update(overrides)
    return body
