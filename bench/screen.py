"""bench/screen.py — the big screen's refresh on a city of P persons with a day of events, in one run.

The city (generated straight into the database): P risk-crowd profiles, P / 1000 places across the
districts, a day of scans (1.5 P place scans and 0.5 P gate passages), 5 % of the people yellow or red with
their colour history, a day of gateway usage (20 capabilities × 2 apps, a row per 10 s each), test results,
travel declarations and open traces. The rollups are first advanced over that whole day (timed and printed:
the catch-up a new deployment does once).

(a) **Refresh** — what every screen receives each interval: the rollup rows of the last 24 hours read and
    every panel composed into its JSON — against the floor of the bare read of the same rollup rows through
    the driver. Median of ``--rounds``. Target: floor / ours ≥ 0.5. Before each round the events of one
    interval (five seconds at the day's rate) arrive and the rollups advance past them and recount the
    registers: that maintenance is timed and printed apart (``advance_seconds``), as it is the rollup job's
    work, done once per interval whatever the number of screens, not the refresh's.
(b) **Fan-out** — the database's work per second of watching (counted by the database: SQLite's virtual
    machine instructions, PostgreSQL's rows returned and fetched and blocks touched) with 1 screen
    connected, against the same with 100 screens (each a consumer of the hub's stream, half-second
    intervals). It must not grow with screens: work(1) / work(100) ≥ 0.9.

Also printed: the minute-by-minute risk-crowd counts on the city (the profile gauge: the risk groups joined
to P profiles), which runs once a minute, not per refresh.

On SQLite by default (a new file); ``--database-url`` names a PostgreSQL server database to use instead
(emptied and migrated first). Last line: the JSON of ``shared/STYLE.md`` with (a) as ``ratio`` and (b) as
extra keys.

    python bench/screen.py --persons 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from support import bench_database  # bench/support.py, beside this script

from zhongtai.core import rollups
from zhongtai.core.bulk import bulk_insert
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.figures import build_feeds
from zhongtai.screen import profiling, service
from zhongtai.screen.hub import Hub

REFRESH_TARGET = 0.5
FANOUT_TARGET = 0.9
BATCH = 100_000
DAY = 24 * 3600
CAPABILITIES = [f"cap.{n:02d}" for n in range(20)]
APPS = ["app.health", "app.housing"]
AGE_BANDS = profiling.AGE_BANDS
INDUSTRIES = ["制造业", "批发和零售业", "建筑业", "教育", "卫生和社会工作", "信息技术服务业"]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log(f"{label}: {time.perf_counter() - started:.1f} s")


def _insert(
    factory: sessionmaker[Session], table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    """Rows into a table in batches, straight through the driver (COPY on PostgreSQL)."""
    total, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            with transaction(factory) as session:
                bulk_insert(session.connection(), table, columns, batch)
            total, batch = total + len(batch), []
    if batch:
        with transaction(factory) as session:
            bulk_insert(session.connection(), table, columns, batch)
        total += len(batch)
    return total


class City:
    """A city of ``persons`` with a day of events ending at ``now``, generated reproducibly."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, persons: int, now: datetime
    ) -> None:
        self.factory, self.settings, self.persons, self.now = factory, settings, persons, now
        self.known = profiling.city_districts(settings)
        self.rng = random.Random(2020)
        self.places = max(10, persons // 1000)
        self.next_visit = self.next_passage = self.next_usage = 0

    def moment(self, seconds_ago: float) -> datetime:
        return self.now - timedelta(seconds=seconds_ago)

    def fill(self) -> None:
        names = list(self.known.items())
        with timed("citizens and places"):
            owner = (1, "person", "p-owner", "王*", "x", "x", self.now)
            _insert(
                self.factory,
                "citizens",
                ("id", "kind", "subject", "name", "id_number_sealed", "mobile_sealed", "created_at"),
                iter([owner]),
            )
            self._places(names)
        with timed(f"profiles ({self.persons:,})"):
            _insert(
                self.factory,
                "screen_profiles",
                ("subject", "district", "street", "age_band", "sex", "industry", "seen_at"),
                self._profiles(names),
            )
        with timed("a day of scans"):
            self.next_visit = _insert(
                self.factory,
                "healthcode_visits",
                ("id", "place_id", "subject", "at", "colour"),
                self._visits(int(self.persons * 1.5), DAY, 1),
            )
            self.next_passage = _insert(
                self.factory,
                "healthcode_passages",
                ("id", "gate_id", "place_id", "subject", "at", "colour", "decision", "direction"),
                self._passages(self.persons // 2, DAY, 1),
            )
        with timed("colours and their history"):
            self._colours()
        with timed("a day of gateway usage"):
            self.next_usage = _insert(
                self.factory,
                "gateway_usage",
                (
                    "id",
                    "app_code",
                    "capability_code",
                    "interval_start",
                    "calls",
                    "errors",
                    "latency_buckets",
                    "statuses",
                ),
                self._usage(DAY, 1),
            )
        with timed("tests, travels and traces"):
            self._evidence_travels_traces()

    def _places(self, names: list[tuple[str, str]]) -> None:
        rows = [
            (
                p,
                f"P{p:07d}",
                f"场所{p}",
                "shop",
                f"安徽省庐州市{names[p % len(names)][1]}某路{p}号",
                f"街道{p % 20}",
                "SJZYJ",
                1,
                "approved",
                self.now,
                "",
            )
            for p in range(1, self.places + 1)
        ]
        _insert(
            self.factory,
            "healthcode_places",
            (
                "id",
                "code",
                "name",
                "kind",
                "address",
                "street",
                "office",
                "owner_citizen_id",
                "status",
                "applied_at",
                "comment",
            ),
            iter(rows),
        )
        gates = [(p, p, "正门", f"{p:064d}", self.now) for p in range(1, self.places + 1)]
        _insert(
            self.factory,
            "healthcode_gates",
            ("id", "place_id", "name", "token_hash", "created_at"),
            iter(gates),
        )

    def _profiles(self, names: list[tuple[str, str]]) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(1)
        for n in range(1, self.persons + 1):
            code = names[n % len(names)][0]
            yield (
                f"p-{n:08d}",
                code,
                f"路{rng.randint(0, 199)}",
                AGE_BANDS[n % len(AGE_BANDS)],
                "男女"[n % 2],
                INDUSTRIES[n % len(INDUSTRIES)],
                self.now,
            )

    def _visits(self, count: int, span: float, first: int) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for i in range(count):
            yield (
                first + i,
                rng.randint(1, self.places),
                f"p-{rng.randint(1, self.persons):08d}",
                self.moment(span * (count - i) / count),
                0 if rng.random() < 0.95 else 1,
            )

    def _passages(self, count: int, span: float, first: int) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for i in range(count):
            place = rng.randint(1, self.places)
            yield (
                first + i,
                place,
                place,
                f"p-{rng.randint(1, self.persons):08d}",
                self.moment(span * (count - i) / count),
                0,
                "pass",
                "in",
            )

    def _usage(self, span: float, first: int) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        shapes = []  # latency histograms of 5 to 60 calls, made once
        for calls in range(5, 61):
            buckets = [0] * 14
            for _ in range(calls):
                buckets[min(13, int(rng.expovariate(0.4)))] += 1
            shapes.append((calls, json.dumps(buckets), json.dumps({"200": calls})))
        n = first
        for k in range(int(span // 10)):
            at = self.moment(span - k * 10)
            for app in APPS:
                for cap in CAPABILITIES:
                    calls, buckets, statuses = shapes[rng.randrange(len(shapes))]
                    yield (n, app, cap, at, calls, calls // 50, buckets, statuses)
                    n += 1

    def _colours(self) -> None:
        risky = self.persons // 20
        rows, history = [], []
        for i in range(risky):
            subject = f"p-{i * 20 + 1:08d}"
            colour = 2 if i % 5 == 0 else 1
            at = self.moment(self.rng.uniform(0, DAY))
            rows.append((subject, colour, 2, "[]", at, at))
            history.append((i + 1, subject, colour, None, 2, at, "[]"))
        _insert(
            self.factory,
            "healthcode_colours",
            ("subject", "colour", "rule_version", "reasons", "since", "computed_at"),
            iter(rows),
        )
        _insert(
            self.factory,
            "healthcode_colour_history",
            ("id", "subject", "colour", "previous", "rule_version", "at", "reasons"),
            iter(history),
        )

    def _evidence_travels_traces(self) -> None:
        positives = [
            (
                i,
                f"p-{i * 997 % self.persons + 1:08d}",
                "positive_test",
                self.moment(i * 60),
                "WJW",
                f"HS{i:08d}",
                "阳性",
            )
            for i in range(1, 501)
        ]
        _insert(
            self.factory,
            "healthcode_evidence",
            ("id", "subject", "fact", "at", "department", "record", "value"),
            iter(positives),
        )
        code = next(iter(self.known))
        _insert(
            self.factory,
            "healthcode_risk_areas",
            ("id", "level", "district", "street", "starts_on", "declared_by", "declared_at"),
            iter([(1, "high", code, "", self.now.date(), "bench", self.now)]),
        )
        travels = [
            (i, f"p-{i * 31 % self.persons + 1:08d}", 1, self.now.date(), self.now)
            for i in range(1, self.persons // 100 + 1)
        ]
        _insert(
            self.factory,
            "healthcode_travels",
            ("id", "subject", "area_id", '"on"', "declared_at"),
            iter(travels),
        )
        traces = [
            (
                t,
                f"LD{t:08d}",
                f"p-{t:08d}",
                f"HS{t:08d}",
                "open",
                2,
                self.moment(DAY),
                self.now,
                False,
                "bench",
                self.now,
                "",
            )
            for t in range(1, 21)
        ]
        _insert(
            self.factory,
            "healthcode_traces",
            (
                "id",
                "number",
                "case_subject",
                "case_record",
                "status",
                "rule_version",
                "since",
                "until",
                "second_degree",
                "created_by",
                "created_at",
                "close_note",
            ),
            iter(traces),
        )
        contacts = [
            (c, c % 20 + 1, f"p-{c * 7 % self.persons + 1:08d}", 1, "close_contact", 1, self.now, "found", "")
            for c in range(1, 2001)
        ]
        _insert(
            self.factory,
            "healthcode_trace_contacts",
            ("id", "trace_id", "subject", "degree", "kind", "place_id", "at", "status", "reason"),
            iter(contacts),
        )

    def trickle(self, seconds: float) -> None:
        """The events of the last ``seconds`` at the day's rate (what a refresh interval brings)."""
        visits = max(1, int(self.persons * 1.5 * seconds / DAY))
        rows = list(self._visits(visits, seconds, self.next_visit + 1))
        self.next_visit += len(rows)
        with transaction(self.factory) as session:
            bulk_insert(
                session.connection(), "healthcode_visits", ("id", "place_id", "subject", "at", "colour"), rows
            )


def bare_read(engine: Engine, now: datetime) -> int:
    """The floor: the rollup rows a refresh needs, read through the driver and nothing else."""
    since = rollups.minute_of(now - timedelta(hours=24))
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        cursor = raw.cursor()
        sql = f"SELECT metric, dim, minute, value FROM rollup_counts WHERE minute = 0 OR minute >= {mark}"  # noqa: S608
        cursor.execute(sql, (since,))
        counts = cursor.fetchall()
        cursor.execute("SELECT metric, dim, value FROM rollup_gauges")
        gauges = cursor.fetchall()
        cursor.close()
    return len(counts) + len(gauges)


def refresh(factory: sessionmaker[Session], settings: Settings, now: datetime) -> bytes:
    """What every screen receives each interval: the rollup rows read and every panel composed into JSON
    (``screen.hub.Hub.compute`` after its advance)."""
    with factory() as session:
        found = rollups.read(session, now)
    return orjson.dumps(service.compose(found, settings, []))


class DatabaseWork:
    """Work done inside the database, counted by the database itself: on SQLite the virtual machine's
    instructions (a progress handler every 1,000), on PostgreSQL the rows its scans returned and fetched
    and the blocks they touched (``pg_stat_database``). Neither depends on how busy the Python process is."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.steps = 0
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def count_steps(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.set_progress_handler(self._step, 1000)

            engine.dispose()  # connections made from now on are counted

    def _step(self) -> int:
        self.steps += 1
        return 0  # carry on

    def units(self) -> int:
        if self.engine.dialect.name == "sqlite":
            return self.steps * 1000
        time.sleep(1.2)  # the server publishes its counters at most once a second
        sql = (
            "SELECT tup_returned + tup_fetched + blks_hit + blks_read FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return int(connection.exec_driver_sql(sql).scalar_one())


async def watch(hub: Hub, screens: int, seconds: float) -> int:
    """``screens`` consumers of the hub's stream for ``seconds``; the number of figures they received."""
    received = [0] * screens

    async def screen(i: int) -> None:
        async for chunk in hub.admit():
            if chunk.startswith(b"id: "):
                received[i] += 1

    tasks = [asyncio.create_task(screen(i)) for i in range(screens)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await hub.close()
    return sum(received)


def fanout(
    factory: sessionmaker[Session],
    settings: Settings,
    feeds: rollups.Feeds,
    work: DatabaseWork,
    seconds: float,
) -> dict[str, float]:
    """The database's work per second of watching with 1 and with 100 screens connected."""
    spent: dict[int, float] = {}
    for screens in (1, 100, 1):  # 1 twice: the first run warms the caches; the second is measured
        hub = Hub(factory, settings, feeds)
        hub.interval = 0.5
        before = work.units()
        received = asyncio.run(watch(hub, screens, seconds))
        spent[screens] = (work.units() - before) / seconds
        log(
            f"{screens:>3} screen(s): {hub.computations} computations, "
            f"{spent[screens]:,.0f} units of database work a second, {received} figures delivered"
        )
    return {"one": spent[1], "hundred": spent[100], "ratio": spent[1] / spent[100]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--fanout-seconds", type=float, default=6.0)
    parser.add_argument(
        "--database-url", help="PostgreSQL (emptied and migrated first); default a new SQLite file"
    )
    args = parser.parse_args()
    bench = bench_database(args.database_url, "zt-screen-")
    settings, engine, factory = bench.settings, bench.engine, bench.factory
    feeds = build_feeds(settings)
    now = utcnow()
    city = City(factory, settings, args.persons, now)
    city.fill()
    started = time.perf_counter()
    with transaction(factory) as session:
        caught_up = rollups.advance(session, now, feeds)
    catch_up = time.perf_counter() - started
    log(
        f"rollups over the whole day: {caught_up.rows:,} events in {catch_up:.1f} s "
        f"({caught_up.rows / catch_up:,.0f} a second); {caught_up.gauges} gauges"
    )
    started = time.perf_counter()
    with transaction(factory) as session:
        profile = profiling.counts(session, now)
    log(f"risk-crowd counts (once a minute): {time.perf_counter() - started:.2f} s, {len(profile)} cells")
    ours, floor, advances = [], [], []
    for round_ in range(args.rounds):
        moment = now + timedelta(seconds=1 + round_)  # within the minute: the periodic gauges are not due
        city.now = moment
        city.trickle(settings.screen_interval_seconds)
        started = time.perf_counter()
        with transaction(factory) as session:  # the interval's events and the registers, into the rollups
            rollups.advance(session, moment, feeds)
        advances.append(time.perf_counter() - started)
        started = time.perf_counter()
        payload = refresh(factory, settings, moment)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = bare_read(engine, moment)
        floor.append(time.perf_counter() - started)
    log(
        f"refresh: median {statistics.median(ours) * 1000:.0f} ms ({len(payload):,} bytes of JSON); "
        f"bare read of {rows:,} rollup rows: median {statistics.median(floor) * 1000:.0f} ms"
    )
    with transaction(factory) as session:  # the minute's periodic gauges now, not inside one window only
        rollups.advance(session, utcnow(), feeds)
    spread = fanout(factory, settings, feeds, DatabaseWork(engine), args.fanout_seconds)
    result = {
        "name": "screen.refresh",
        "value": round(statistics.median(ours), 4),
        "unit": "s",
        "floor": round(statistics.median(floor), 4),
        "ratio": round(statistics.median(floor) / statistics.median(ours), 3),
        "target": REFRESH_TARGET,
        "persons": args.persons,
        "backend": engine.dialect.name,
        "fanout_ratio": round(spread["ratio"], 3),
        "fanout_target": FANOUT_TARGET,
        "fanout_db_work_per_second_1": round(spread["one"]),
        "fanout_db_work_per_second_100": round(spread["hundred"]),
        "advance_seconds": round(statistics.median(advances), 4),
    }
    engine.dispose()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
