"""bench/opendata.py — the open-data portal on a dataset of N rows, in one run.

A register of N enterprises (eight items, messy only where governance leaves it) is put straight into the
clean zone and opened by release rules (the legal representative and the contact number dropped, the
address to its district, the founding date to its month): the release — the personal-data check, N rows
written, a partial index per released column — is timed and printed. Then:

(a) ``datastore_search`` with a filter (one district, 100 records and the total, as CKAN clients ask) — the
    action as the API runs it, through JSON encoding of CKAN's envelope — against the bare indexed query
    through the driver (the same records and total read with the same index). Median of ``--queries``.
    Target: floor / ours ≥ 0.5.
(b) Generating the CSV download of the whole release — as the release generates it beside its rows, from
    the released rows, into the parts of a megabyte it stores (storing them is part of the release's time,
    printed above; a download then streams the stored parts) — against writing the same rows, as lists in
    memory, with Python's csv module alone. Median of 3. Target: floor / ours ≥ 0.5.

On SQLite by default (a new file); ``--database-url`` names a PostgreSQL database to use instead (emptied
and migrated first). Last line: the JSON of ``shared/STYLE.md`` with (a) as ``ratio`` and (b) as extra keys.

    python bench/opendata.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import statistics
import sys
import time
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker
from support import bench_database  # bench/support.py, beside this script

from zhongtai.catalog import service as catalog
from zhongtai.catalog.schemas import ResourceCreate
from zhongtai.core.bulk import bulk_insert, select_rows
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM, platform_actor
from zhongtai.core.types import as_json
from zhongtai.opendata import ckan, service
from zhongtai.orgs.models import Department, DepartmentKind

TARGET = 0.5
BATCH = 100_000
DISTRICTS = ["瑶海区", "庐阳区", "蜀山区", "包河区", "长丰县", "肥东县", "肥西县", "巢湖市"]
TYPES = ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"]
ITEMS = ["企业名称", "统一社会信用代码", "法定代表人", "企业类型", "注册资本", "成立日期", "住所", "联系电话"]
RULES = {
    "企业名称": "keep",
    "统一社会信用代码": "keep",
    "企业类型": "keep",
    "注册资本": "keep",
    "成立日期": "month",
    "住所": "district",
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def register(factory: sessionmaker[Session], rows: int) -> str:
    with transaction(factory) as session:
        session.add(Department(code="SCJGJ", name="市场监督管理局", kind=DepartmentKind.MUNICIPAL))
        session.flush()
        items = [{"name": n, "data_type": "string", "length": 200} for n in ITEMS]
        items[2]["data_element"] = "DE00001"  # 法定代表人: a person's name
        data = ResourceCreate.model_validate(
            {
                "classification": "102",
                "name": "企业登记基本信息",
                "abstract": "全市企业登记",
                "provider": "SCJGJ",
                "format": "table",
                "sharing_type": "unconditional",
                "sharing_modes": ["api"],
                "open_type": "open",
                "update_cycle": "daily",
                "items": items,
            }
        )
        resource = catalog.create_resource(session, SYSTEM, data)
        catalog.transition(session, SYSTEM, resource.code, "submit")
        catalog.transition(session, SYSTEM, resource.code, "approve")
        code, resource_id = resource.code, resource.id
    rng = random.Random(2020)
    columns = (
        "job_id",
        "source_key",
        "resource_id",
        "pass_id",
        "batch_id",
        "rule_version",
        "data",
        "changes",
    )
    batch: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    for n in range(1, rows + 1):
        row = {
            "企业名称": f"庐州市{rng.choice(['恒达', '瑞丰', '新科', '华盛'])}{n}号有限公司",
            "统一社会信用代码": f"91340100{n:010d}",
            "法定代表人": "张三",
            "企业类型": rng.choice(TYPES),
            "注册资本": str(rng.randint(1, 5000) * 10_000),
            "成立日期": f"{rng.randint(1990, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "住所": f"安徽省庐州市{rng.choice(DISTRICTS)}某路{n % 999}号",
            "联系电话": "0551-6" + f"{n % 10_000_000:07d}",
        }
        batch.append((1, f"k{n:09d}", resource_id, 1, 1, 1, as_json(row), None))
        if len(batch) >= BATCH:
            with transaction(factory) as session:
                bulk_insert(session.connection(), "clean_records", columns, batch)
            batch = []
    with transaction(factory) as session:
        bulk_insert(session.connection(), "clean_records", columns, batch)
    log(f"{rows:,} clean rows in {time.perf_counter() - started:.1f} s")
    return code


def action(factory: sessionmaker[Session], resource_id: str, district: str) -> bytes:
    """``datastore_search`` as the API runs it, through JSON encoding of CKAN's envelope."""
    params = {"resource_id": resource_id, "filters": json.dumps({"住所": district}), "limit": 100}
    with transaction(factory) as session:
        result = ckan.datastore_search(session, params, "http://127.0.0.1:8000")
    body = {
        "help": "http://127.0.0.1:8000/api/3/action/help_show?name=datastore_search",
        "success": True,
        "result": result,
    }
    return orjson.dumps(body)  # as the endpoint encodes it


def bare(factory: sessionmaker[Session], release_id: int, district: str) -> int:
    """The floor: the same 100 records and the total, by the same index, through the driver."""
    with factory() as session:
        connection = session.connection()
        expression = service.column_sql(connection.dialect.name, "住所")
        where = f"release_id = {release_id} AND {expression} = ?"  # the literal release id, as the API does
        records = select_rows(
            connection,
            f"SELECT row_number, data FROM open_rows WHERE {where} "  # noqa: S608
            "ORDER BY row_number LIMIT 100",
            (district,),
        )
        total = select_rows(connection, f"SELECT count(*) FROM open_rows WHERE {where}", (district,))  # noqa: S608
    return len(records) + int(total[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=51)
    parser.add_argument(
        "--database-url", help="PostgreSQL (emptied and migrated first); default a new SQLite file"
    )
    args = parser.parse_args()
    bench = bench_database(args.database_url, "zt-open-")
    settings, engine, factory = bench.settings, bench.engine, bench.factory
    code = register(factory, args.rows)
    started = time.perf_counter()
    with transaction(factory) as session:
        published = service.publish(session, settings, platform_actor("bench", "bench"), code, RULES)
        assert published.release is not None
        release_id, name = published.release.id, published.dataset.name
    log(f"released {args.rows:,} rows (check, rows, indexes) in {time.perf_counter() - started:.1f} s")
    resource_id = service.resource_uuid(name, "csv")
    rng = random.Random(7)
    ours, floor = [], []
    for _ in range(args.queries):
        district = rng.choice(DISTRICTS)
        started = time.perf_counter()
        action(factory, resource_id, district)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare(factory, release_id, district)
        floor.append(time.perf_counter() - started)
    log(
        f"datastore_search with a filter: median {statistics.median(ours) * 1000:.1f} ms; "
        f"the bare indexed query {statistics.median(floor) * 1000:.1f} ms"
    )
    with factory() as session:
        release = session.get(service.OpenRelease, release_id)
        assert release is not None
        columns = list(release.columns)
        released = list(service.rows(session, release))
    as_lists = [[row.get(c) for c in columns] for row in released]
    csv_ours, csv_floor = [], []
    for _ in range(3):
        started = time.perf_counter()
        parts = service.CsvParts(columns)  # what the release writes beside its rows
        size = sum(len(p) for p in (parts.add(row) for row in released) if p) + len(parts.take())
        csv_ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in as_lists)
        out.getvalue().encode()
        csv_floor.append(time.perf_counter() - started)
    log(
        f"CSV of {args.rows:,} rows ({size / 1e6:.1f} MB): ours {statistics.median(csv_ours):.2f} s (the "
        f"parts the release stores); the csv module alone {statistics.median(csv_floor):.2f} s"
    )
    result = {
        "name": "opendata.datastore_search",
        "value": round(statistics.median(ours), 5),
        "unit": "s",
        "floor": round(statistics.median(floor), 5),
        "ratio": round(statistics.median(floor) / statistics.median(ours), 3),
        "target": TARGET,
        "rows": args.rows,
        "backend": engine.dialect.name,
        "csv_seconds": round(statistics.median(csv_ours), 3),
        "csv_floor_seconds": round(statistics.median(csv_floor), 3),
        "csv_ratio": round(statistics.median(csv_floor) / statistics.median(csv_ours), 3),
        "csv_target": TARGET,
    }
    engine.dispose()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
