"""Who used my data, benchmarked: one person's accesses on an audit trail of N entries (generated: every
entry names one of N/40 persons, so a person has ~40), through the page's own query and mapping
(``auditing.mydata.accesses_of``) against a bare indexed query of that subject's entries through the
driver. Target ≥ 0.5, with the absolute p95 over many persons. Opening a case comes with the services
(issue 18); this script says so instead of a figure.

    python bench/mydata.py --entries 10000000
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

from zhongtai.auditing.mydata import ACCESSES, PAGE, accesses_of
from zhongtai.core.database import build_engine, build_sessionmaker, upgrade

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="Audit entries generated")
    parser.add_argument("--samples", type=int, default=2_000, help="Persons looked up")
    args = parser.parse_args()
    result = measure(args.entries, args.samples)
    print(json.dumps(result), flush=True)
    print("opening a case against bare reads: not measured (cases come with the services of issue 18)")
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
