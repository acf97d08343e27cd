"""Who used my data, benchmarked: one person's accesses on an audit trail of N entries (generated: every
entry names one of N/40 persons, so a person has ~40), through the page's own query and mapping
(``auditing.mydata.accesses_of``) against a bare indexed query of that subject's entries through the
driver. Target ≥ 0.5, with the absolute p95 over many persons.

Then opening a case: a housing-security case of six materials, five of them fetched from five registers of
N persons each — the case started, the applicant's consent, five grants for the case alone issued and read
under (each read an audit entry), committed — against the bare reads of the same records (the same
indexed queries through the driver); and the caseworker reading the five materials under the case's grants
against the same bare reads — and against those reads each followed by a row written to a trail table and
committed (what any audited read must at least do).

    python bench/mydata.py --entries 10000000 --persons 200000
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric
from support import published_resource  # bench/support.py, beside this script

from zhongtai.auditing.mydata import ACCESSES, PAGE, accesses_of
from zhongtai.core.database import build_engine, build_sessionmaker, transaction, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.orgs.models import Department, DepartmentKind
from zhongtai.services import cases, handling, service
from zhongtai.services.models import ApplicantKind, Case, Review
from zhongtai.services.schemas import ItemWrite, ReviewWrite
from zhongtai.sharing.repository import key_expression

TARGET = 0.5
BATCH = 100_000
EVENTS = ["gateway.call", "healthcode.code.shown", "healthcode.gate.scanned", "sharing.records.read"]


def fill(path: Path, entries: int, persons: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        sql = (
            "INSERT INTO audit_events (chain, seq, occurred_at, actor_username, department_code, event_type, "
            "target_type, target_id, outcome, changes, purpose, resource_code, items, record_count, subject, "
            "prev_hash, hash) VALUES ('access', ?, ?, 'app:wjw-health-code', 'WJW', ?, 'capability', "
            "'person.by-id', 'success', '{}', 'epidemic.health-code', '-', '[\"姓名\"]', 1, ?, ?, ?)"
        )
        rng = random.Random(7)
        for base in range(0, entries, BATCH):
            rows = [
                (
                    n + 1,
                    (start + timedelta(seconds=n)).isoformat(),
                    EVENTS[n % len(EVENTS)],
                    f"p-{rng.randrange(persons):032x}",
                    "0" * 64,
                    "0" * 64,
                )
                for n in range(base, min(entries, base + BATCH))
            ]
            db.executemany(sql, rows)
            db.commit()


def measure(entries: int, samples: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="zt-mydata-"))
    path = folder / "trail.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    persons = max(1, entries // 40)
    started = time.perf_counter()
    fill(path, entries, persons)
    filled = time.perf_counter() - started
    factory = build_sessionmaker(build_engine(url))
    rng = random.Random(11)
    subjects = [f"p-{rng.randrange(persons):032x}" for _ in range(samples)]
    bare_sql = ACCESSES  # the same query, through the driver alone: no session, no mapping
    ours, floor = [], []
    with factory() as session:
        raw = session.connection().connection.driver_connection
        assert raw is not None
        for subject in subjects[:50]:  # warm the cache the same way for both
            accesses_of(session, subject)
        for subject in subjects:
            t0 = time.perf_counter()
            raw.execute(bare_sql, (subject, 2**62, PAGE)).fetchall()
            t1 = time.perf_counter()
            accesses_of(session, subject)
            t2 = time.perf_counter()
            floor.append(t1 - t0)
            ours.append(t2 - t1)
    ours_ms, floor_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    p95 = sorted(ours)[int(0.95 * len(ours))] * 1000
    return {
        "entries": entries,
        "persons": persons,
        "fill_s": round(filled, 1),
        "median_ms": round(ours_ms, 3),
        "floor_median_ms": round(floor_ms, 3),
        "p95_ms": round(p95, 3),
        "ratio": round(floor_ms / ours_ms, 3),
    }


ID_ITEM = {
    "name": "公民身份号码",
    "data_type": "string",
    "length": 18,
    "data_element": "DE00002",
    "sensitive": True,
}
NAME_ITEM = {
    "name": "姓名",
    "data_type": "string",
    "length": 50,
    "data_element": "DE00001",
    "sensitive": True,
}
# (department, resource, its other items): five registers a housing-security case reads
REGISTERS = [
    ("GAJ", "常住人口基本信息", ["户号", "户籍地址"]),
    ("MZJ", "结婚登记信息", ["配偶姓名", "登记日期"]),
    ("ZRZYJ", "不动产登记信息", ["房屋坐落", "建筑面积"]),
    ("RSJ", "社会保险参保信息", ["单位名称", "参保状态"]),
    ("GJJ", "住房公积金缴存信息", ["单位名称", "缴费基数"]),
]


def id_number(n: int) -> str:
    year, month = 1950 + (n // 1000) % 60, 1 + (n // 60_000) % 12  # unique below 720,000 persons
    stem = f"340104{year}{month:02d}01{n % 1000:03d}"
    return stem + ric.calc_check_digit(stem + "0")


def _city(factory: sessionmaker[Session], settings: Settings, persons: int, path: Path) -> list[str]:
    """Five published registers of ``persons`` rows each, and a housing service fetching from all five."""
    with transaction(factory) as session:
        for code in ("ZJJ", *(r[0] for r in REGISTERS)):
            session.add(Department(code=code, name=code, kind=DepartmentKind.MUNICIPAL))
        session.flush()
        codes = []
        for department, name, others in REGISTERS:
            items = [NAME_ITEM, ID_ITEM, *({"name": i, "data_type": "string", "length": 200} for i in others)]
            codes.append(published_resource(session, name, department, items).code)
        zjj = session.scalars(select(Department).where(Department.code == "ZJJ")).one()
        officer = Principal(None, "bench", "bench", zjj.id, "ZJJ", frozenset({Role.OFFICER}))
        materials: list[dict[str, Any]] = [
            {
                "name": name,
                "source": "data",
                "resource": code,
                "items": ["姓名", *others],
                "key_item": "公民身份号码",
                "key_from": "applicant",
                "none_is_answer": True,
            }
            for code, (_, name, others) in zip(codes, REGISTERS, strict=True)
        ]
        spec = {
            "code": "BENCH-001",
            "name": "公共租赁住房保障资格审核",
            "department": "ZJJ",
            "applicant_kind": "person",
            "legal_basis": "bench",
            "time_limit_days": 20,
            "materials": [*materials, {"name": "家庭收入证明", "source": "upload"}],
        }
        service.save_item(session, officer, ItemWrite.model_validate(spec))
        for position in range(1, 6):
            service.review_material(
                session, SYSTEM, "BENCH-001", position, ReviewWrite(decision=Review.APPROVED)
            )
        resource_ids = [service_resource_id(session, code) for code in codes]
    with sqlite3.connect(path) as db:
        for job, (resource_id, (_, _, others)) in enumerate(
            zip(resource_ids, REGISTERS, strict=True), start=1
        ):
            rows = (
                (
                    job,
                    f"k{n}",
                    resource_id,
                    1,
                    1,
                    1,
                    json.dumps(
                        {"姓名": "张三", "公民身份号码": id_number(n), **{i: f"{i}{n}" for i in others}},
                        ensure_ascii=False,
                    ),
                )
                for n in range(persons)
            )
            db.executemany(
                "INSERT INTO clean_records (job_id, source_key, resource_id, pass_id, batch_id, "
                "rule_version, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return codes


def service_resource_id(session: Session, code: str) -> int:
    from zhongtai.catalog.models import Resource

    return int(session.scalars(select(Resource.id).where(Resource.code == code)).one())


def measure_cases(persons: int, samples: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="zt-cases-"))
    path = folder / "cases.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    settings = Settings(data_dir=folder, database_url=url)
    factory = build_sessionmaker(build_engine(url))
    codes = _city(factory, settings, persons, path)
    rng = random.Random(5)
    chosen = [rng.randrange(persons) for _ in range(samples)]
    key = key_expression("sqlite", "公民身份号码")
    bare = (
        f"SELECT data FROM clean_records WHERE resource_id = ? AND {key} = ? "  # noqa: S608 - a fixed item
        "ORDER BY job_id, source_key LIMIT 20"
    )
    opening, reading, floor = [], [], []
    with factory() as session:
        resource_ids = [service_resource_id(session, code) for code in codes]
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE bench_trail (n INTEGER PRIMARY KEY, subject TEXT, resource INTEGER, rows TEXT)")
    raw.commit()
    written = []  # the same reads, each followed by the row an audited read must keep, committed
    for n in chosen:
        number = id_number(n)
        t0 = time.perf_counter()
        for resource_id in resource_ids:
            found = raw.execute(bare, (resource_id, number)).fetchall()
            raw.execute(
                "INSERT INTO bench_trail (subject, resource, rows) VALUES (?, ?, ?)",
                (number, resource_id, str(len(found))),
            )
        raw.commit()
        written.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for resource_id in resource_ids:
            raw.execute(bare, (resource_id, number)).fetchall()
        t1 = time.perf_counter()
        with transaction(factory) as session:  # the applicant's consent: five grants, five fetches, audited
            subject = person_subject(settings, number)
            applicant = cases.Applicant(ApplicantKind.PERSON, subject, "张三", number, subject)
            case = cases.start(session, settings, applicant, "BENCH-001", {}, utcnow())
            cases.consent(session, settings, case, utcnow())
            case_number = case.number
        t2 = time.perf_counter()
        with transaction(factory) as session:  # the caseworker reads the five under the case's grants
            case = session.scalars(select(Case).where(Case.number == case_number)).one()
            actor = cases.department_actor(session, case, service.get_item(session, "BENCH-001"))
            read = handling.fetched_data(session, settings, actor, case)
            assert len(read) == 5 and all(len(r.rows) == 1 for r in read.values())
        t3 = time.perf_counter()
        floor.append(t1 - t0)
        opening.append(t2 - t1)
        reading.append(t3 - t2)
    raw.close()
    floor_ms = statistics.median(floor) * 1000
    open_ms, read_ms = statistics.median(opening) * 1000, statistics.median(reading) * 1000
    return {
        "persons_per_register": persons,
        "cases": samples,
        "bare_reads_median_ms": round(floor_ms, 3),
        "open_case_median_ms": round(open_ms, 3),
        "open_case_p95_ms": round(sorted(opening)[int(0.95 * len(opening))] * 1000, 3),
        "open_case_ratio": round(floor_ms / open_ms, 4),
        "caseworker_read_median_ms": round(read_ms, 3),
        "caseworker_read_ratio": round(floor_ms / read_ms, 4),
        "bare_reads_with_a_trail_row_each_median_ms": round(statistics.median(written) * 1000, 3),
        "caseworker_read_ratio_to_reads_with_trail": round(statistics.median(written) * 1000 / read_ms, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="Audit entries generated")
    parser.add_argument("--samples", type=int, default=2_000, help="Persons looked up")
    parser.add_argument(
        "--persons", type=int, default=50_000, help="Persons in each register (cases), at most 720,000"
    )
    parser.add_argument("--cases", type=int, default=300, help="Cases opened")
    args = parser.parse_args()
    opened = measure_cases(args.persons, args.cases)
    print(json.dumps(opened), flush=True)
    result = measure(args.entries, args.samples)
    print(json.dumps(result), flush=True)
    print(
        json.dumps(
            {
                "name": "mydata.accesses",
                "value": result["median_ms"],
                "unit": "ms/person (median)",
                "floor": result["floor_median_ms"],
                "ratio": result["ratio"],
                "target": TARGET,
                "p95_ms": result["p95_ms"],
                "entries": result["entries"],
            }
        )
    )


if __name__ == "__main__":
    main()
