"""Contact tracing, benchmarked: a city of P persons with D days of entry records (about E per person per day,
half place-code scans and half gate records, at P / 50 places), generated in streamed batches; then cases
traced one by one (``healthcode.tracing.start``: the case's entries, everyone's entries near them, the
classification, the contacts' evidence and colours, the audit entries — rolled back after each, so every
trace sees the same city) against the bare indexed query of that case's own entries through the driver.
Target: one trace under 2 s on this 2-core machine at 1,000,000 persons and 30 days (~90 million entries).

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

from zhongtai.core.database import build_engine, build_sessionmaker, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.healthcode import tracing

TARGET_SECONDS = 2.0
BATCH = 200_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """A moment as the platform stores it on SQLite (UTC, no offset), so range queries compare alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


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
            "VALUES (?, ?, ?, 'shop', '蜀山区', '稻香村街道', 'SSQ', 1, 'approved', ?, '')",
            [(n, f"P{n:07d}", f"场所{n}", stamp(NOW)) for n in range(1, places + 1)],
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
    raw.close()
    median, base = statistics.median(ours), statistics.median(floor)
    return {
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


if __name__ == "__main__":
    main()
