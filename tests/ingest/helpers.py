"""Small builders for ingestion tests: a department database, a person resource, a source and a job."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.factories import add_resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.ingest import service
from zhongtai.ingest.schemas import JobCreate, SourceCreate

PERSON_ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "sensitive": True},
    {"name": "公民身份号码", "data_type": "string", "length": 18, "sensitive": True},
    {"name": "出生日期", "data_type": "date"},
    {"name": "户籍地址", "data_type": "string", "length": 200},
    {"name": "更新时间", "data_type": "datetime"},
]
PERSON_MAPPING = [
    {"item": "姓名", "source": "name", "required": True},
    {"item": "公民身份号码", "source": "id_number", "required": True},
    {"item": "出生日期", "source": "birth"},
    {"item": "户籍地址", "template": "{city}{street}"},
    {"item": "更新时间", "source": "updated_at"},
]
BASE_TIME = datetime(2026, 1, 1, 8, 0, 0)


def person_row(n: int, minutes: int | None = None) -> tuple[Any, ...]:
    return (
        n,
        f"居民{n}",
        f"3401011990{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}X",
        f"1990-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        "合肥市",
        f"蜀山区{n}号",
        (BASE_TIME + timedelta(minutes=minutes if minutes is not None else n)).strftime("%Y-%m-%d %H:%M:%S"),
    )


def make_person_db(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS persons (id INTEGER PRIMARY KEY, name TEXT, id_number TEXT, "
            "birth TEXT, city TEXT, street TEXT, updated_at TEXT)"
        )
        connection.executemany("INSERT OR REPLACE INTO persons VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return path


def person_resource(factory: sessionmaker[Session], provider: str = "GAJ") -> str:
    return add_resource(factory, provider, name="人口基本信息", items=PERSON_ITEMS)


def add_source(
    factory: sessionmaker[Session],
    settings: Settings,
    code: str = "GAJ-RK-DB",
    kind: str = "database",
    options: dict[str, Any] | None = None,
    system: str = "GAJ-RK",
    secret: str | None = None,
) -> str:
    if options is None:
        options = {"url": "sqlite:///persons.db"}
    with transaction(factory) as session:
        data = SourceCreate(code=code, name=code, system=system, kind=kind, options=options, secret=secret)  # type: ignore[arg-type]
        return service.create_source(session, settings, SYSTEM, data).code


def add_job(factory: sessionmaker[Session], source: str, resource: str, **overrides: Any) -> str:
    payload: dict[str, Any] = {
        "code": "GAJ-PERSONS",
        "name": "人口归集",
        "source": source,
        "resource": resource,
        "object_kind": "table",
        "source_object": "persons",
        "key_columns": ["id"],
        "mode": "incremental",
        "watermark_column": "updated_at",
        "mapping": PERSON_MAPPING,
    }
    payload.update(overrides)
    with transaction(factory) as session:
        return service.create_job(session, SYSTEM, JobCreate.model_validate(payload)).code


def raw_count(factory: sessionmaker[Session], job_code: str) -> int:
    from sqlalchemy import func, select

    from zhongtai.ingest.models import Job, RawRecord

    with factory() as session:
        job_id = session.scalar(select(Job.id).where(Job.code == job_code))
        return int(session.scalar(select(func.count()).where(RawRecord.job_id == job_id)) or 0)
