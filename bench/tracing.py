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

On SQLite by default (a new file); ``--database-url postgresql+psycopg://…`` runs on PostgreSQL (the
database is emptied and migrated first; the fill goes by ``COPY``).

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import build_engine, build_sessionmaker, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.demo.city import reset_database
from zhongtai.governance.elements import division_name
from zhongtai.healthcode import areas, tracing
from zhongtai.healthcode.models import PersonColour

TARGET_SECONDS = 2.0
AREA_TARGET = 0.3
STREETS = 20
BATCH = 200_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Raw:
    """The driver itself (sqlite3 or psycopg), for the fill and the floors: SQL written with ``?``."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            self.db: Any = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        else:
            self.db = sqlite3.connect(make_url(url).database or "")
            self.db.execute("PRAGMA journal_mode=WAL")

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def moment(self, value: datetime) -> Any:
        """A moment as the platform stores it: timestamptz on PostgreSQL, UTC text without offset on SQLite
        (so range queries compare alike)."""
        if self.postgres:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def execute(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = self.db.execute(self.sql(text), params)
        return list(cursor.fetchall()) if cursor.description else []

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.postgres:
            with self.db.cursor() as cursor:
                cursor.executemany(self.sql(text), rows)
        else:
            self.db.executemany(text, rows)

    def copy(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk rows: COPY on PostgreSQL, executemany on SQLite."""
        if not self.postgres:
            marks = ", ".join("?" * len(columns.split(",")))
            self.db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
            return
        with self.db.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def close(self) -> None:
        self.db.close()


def street_of(place: int) -> str:
    return f"街道{place % STREETS:02d}"


def fill(raw: Raw, persons: int, days: int, per_day: int, places: int) -> int:
    """Places with a gate each, and persons × days × per_day entries spread over them; returns the count."""
    now = raw.moment(NOW)
    raw.execute(
        "INSERT INTO citizens (id, kind, subject, name, id_number_sealed, mobile_sealed, created_at) "
        "VALUES (1, 'person', 'p-owner', '店主', 'x', 'x', ?)",
        (now,),
    )
    raw.copy(
        "healthcode_places",
        "id, code, name, kind, address, street, office, owner_citizen_id, status, applied_at, comment",
        [
            (n, f"P{n:07d}", f"场所{n}", "shop", "蜀山区", street_of(n), "SSQ", 1, "approved", now, "")
            for n in range(1, places + 1)
        ],
    )
    raw.copy(
        "healthcode_gates",
        "id, place_id, name, token_hash, created_at",
        [(n, n, "门", f"{n:064d}", now) for n in range(1, places + 1)],
    )
    raw.commit()
    rng = random.Random(3)
    start = NOW - timedelta(days=days)
    total = persons * days * per_day
    for base in range(0, total, BATCH):
        visits, passages = [], []
        for n in range(base, min(total, base + BATCH)):
            subject = f"p-{rng.randrange(persons):07d}"
            place = rng.randrange(1, places + 1)
            at = raw.moment(start + timedelta(seconds=rng.randrange(days * 86400)))
            if n % 2:
                passages.append((place, place, subject, at, "pass", "in"))
            else:
                visits.append((place, subject, at, 0))
        raw.copy("healthcode_visits", "place_id, subject, at, colour", visits)
        raw.copy("healthcode_passages", "gate_id, place_id, subject, at, decision, direction", passages)
        raw.commit()
    if raw.postgres:
        for table in ("healthcode_places", "healthcode_gates"):  # ids given: move the sequences past them
            raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?)", (places,))
        raw.commit()
    raw.execute("ANALYZE")
    raw.commit()
    return total


@contextmanager
def city(url: str | None) -> Iterator[str]:
    """A fresh, migrated database: a new SQLite file, or the PostgreSQL database given (emptied)."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="zt-tracing-"))
        url = f"sqlite:///{folder / 'city.db'}"
    else:
        reset_database(url)
    upgrade(url)
    yield url


def measure(persons: int, days: int, per_day: int, traces: int, database_url: str | None) -> dict[str, Any]:
    with city(database_url) as url:
        raw = Raw(url)
        places = max(10, persons // 50)
        started = time.perf_counter()
        entries = fill(raw, persons, days, per_day, places)
        filled = time.perf_counter() - started
        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="zt-tracing-data-")), database_url=url)
        factory = build_sessionmaker(build_engine(url))
        staff = Principal(
            None, "wjw.officer", "wjw.officer", 1, settings.healthcode_department, frozenset({Role.OFFICER})
        )
        traced = trace_cases(factory, settings, staff, raw, persons, traces)
        area = risk_area(factory, settings, staff, raw)
        raw.close()
    return {
        "database": "postgresql" if raw.postgres else "sqlite",
        "persons": persons,
        "days": days,
        "entries": entries,
        "places": places,
        "fill_s": round(filled, 1),
        **traced,
        **area,
    }


def trace_cases(
    factory: sessionmaker[Session], settings: Settings, staff: Principal, raw: Raw, persons: int, traces: int
) -> dict[str, Any]:
    rng = random.Random(9)
    ours, floor, contacts = [], [], []
    since = raw.moment(NOW - timedelta(days=14))
    bare = (
        "SELECT subject, place_id, at FROM healthcode_visits WHERE subject = ? AND at >= ? "
        "UNION ALL SELECT subject, place_id, at FROM healthcode_passages WHERE subject = ? AND at >= ?"
    )
    for _ in range(traces):
        case = f"p-{rng.randrange(persons):07d}"
        raw.execute(
            "INSERT INTO healthcode_evidence (subject, fact, at, department, record) "
            "VALUES (?, 'positive_test', ?, 'WJW', 'HS1')",
            (case, raw.moment(NOW - timedelta(hours=1))),
        )
        raw.commit()
        t0 = time.perf_counter()
        raw.execute(bare, (case, since, case, since))
        t1 = time.perf_counter()
        with factory() as session:
            trace = tracing.start(session, settings, staff, case, NOW)
            contacts.append(len(tracing.contacts(session, trace)))
            session.rollback()  # every trace sees the same city
        t2 = time.perf_counter()
        floor.append(t1 - t0)
        ours.append(t2 - t1)
    median, base = statistics.median(ours), statistics.median(floor)
    return {
        "traces": traces,
        "contacts_median": statistics.median(contacts),
        "trace_median_s": round(median, 3),
        "trace_max_s": round(max(ours), 3),
        "case_entries_median_ms": round(base * 1000, 3),
        "ratio": round(base / median, 5),
    }


def risk_area(
    factory: sessionmaker[Session], settings: Settings, staff: Principal, raw: Raw
) -> dict[str, Any]:
    """Declare one street a risk area for the last day (rolled back), against the bare read and write."""
    day = NOW.astimezone(settings.zone).date()
    start = raw.moment(datetime.combine(day, datetime.min.time(), settings.zone))
    places = [
        row[0] for row in raw.execute("SELECT id FROM healthcode_places WHERE street = ?", (street_of(1),))
    ]
    marks = ",".join("?" * len(places))
    inside = " UNION ALL ".join(
        f"SELECT subject, place_id, at FROM {table} WHERE place_id IN ({marks}) AND at >= ?"  # noqa: S608
        for table in ("healthcode_visits", "healthcode_passages")
    )
    division_name("340104")  # the city's divisions: loaded once per process (a server has them already)
    now = raw.moment(NOW)
    t0 = time.perf_counter()
    found = raw.execute(inside, (*places, start, *places, start))
    subjects = sorted({row[0] for row in found})
    raw.executemany(
        "INSERT INTO healthcode_colours (subject, colour, rule_version, reasons, since, computed_at) "
        "VALUES (?, 1, 1, '[]', ?, ?)",
        [(s, now, now) for s in subjects],
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
    parser.add_argument("--database-url", default=None, help="PostgreSQL to run on (emptied!); else SQLite")
    args = parser.parse_args()
    result = measure(args.persons, args.days, args.per_day, args.traces, args.database_url)
    print(json.dumps(result), flush=True)
    common = {"database": result["database"], "entries": result["entries"]}
    print(
        json.dumps(
            {
                "name": "healthcode.trace",
                "value": result["trace_median_s"],
                "unit": "s/trace (median)",
                "floor": result["case_entries_median_ms"] / 1000,
                "ratio": result["ratio"],
                "target": TARGET_SECONDS,  # seconds per trace at 1,000,000 persons × 30 days, at most
                "contacts_median": result["contacts_median"],
                **common,
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
                "area_entries": result["area_entries"],
                "persons": result["area_persons"],
                **common,
            }
        )
    )


if __name__ == "__main__":
    main()
