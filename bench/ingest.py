"""Benchmark: gather N person rows from a department database into the raw zone.

Floor, measured in the same run on the same machine: read the same rows from the same source (the same
DB-API cursor, the same chunk size) and write them unchanged into a plain table with no mapping or
bookkeeping — ``executemany`` in one transaction on SQLite, ``COPY`` on PostgreSQL. Ingestion is the
whole ``run_job``: run bookkeeping, locking, mapping, conversion, JSON records, hashes, raw-zone
writes, watermark, audit. Each is the best of ``--repeat`` runs on a fresh platform database.
Ratio = floor time / ingestion time (1.0 = as fast as the floor).

    python bench/ingest.py --rows 1000000 --backend sqlite
    python bench/ingest.py --rows 1000000 --backend postgresql --pg-url postgresql+psycopg://postgres@127.0.0.1/test

The last line is one JSON object (STYLE.md's benchmark format).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import platform_database, published_resource  # bench/support.py, beside this script

from zhongtai.core.database import build_engine, build_sessionmaker, transaction, upgrade
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.ingest import service
from zhongtai.ingest.runner import run_job
from zhongtai.ingest.schemas import JobCreate, SourceCreate
from zhongtai.orgs.models import Department, DepartmentKind, InformationSystem

COLUMNS = ("id", "name", "id_number", "gender", "birth", "phone", "address", "updated_at")
TARGET = 0.5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
BASE = datetime(2020, 1, 1)


def person(n: int) -> tuple[Any, ...]:
    return (
        n,
        SURNAMES[n % 20] + GIVEN[n % len(GIVEN)] + GIVEN[(n // 7) % len(GIVEN)],
        f"340104{1950 + n % 60}{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}{n % 10}",
        "男" if n % 2 else "女",
        f"{1950 + n % 60}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        f"1{3 + n % 7}{n % 1_000_000_000:09d}",
        f"安徽省合肥市蜀山区长江西路{n % 999 + 1}号{n % 30 + 1}栋",
        (BASE + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S"),
    )


def make_source(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE persons (id INTEGER PRIMARY KEY, name TEXT, id_number TEXT, gender TEXT, "
            "birth TEXT, phone TEXT, address TEXT, updated_at TEXT)"
        )
        step = 100_000
        for start in range(1, rows + 1, step):
            connection.executemany(
                "INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (person(n) for n in range(start, min(rows, start + step - 1) + 1)),
            )


def read_source(path: Path, chunk: int) -> Any:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cursor = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM persons")  # noqa: S608
    while batch := cursor.fetchmany(chunk):
        yield batch
    connection.close()


def floor_sqlite(url: str, source: Path, chunk: int) -> float:
    path = make_url(url).database
    assert path is not None
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE floor_persons (id INTEGER PRIMARY KEY, name TEXT, id_number TEXT, gender TEXT, "
        "birth TEXT, phone TEXT, address TEXT, updated_at TEXT)"
    )
    started = time.perf_counter()
    with connection:
        for batch in read_source(source, chunk):
            connection.executemany("INSERT INTO floor_persons VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def floor_postgres(url: str, source: Path, chunk: int) -> float:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS floor_persons"))
        connection.execute(
            text(
                "CREATE TABLE floor_persons (id bigint PRIMARY KEY, name text, id_number text, gender text, "
                "birth text, phone text, address text, updated_at text)"
            )
        )
    started = time.perf_counter()
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY floor_persons ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for batch in read_source(source, chunk):
                for row in batch:
                    copy.write_row(row)
    elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE floor_persons"))
    engine.dispose()
    return elapsed


def set_up_platform(settings: Settings) -> str:
    upgrade(settings.resolved_database_url)
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    with transaction(factory) as session:
        department = Department(code="GAJ", name="公安局", kind=DepartmentKind.MUNICIPAL)
        session.add(department)
        session.flush()
        session.add(InformationSystem(code="GAJ-RK", name="人口信息系统", department_id=department.id))
        session.flush()
        items = [
            {"name": name, "data_type": kind}
            for name, kind in [
                ("姓名", "string"),
                ("公民身份号码", "string"),
                ("性别", "string"),
                ("出生日期", "date"),
                ("联系电话", "string"),
                ("住址", "string"),
                ("更新时间", "datetime"),
            ]
        ]
        resource = published_resource(session, "人口基本信息", "GAJ", items)
        source = service.create_source(
            session,
            settings,
            SYSTEM,
            SourceCreate(
                code="GAJ-RK-DB",
                name="人口库",
                system="GAJ-RK",
                kind="database",
                options={"url": "sqlite:///persons.db"},  # type: ignore[arg-type]
            ),
        )
        mapping = [
            {"item": "姓名", "source": "name", "required": True},
            {"item": "公民身份号码", "source": "id_number", "required": True},
            {"item": "性别", "source": "gender"},
            {"item": "出生日期", "source": "birth"},
            {"item": "联系电话", "source": "phone"},
            {"item": "住址", "source": "address"},
            {"item": "更新时间", "source": "updated_at"},
        ]
        job = service.create_job(
            session,
            SYSTEM,
            JobCreate.model_validate(
                {
                    "code": "GAJ-PERSONS",
                    "name": "人口归集",
                    "source": source.code,
                    "resource": resource.code,
                    "object_kind": "table",
                    "source_object": "persons",
                    "key_columns": ["id"],
                    "mode": "incremental",
                    "watermark_column": "updated_at",
                    "mapping": mapping,
                }
            ),
        )
        return job.code


def bench(backend: str, rows: int, pg_url: str | None, repeat: int) -> dict[str, Any]:
    """Best of ``repeat`` for the floor and for ingestion, each on a fresh platform database."""
    floors: list[float] = []
    runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="zt-bench-") as folder:
        data_dir = Path(folder)
        (data_dir / "sources").mkdir()
        source = data_dir / "sources" / "persons.db"
        make_source(source, rows)
        for attempt in range(repeat):
            with platform_database(backend, pg_url, data_dir, attempt) as url:
                settings = Settings(
                    data_dir=data_dir, database_url=url, queue_url="memory://", log_json=False
                )
                chunk = settings.ingest_chunk_rows
                floor = floor_postgres if backend == "postgresql" else floor_sqlite
                floors.append(floor(url, source, chunk))
                job = set_up_platform(settings)
                engine = build_engine(url)
                started = time.perf_counter()
                outcome = run_job(
                    build_sessionmaker(engine), settings, job, trigger="cli", requested_by="bench"
                )
                runs.append(time.perf_counter() - started)
                engine.dispose()
                assert outcome is not None and outcome.rows_written == rows, outcome
    seconds, floor_seconds = min(runs), min(floors)
    return {
        "backend": backend,
        "rows": rows,
        "ingest_seconds": round(seconds, 3),
        "floor_seconds": round(floor_seconds, 3),
        "ingest_rows_per_s": round(rows / seconds),
        "floor_rows_per_s": round(rows / floor_seconds),
        "ratio": round(floor_seconds / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=None, help="PostgreSQL server URL (a scratch database is created)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="Take the best of this many runs of each")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [bench(backend, args.rows, args.pg_url, args.repeat) for backend in backends]
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    worst = min(results, key=lambda r: r["ratio"])
    print(
        json.dumps(
            {
                "name": f"ingest.{'+'.join(backends)}",
                "value": worst["ingest_rows_per_s"],
                "unit": "rows/s",
                "floor": worst["floor_rows_per_s"],
                "ratio": worst["ratio"],
                "target": TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
