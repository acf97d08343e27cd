"""One audit record per gateway call, written in groups; usage counters and Prometheus metrics.

Calls queue their audit entry and wait: one writer commits everything queued so far in one transaction
(one chain seal for the group) and then releases the waiting calls. A call answers only after its entry
is committed, so the trail fails closed exactly as elsewhere (503 ``audit_unavailable``, nothing
returned), while a busy gateway pays one commit per group instead of one per call.

On SQLite the group is committed on the event loop's own thread whenever the database's write lock is
free at once (:class:`LoopWriter`), on the connection the gateway reads with: a commit there is a local
WAL append with no fsync, tens of microseconds, while handing it to a worker thread cost a busy gateway
more than the write itself (the two threads trading the GIL: ~140 µs a call measured, against ~30 µs
for the write). When another connection holds the lock (a governance pass, a CLI job) the group goes to
a worker thread as before, which waits for the lock without stopping the loop; WAL checkpoints (which
sync files) run in a worker thread too. On PostgreSQL a commit is a round trip to the server, awaited
on the loop through psycopg's asyncio connection (:class:`ServerWriter`): the loop serves other calls
meanwhile, and no worker thread trades the GIL with it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities.models import GatewayUsage
from zhongtai.core import audit
from zhongtai.core.bulk import sqlite_rows
from zhongtai.core.database import SQLITE_BUSY_TIMEOUT_MS
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.types import utcnow
from zhongtai.gateway.reads import HotReads

log = logging.getLogger("zhongtai.gateway")
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, float("inf"))
USAGE_FLUSH_SECONDS = 10.0
CHECKPOINT_SECONDS = 1.0
MAX_GROUP = 2_000


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, per call.
@dataclass(slots=True)
class CallRecord:
    app: str
    department_code: str
    capability: str
    resource_code: str
    items: list[str]
    record_count: int
    purpose: str
    grant_id: int | None
    outcome: str  # success | denied | error
    status: int
    key_id: str
    request_id: str
    end_user: str | None = None
    reason: str | None = None
    subject: str | None = None  # whose record a person lookup or verification read (core.pseudonym)


@dataclass
class _Usage:
    calls: int = 0
    errors: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_MS))
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _entry(call: CallRecord, now: datetime) -> dict[str, Any]:
    """The access-audit fields of one call: codes, counts and item names, never a value of the data."""
    detail: dict[str, Any] = {"capability": call.capability, "status": call.status, "key": call.key_id}
    if call.end_user:
        detail["end_user"] = call.end_user
    if call.reason:
        detail["reason"] = call.reason
    return {
        "occurred_at": now,
        "actor_user_id": None,
        "actor_username": f"app:{call.app}",
        "department_code": call.department_code,
        "event_type": "gateway.call",
        "target_type": "capability",
        "target_id": call.capability,
        "outcome": call.outcome,
        "changes": detail,
        "request_id": call.request_id,
        "app": call.app,
        "purpose": call.purpose[:200],
        "grant_id": call.grant_id,
        "resource_code": call.resource_code,
        "items": call.items,
        "record_count": call.record_count,
        "subject": call.subject,
    }


def bucket_of(milliseconds: float) -> int:
    """The index of the first latency bucket holding ``milliseconds`` (the last one holds the rest)."""
    return bisect.bisect_left(BUCKETS_MS, milliseconds)


class CallTally(Collector):
    """This process's gateway calls and latencies, counted in plain dicts on the event loop and read out
    as Prometheus metrics only when scraped: a labelled counter and histogram take a lock and a label
    look-up per call, a few per cent of a gateway call."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}  # per bucket, then the sum of seconds

    def count(self, capability: str, app: str, status: int, bucket: int, seconds: float) -> None:
        self.calls[(capability, app, status)] += 1
        counts = self.latency.get((capability, app))
        if counts is None:
            counts = self.latency[(capability, app)] = [0.0] * (len(BUCKETS_MS) + 1)
        counts[bucket] += 1
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "zhongtai_gateway_calls", "Gateway calls", labels=["capability", "app", "status"]
        )
        for (capability, app, status), value in list(self.calls.items()):
            calls.add_metric([capability, app, str(status)], value)
        yield calls
        latency = HistogramMetricFamily(
            "zhongtai_gateway_call_duration_seconds", "Gateway call latency", labels=["capability", "app"]
        )
        for (capability, app), counts in list(self.latency.items()):
            counts = list(counts)
            cumulative, running = [], 0.0
            for bound, count in zip(BUCKETS_MS, counts, strict=False):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else str(bound / 1000), running))
            latency.add_metric([capability, app], cumulative, counts[-1])
        yield latency


TALLY = CallTally()
REGISTRY.register(TALLY)


class Recorder:
    def __init__(self, factory: sessionmaker[Session], reads: HotReads) -> None:
        self.factory = factory
        bind = factory.kw["bind"]
        assert isinstance(bind, Engine)
        self.engine = bind
        self.queue: list[tuple[CallRecord, asyncio.Future[None]]] = []
        self.usage: dict[tuple[str, str], _Usage] = defaultdict(_Usage)
        self.usage_since = time.time()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_loop = LoopWriter(reads) if bind.dialect.name == "sqlite" else None
        self.on_server = ServerWriter(bind) if bind.dialect.name == "postgresql" else None
        self._checkpointed = time.monotonic()

    def _ensure_running(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop, self._wakeup = loop, asyncio.Event()
            self._task = loop.create_task(self._run())
        assert self._wakeup is not None
        return self._wakeup

    async def audit(self, call: CallRecord) -> None:
        """Returns once the call's audit entry is committed; Unavailable if it could not be."""
        wakeup = self._ensure_running()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((call, future))
        wakeup.set()
        await future

    def measure(self, capability: str, app: str, status: int, seconds: float) -> None:
        bucket = bucket_of(seconds * 1000)
        TALLY.count(capability, app, status, bucket, seconds)
        usage = self.usage[(app, capability)]
        usage.calls += 1
        usage.errors += status >= 400
        usage.buckets[bucket] += 1
        usage.statuses[str(status)] += 1

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=USAGE_FLUSH_SECONDS)
            self._wakeup.clear()
            while self.queue:
                group, self.queue = self.queue[:MAX_GROUP], self.queue[MAX_GROUP:]
                await self._commit(group)
            if time.time() - self.usage_since >= USAGE_FLUSH_SECONDS:
                await self.flush_usage()
            if self.on_loop is not None and time.monotonic() - self._checkpointed >= CHECKPOINT_SECONDS:
                await self.checkpoint()

    async def _commit(self, group: list[tuple[CallRecord, asyncio.Future[None]]]) -> None:
        calls = [call for call, _ in group]
        try:
            if self.on_server is not None:
                await self.on_server.write(_entries(calls))
            elif self.on_loop is None or not self.on_loop.write(_entries(calls)):
                await anyio.to_thread.run_sync(self._write, calls)
        except Exception as exc:  # the whole group fails closed
            log.error(
                "gateway audit group not written", extra={"error": type(exc).__name__, "calls": len(group)}
            )
            failure = Unavailable(
                M_("the audit trail cannot be written, so nothing was returned; try again later"),
                code="audit_unavailable",
            )
            for _, future in group:
                if not future.done():
                    future.set_exception(failure)
            return
        for _, future in group:
            if not future.done():
                future.set_result(None)

    def _write(self, calls: list[CallRecord]) -> None:
        with self.engine.begin() as connection:
            audit.append_access(connection, _entries(calls))

    async def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database file, off the loop (the loop's own writer
        never does: a checkpoint syncs files). Passive: it never waits for readers or writers."""
        self._checkpointed = time.monotonic()
        try:
            await anyio.to_thread.run_sync(self._checkpoint)
        except Exception as exc:  # a checkpoint not made now is made by the next one
            log.warning("gateway WAL checkpoint not made", extra={"error": type(exc).__name__})

    def _checkpoint(self) -> None:
        with self.engine.connect() as connection:
            # read to the end: no statement left open (and holding a read lock) on a pooled connection
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()

    async def flush_usage(self) -> None:
        usage, since = self.usage, self.usage_since
        self.usage, self.usage_since = defaultdict(_Usage), time.time()
        if not usage:
            return
        rows = [
            {
                "app_code": app,
                "capability_code": capability,
                "interval_start": datetime.fromtimestamp(since, UTC),
                "calls": counts.calls,
                "errors": counts.errors,
                "latency_buckets": counts.buckets,
                "statuses": dict(counts.statuses),
            }
            for (app, capability), counts in usage.items()
        ]
        try:
            await anyio.to_thread.run_sync(self._write_usage, rows)
        except Exception as exc:  # usage is statistics: losing one interval must not stop calls
            log.warning("gateway usage not written", extra={"error": type(exc).__name__})

    def _write_usage(self, rows: list[dict[str, object]]) -> None:
        with self.factory() as session, session.begin():
            session.execute(insert(GatewayUsage), rows)

    async def close(self) -> None:
        while self.queue:
            group, self.queue = self.queue[:MAX_GROUP], self.queue[MAX_GROUP:]
            await self._commit(group)
        await self.flush_usage()
        if self._task is not None:
            self._task.cancel()
        if self.on_server is not None:
            await self.on_server.close()


def _entries(calls: list[CallRecord]) -> list[dict[str, Any]]:
    now = utcnow()
    return [_entry(call, now) for call in calls]


class LoopWriter:
    """SQLite: audit groups committed on the calling (event loop's) thread when the write lock is free.

    On the gateway's read connection (``HotReads``, autocommit: each group its own transaction). The
    write lock is asked for with ``busy_timeout`` 0, so a lock held elsewhere is reported at once instead
    of stopping the loop for up to the engine's ten seconds; once it is held, the statements cannot wait.
    """

    def __init__(self, reads: HotReads) -> None:
        self.reads = reads

    def write(self, entries: list[dict[str, Any]]) -> bool:
        """True once the entries are committed; False if another connection holds the write lock
        (nothing written: the caller writes them elsewhere). Any other error is raised, nothing written."""
        driver = self.reads.driver()
        if not self._begin(driver):
            return False
        try:
            seq, prev = driver.execute(audit.HEAD_SQL[1], (audit.ACCESS,)).fetchone()
            rows = audit.chained_access_rows(entries, seq, prev)
            driver.executemany(audit.ACCESS_INSERT, sqlite_rows(rows))
            driver.execute(audit.HEAD_SQL[2], audit.head_after(rows))
            driver.execute("COMMIT")
        except BaseException:
            self._abandon(driver)
            raise
        return True

    def _begin(self, driver: Any) -> bool:
        """The write lock taken (True), or held by another connection (False)."""
        try:
            driver.execute("PRAGMA busy_timeout=0")
            try:
                driver.execute("BEGIN IMMEDIATE")
            finally:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except Exception as exc:
            if _locked(exc):
                return False
            self.reads.close()  # a fresh connection for the next call
            raise
        return True

    def _abandon(self, driver: Any) -> None:
        try:
            driver.execute("ROLLBACK")
        except Exception:  # a connection that cannot roll back is not used again
            self.reads.close()


def _locked(exc: BaseException) -> bool:
    """SQLITE_BUSY: another connection holds the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "database is locked" in str(exc)
    )


APPLICATION_NAME = "zhongtai gateway audit"
_LOCK_AND_READ = "UPDATE audit_chain_heads SET seq = seq WHERE chain = %s RETURNING seq, hash"
_INSERT, _MOVE = (sql.replace("?", "%s") for sql in (audit.ACCESS_INSERT, audit.HEAD_SQL[2]))  # psycopg's


class ServerWriter:
    """PostgreSQL: audit groups written through psycopg's asyncio connection, on the loop.

    Its own connection (``application_name`` "zhongtai gateway audit"), in autocommit with explicit
    transactions, each group in two round trips through pipeline mode: BEGIN and the head locked and
    read; then the rows, the head moved and COMMIT. A connection found broken in the first round trip
    (a restarted server) is replaced once, nothing having been written; any later error closes the
    connection (the server rolls back what it had not committed) and fails the group."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        self._conninfo: dict[str, Any] = {
            "application_name": APPLICATION_NAME,
            **url.translate_connect_args(username="user", database="dbname"),
            **url.query,
        }
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(autocommit=True, **self._conninfo)
        return self._connection

    async def write(self, entries: list[dict[str, Any]]) -> None:
        """Returns once the entries are committed; raises (nothing written) if they cannot be."""
        connection, (seq, prev) = await self._begin()
        try:
            rows = audit.chained_access_rows(entries, seq, prev)
            async with connection.pipeline(), connection.cursor() as cursor:
                await cursor.executemany(_INSERT, rows)
                await cursor.execute(_MOVE, audit.head_after(rows))
                await cursor.execute("COMMIT")
        except BaseException:
            await self.close()
            raise

    async def _begin(self) -> tuple[psycopg.AsyncConnection[Any], tuple[int, str]]:
        """A transaction begun with the access chain's head locked, and the head, in one round trip."""
        for attempt in range(2):
            connection = await self._open()
            try:
                async with connection.pipeline() as pipeline, connection.cursor() as cursor:
                    await cursor.execute("BEGIN")
                    await cursor.execute(_LOCK_AND_READ, (audit.ACCESS,))
                    await pipeline.sync()
                    head = await cursor.fetchone()
            except psycopg.OperationalError:
                await self.close()
                if attempt == 1:
                    raise
                continue
            except BaseException:
                await self.close()
                raise
            if head is None:
                await self.close()
                raise LookupError("the access chain has no head")
            return connection, (int(head[0]), str(head[1]))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
