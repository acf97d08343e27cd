"""Contact tracing, benchmarked: a city of P persons with D days of entry records (about E per person per day,
half place-code scans and half gate records, at P / 50 places), generated in streamed batches; then cases
traced one by one (``healthcode.tracing.start``: the case's entries, everyone's entries near them, the
classification, the contacts' evidence and colours, the audit entries — rolled back after each, so every
trace sees the same city) against the bare indexed query of that case's own entries through the driver.
Target: one trace under 2 s on this 2-core machine at 1,000,000 persons and 30 days (~90 million entries).

Then a risk area is declared (one street of twenty, for the last day): the entries inside it become yellow
reasons and every affected person's colour is recomputed (``healthcode.areas.declare``: the sweep, the
evidence, the colours and their history, the audit) — against the floor of reading the same entries through
the driver and writing one colour row per person found. Target: floor / ours ≥ 0.3.

    python bench/tracing.py --persons 1000000 --days 30
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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import build_engine, build_sessionmaker, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.governance.elements import division_name
from zhongtai.healthcode import areas, tracing
from zhongtai.healthcode.models import PersonColour

TARGET_SECONDS = 2.0
AREA_TARGET = 0.3
STREETS = 20
BATCH = 200_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """A moment as the platform stores it on SQLite (UTC, no offset), so range queries compare alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def street_of(place: int) -> str:
    return f"街道{place % STREETS:02d}"


def fill(path: Path, persons: int, days: int, per_day: int, places: int) -> int:
    """Places with a gate each, and persons × days × per_day entries spread over them; returns the count."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(
            "INSERT INTO citizens (id, kind, subject, name, id_number_sealed, mobile_sealed, created_at) "
            "VALUES (1, 'person', 'p-owner', '店主', 'x', 'x', ?)",
            (stamp(NOW),),
        )
        db.executemany(
            "INSERT INTO healthcode_places (id, code, name, kind, address, street, office, "
            "owner_citizen_id, status, applied_at, comment) "
            "VALUES (?, ?, ?, 'shop', '蜀山区', ?, 'SSQ', 1, 'approved', ?, '')",
            [(n, f"P{n:07d}", f"场所{n}", street_of(n), stamp(NOW)) for n in range(1, places + 1)],
        )
        db.executemany(
            "INSERT INTO healthcode_gates (id, place_id, name, token_hash, created_at) "
            "VALUES (?, ?, '门', ?, ?)",
            [(n, n, f"{n:064d}", stamp(NOW)) for n in range(1, places + 1)],
        )
        rng = random.Random(3)
        start = NOW - timedelta(days=days)
        total = persons * days * per_day
        for base in range(0, total, BATCH):
            visits, passages = [], []
            for n in range(base, min(total, base + BATCH)):
                subject = f"p-{rng.randrange(persons):07d}"
                place = rng.randrange(1, places + 1)
                at = stamp(start + timedelta(seconds=rng.randrange(days * 86400)))
                if n % 2:
                    passages.append((place, place, subject, at))
                else:
                    visits.append((place, subject, at))
            db.executemany(
                "INSERT INTO healthcode_visits (place_id, subject, at, colour) VALUES (?, ?, ?, 0)", visits
            )
            db.executemany(
                "INSERT INTO healthcode_passages (gate_id, place_id, subject, at, decision, direction) "
                "VALUES (?, ?, ?, ?, 'pass', 'in')",
                passages,
            )
            db.commit()
        db.execute("ANALYZE")
    return total


def measure(persons: int, days: int, per_day: int, traces: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="zt-tracing-"))
    path = folder / "city.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    places = max(10, persons // 50)
    started = time.perf_counter()
    entries = fill(path, persons, days, per_day, places)
    filled = time.perf_counter() - started
    settings = Settings(data_dir=folder, database_url=url)
    factory = build_sessionmaker(build_engine(url))
    staff = Principal(
        None, "wjw.officer", "wjw.officer", 1, settings.healthcode_department, frozenset({Role.OFFICER})
    )
    rng = random.Random(9)
    raw = sqlite3.connect(path)
    ours, floor, contacts = [], [], []
    since = stamp(NOW - timedelta(days=14))
    bare = (
        "SELECT subject, place_id, at FROM healthcode_visits WHERE subject = ? AND at >= ? "
        "UNION ALL SELECT subject, place_id, at FROM healthcode_passages WHERE subject = ? AND at >= ?"
    )
    for _ in range(traces):
        case = f"p-{rng.randrange(persons):07d}"
        raw.execute(
            "INSERT INTO healthcode_evidence (subject, fact, at, department, record) "
            "VALUES (?, 'positive_test', ?, 'WJW', 'HS1')",
            (case, stamp(NOW - timedelta(hours=1))),
        )
        raw.commit()
        t0 = time.perf_counter()
        raw.execute(bare, (case, since, case, since)).fetchall()
        t1 = time.perf_counter()
        with factory() as session:
            trace = tracing.start(session, settings, staff, case, NOW)
            contacts.append(len(tracing.contacts(session, trace)))
            session.rollback()  # every trace sees the same city
        t2 = time.perf_counter()
        floor.append(t1 - t0)
        ours.append(t2 - t1)
    area = risk_area(factory, settings, staff, raw)
    raw.close()
    median, base = statistics.median(ours), statistics.median(floor)
    return {
        **area,
        "persons": persons,
        "days": days,
        "entries": entries,
        "places": places,
        "fill_s": round(filled, 1),
        "traces": traces,
        "contacts_median": statistics.median(contacts),
        "trace_median_s": round(median, 3),
        "trace_max_s": round(max(ours), 3),
        "case_entries_median_ms": round(base * 1000, 3),
        "ratio": round(base / median, 5),
    }


def risk_area(
    factory: sessionmaker[Session], settings: Settings, staff: Principal, raw: sqlite3.Connection
) -> dict[str, Any]:
    """Declare one street a risk area for the last day (rolled back), against the bare read and write."""
    day = NOW.astimezone(settings.zone).date()
    start = stamp(datetime.combine(day, datetime.min.time(), settings.zone))
    places = [
        row[0] for row in raw.execute("SELECT id FROM healthcode_places WHERE street = ?", (street_of(1),))
    ]
    marks = ",".join("?" * len(places))
    inside = " UNION ALL ".join(
        f"SELECT subject, place_id, at FROM {table} WHERE place_id IN ({marks}) AND at >= ?"  # noqa: S608
        for table in ("healthcode_visits", "healthcode_passages")
    )
    division_name("340104")  # the city's divisions: loaded once per process (a server has them already)
    t0 = time.perf_counter()
    found = raw.execute(inside, (*places, start, *places, start)).fetchall()
    subjects = sorted({row[0] for row in found})
    raw.executemany(
        "INSERT OR REPLACE INTO healthcode_colours "
        "(subject, colour, rule_version, reasons, since, computed_at) VALUES (?, 1, 1, '[]', ?, ?)",
        [(s, stamp(NOW), stamp(NOW)) for s in subjects],
    )
    raw.rollback()
    t1 = time.perf_counter()
    with factory() as session:
        area = areas.declare(session, settings, staff, ("medium", "340104", street_of(1), day, day), NOW)
        yellow = session.scalar(
            select(func.count()).select_from(PersonColour).where(PersonColour.colour == 1)
        )
        session.rollback()
    t2 = time.perf_counter()
    assert area.id and yellow and yellow >= len(subjects) * 0.9, (yellow, len(subjects))
    return {
        "area_entries": len(found),
        "area_persons": len(subjects),
        "area_s": round(t2 - t1, 3),
        "area_floor_s": round(t1 - t0, 3),
        "area_ratio": round((t1 - t0) / (t2 - t1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000, help="Persons in the city")
    parser.add_argument("--days", type=int, default=30, help="Days of entry records")
    parser.add_argument("--per-day", type=int, default=3, help="Entries per person per day")
    parser.add_argument("--traces", type=int, default=20, help="Cases traced")
    args = parser.parse_args()
    result = measure(args.persons, args.days, args.per_day, args.traces)
    print(json.dumps(result), flush=True)
    print(
        json.dumps(
            {
                "name": "healthcode.trace",
                "value": result["trace_median_s"],
                "unit": "s/trace (median)",
                "floor": result["case_entries_median_ms"] / 1000,
                "ratio": result["ratio"],
                "target": TARGET_SECONDS,  # seconds per trace at 1,000,000 persons × 30 days, at most
                "entries": result["entries"],
                "contacts_median": result["contacts_median"],
            }
        )
    )
    print(
        json.dumps(
            {
                "name": "healthcode.risk_area",
                "value": result["area_s"],
                "unit": "s per declaration",
                "floor": result["area_floor_s"],
                "ratio": result["area_ratio"],
                "target": AREA_TARGET,  # floor / ours, at least
                "entries": result["area_entries"],
                "persons": result["area_persons"],
            }
        )
    )


if __name__ == "__main__":
    main()
