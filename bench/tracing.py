"""Contact tracing, benchmarked: a city of P persons with D days of entry records (about E per person per day,
half place-code scans and half gate records, at P / 50 places), generated inside the database a day's worth
per statement; then cases traced one by one (``healthcode.tracing.start``: the case's entries, everyone's
entries near them, the classification, the contacts' evidence and colours, the audit entries — rolled back
after each, so every trace sees the same city) against the bare indexed query of that case's own entries
through the driver.
Target: one trace under 2 s on this 2-core machine at 1,000,000 persons and 30 days (~90 million entries).

Then a risk area is declared (one street of twenty, for the last day): the entries inside it become yellow
reasons and every affected person's colour is recomputed (``healthcode.areas.declare``: the sweep, the
evidence, the colours and their history, the audit) — against the floor of reading the inputs of that
decision through the driver (the entries inside, those persons' evidence and their colours now) and writing
one colour row per person found. Target: floor / ours ≥ 0.3, each the median of five rounds.

On SQLite by default (a new file); ``--database-url`` names another database (emptied and migrated first:
a SQLite file, or PostgreSQL). ``--fill-only`` fills it and stops; ``--filled`` measures a database an
earlier run filled with the same arguments.

    python bench/tracing.py --persons 1000000 --days 30
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
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

from zhongtai.core import heap
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
AREA_ROUNDS = 5
STREETS = 20
BATCH = 200_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Raw:
    """The driver itself (sqlite3 or psycopg), for the fill and the floors: SQL written with ``?`` (and ``%``
    meaning modulo on both)."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            self.db: Any = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        else:
            self.db = sqlite3.connect(make_url(url).database or "")
            self.db.execute("PRAGMA journal_mode=WAL")

    def sql(self, text: str) -> str:
        return text.replace("%", "%%").replace("?", "%s") if self.postgres else text

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

    def keys(self, values: list[str]) -> Any:
        """A list as one parameter, as the platform passes it: an array, or JSON for SQLite's json_each."""
        return values if self.postgres else json.dumps(values)

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def close(self) -> None:
        self.db.close()


def street_of(place: int) -> str:
    return f"街道{place % STREETS:02d}"


# Entries are generated inside the database (a number sequence through squarings modulo a prime, as
# Blum-Blum-Shub does: reproducible, the same on both databases, no Python per row; linear steps alone put
# each person's entries on a lattice, evenly spaced in time, and gave a third of the contacts random ones do)
# with the tables' secondary indexes dropped and rebuilt after, as a
# bulk load is done; a Python loop sending 90 million rows took hours.
MODULUS = 2_147_483_647
SUBJECT = "'p-' || printf('%07d', ({h1}) % {persons})"
SUBJECT_PG = "'p-' || lpad((({h1}) % {persons})::text, 7, '0')"
AT = "strftime('%Y-%m-%d %H:%M:%S', {start} + ({h3}) % {span}, 'unixepoch') || '.000000'"
AT_PG = "to_timestamp({start} + ({h3}) % {span})"


def _steps(n: str) -> tuple[str, str, str]:
    """Three pseudo-random numbers below 2^31 - 1 for entry ``n`` (products stay under 2^63: no overflow)."""
    start = f"(({n} + 1) * 16807 % {MODULUS})"
    h1 = f"(({start} * {start} + 1) % {MODULUS})"
    h2 = f"(({h1} * {h1} + 2) % {MODULUS})"
    return h1, h2, f"(({h2} * {h2} + 3) % {MODULUS})"


def _generated(raw: Raw, table: str, first: int, last: int, shape: dict[str, int]) -> None:
    """Entries ``first`` ≤ n < ``last`` inserted by one statement: a visit or a gate record of a pseudo-random
    person at a pseudo-random place and second of the period."""
    h1, h2, h3 = _steps("n")
    values = {"h1": h1, "h3": h3, **shape}
    subject = (SUBJECT_PG if raw.postgres else SUBJECT).format(**values)
    at = (AT_PG if raw.postgres else AT).format(**values)
    place = f"({h2} % {shape['places']} + 1)"
    if table == "healthcode_visits":
        columns, chosen = "place_id, subject, at, colour", f"{place}, {subject}, {at}, 0"
    else:
        columns = "gate_id, place_id, subject, at, decision, direction"
        chosen = f"{place}, {place}, {subject}, {at}, 'pass', 'in'"
    bounds = (first, last)
    if raw.postgres:
        source = "generate_series(?::bigint, ? - 1) AS n"
        raw.execute(f"INSERT INTO {table} ({columns}) SELECT {chosen} FROM {source}", bounds)  # noqa: S608
    else:
        seq = "WITH RECURSIVE seq(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < ?)"
        raw.execute(f"{seq} INSERT INTO {table} ({columns}) SELECT {chosen} FROM seq", bounds)  # noqa: S608


def _secondary_indexes(raw: Raw, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, definition) of the tables' indexes other than their primary keys."""
    names = ", ".join(f"'{t}'" for t in tables)
    if raw.postgres:
        query = (
            f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({names}) "  # noqa: S608
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        query = f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) AND sql IS NOT NULL"  # noqa: S608,E501
    return [(str(name), str(sql)) for name, sql in raw.execute(query)]


def fill(raw: Raw, persons: int, days: int, per_day: int, places: int) -> int:
    """Places with a gate each, and persons × days × per_day entries spread over them (half place scans,
    half gate records), a day's worth per statement; returns the count."""
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
    tables = ("healthcode_visits", "healthcode_passages")
    indexes = _secondary_indexes(raw, tables)
    for name, _ in indexes:
        raw.execute(f"DROP INDEX {name}")
    shape = {
        "persons": persons,
        "places": places,
        "start": int((NOW - timedelta(days=days)).timestamp()),
        "span": days * 86400,
    }
    half, step = persons * days * per_day // 2, max(1, persons * per_day // 2)  # a day's worth of each
    for first in range(0, half, step):
        last = min(half, first + step)
        _generated(raw, "healthcode_visits", first, last, shape)
        _generated(raw, "healthcode_passages", half + first, half + last, shape)
        raw.commit()
        print(f"filled {2 * last:,} of {2 * half:,} entries", file=sys.stderr, flush=True)
    if raw.postgres:
        raw.execute("SET maintenance_work_mem = '1GB'")
    for _, definition in indexes:
        raw.execute(definition)
        raw.commit()
    if raw.postgres:
        for table in ("healthcode_places", "healthcode_gates"):  # ids given: move the sequences past them
            raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?)", (places,))
        raw.commit()
    raw.execute("ANALYZE")
    raw.commit()
    return 2 * half


@contextmanager
def city(url: str | None, filled: bool) -> Iterator[str]:
    """A fresh, migrated database: a new SQLite file, or the database given (emptied) — or, ``filled``, the
    database given as an earlier run left it."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="zt-tracing-"))
        url = f"sqlite:///{folder / 'city.db'}"
    elif not filled:
        reset_database(url)
    upgrade(url)
    yield url


def filled_entries(raw: Raw, expected: int) -> int:
    """The entries an earlier run left, which must be the ones this run's arguments would make."""
    tables = ("healthcode_visits", "healthcode_passages")
    found = sum(raw.execute(f"SELECT count(*) FROM {table}")[0][0] for table in tables)  # noqa: S608
    if found != expected:
        raise SystemExit(f"the database holds {found:,} entries, not the {expected:,} these arguments make")
    return int(found)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    persons, days, per_day, traces = args.persons, args.days, args.per_day, args.traces
    if args.filled and args.database_url is None:
        raise SystemExit("--filled needs --database-url (the database an earlier run filled)")
    with city(args.database_url, args.filled) as url:
        raw = Raw(url)
        places = max(10, persons // 50)
        started = time.perf_counter()
        expected = 2 * (persons * days * per_day // 2)
        entries = filled_entries(raw, expected) if args.filled else fill(raw, persons, days, per_day, places)
        filled = time.perf_counter() - started
        if args.fill_only:
            raise SystemExit(f"filled {entries:,} entries in {filled:.0f} s; measure with --filled")
        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="zt-tracing-data-")), database_url=url)
        factory = build_sessionmaker(build_engine(url))
        staff = Principal(
            None, "wjw.officer", "wjw.officer", 1, settings.healthcode_department, frozenset({Role.OFFICER})
        )
        division_name("340104")  # the city's divisions: loaded once per process (a server has them already)
        heap.settle()  # as a server and a worker do after start-up
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
        raw.execute("DELETE FROM healthcode_evidence WHERE record = 'HS1'")  # and so does the next run
        raw.commit()
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
    among = "= ANY(?)" if raw.postgres else "IN (SELECT value FROM json_each(?))"
    evidence = (
        f"SELECT subject, fact, at, department, record, value FROM healthcode_evidence WHERE subject {among}"  # noqa: S608
    )
    colours = (
        f"SELECT subject, colour, rule_version, since, reasons FROM healthcode_colours WHERE subject {among}"  # noqa: S608
    )
    spec = ("medium", "340104", street_of(1), day, day)
    floors, ours = [], []
    for _ in range(AREA_ROUNDS):  # alternately, each rolled back: the median of each
        t0 = time.perf_counter()
        entries, persons, held = floor_round(
            raw, (inside, evidence, colours), (*places, start, *places, start)
        )
        t1 = time.perf_counter()
        with factory() as session:
            area = areas.declare(session, settings, staff, spec, NOW)
            session.flush()
            t2 = time.perf_counter()
            yellow = session.scalar(
                select(func.count()).select_from(PersonColour).where(PersonColour.colour == 1)
            )
            assert area.id and yellow and yellow >= persons * 0.9, (yellow, persons)
            t3 = time.perf_counter()
            session.rollback()
        floors.append(t1 - t0)
        ours.append(t2 - t1 + time.perf_counter() - t3)  # the check of the result not counted
    print("area rounds", [round(x, 3) for x in floors], [round(x, 3) for x in ours], file=sys.stderr)
    floor, median = statistics.median(floors), statistics.median(ours)
    return {
        "area_entries": entries,
        "area_evidence_held": held,
        "area_persons": persons,
        "area_s": round(median, 3),
        "area_floor_s": round(floor, 3),
        "area_ratio": round(floor / median, 3),
    }


def floor_round(raw: Raw, queries: tuple[str, str, str], period: tuple[Any, ...]) -> tuple[int, int, int]:
    """The floor once (rolled back): read the entries inside, those persons' evidence and colours, write one
    colour each. Returns the counts; what it read is gone before the platform's round starts."""
    inside, evidence, colours = queries
    now = raw.moment(NOW)
    found = raw.execute(inside, period)
    subjects = sorted({row[0] for row in found})
    held = raw.execute(evidence, (raw.keys(subjects),))  # what else is known of them
    raw.execute(colours, (raw.keys(subjects),))  # and the colour each has now
    raw.executemany(
        "INSERT INTO healthcode_colours (subject, colour, rule_version, reasons, since, computed_at) "
        "VALUES (?, 1, 1, '[]', ?, ?)",
        [(s, now, now) for s in subjects],
    )
    raw.rollback()
    return len(found), len(subjects), len(held)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000, help="Persons in the city")
    parser.add_argument("--days", type=int, default=30, help="Days of entry records")
    parser.add_argument("--per-day", type=int, default=3, help="Entries per person per day")
    parser.add_argument("--traces", type=int, default=20, help="Cases traced")
    parser.add_argument(
        "--database-url", default=None, help="The database to run on (emptied!); else a new SQLite file"
    )
    parser.add_argument("--fill-only", action="store_true", help="Fill the database given, measure nothing")
    parser.add_argument(
        "--filled", action="store_true", help="The database given holds an earlier run's city: measure only"
    )
    args = parser.parse_args()
    result = measure(args)
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
