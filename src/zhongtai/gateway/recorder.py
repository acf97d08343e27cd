"""One audit record per gateway call, written in groups; usage counters and Prometheus metrics.

Calls queue their audit entry and wait: one writer commits everything queued so far in one transaction
(one chain seal for the group) and then releases the waiting calls. A call answers only after its entry
is committed, so the trail fails closed exactly as elsewhere (503 ``audit_unavailable``, nothing
returned), while a busy gateway pays one commit per group instead of one per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import anyio
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities.models import GatewayUsage
from zhongtai.core import audit
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.types import utcnow

log = logging.getLogger("zhongtai.gateway")
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, float("inf"))
CALLS = Counter("zhongtai_gateway_calls_total", "Gateway calls", ["capability", "app", "status"])
LATENCY = Histogram(
    "zhongtai_gateway_call_duration_seconds",
    "Gateway call latency",
    ["capability", "app"],
    buckets=tuple(b / 1000 for b in BUCKETS_MS[:-1]),
)
USAGE_FLUSH_SECONDS = 10.0
MAX_GROUP = 2_000


@dataclass(frozen=True, slots=True)
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


@lru_cache(maxsize=65536)
def _children(capability: str, app: str, status: int) -> tuple[Any, Any]:
    """The labelled counter and histogram (labels() looks them up under a lock on every call)."""
    return CALLS.labels(capability, app, str(status)), LATENCY.labels(capability, app)


def bucket_of(milliseconds: float) -> int:
    for index, bound in enumerate(BUCKETS_MS):
        if milliseconds <= bound:
            return index
    return len(BUCKETS_MS) - 1


class Recorder:
    def __init__(self, factory: sessionmaker[Session]) -> None:
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
        _children(capability, app, status)[0].inc()
        _children(capability, app, status)[1].observe(seconds)
        usage = self.usage[(app, capability)]
        usage.calls += 1
        usage.errors += status >= 400
        usage.buckets[bucket_of(seconds * 1000)] += 1
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

    async def _commit(self, group: list[tuple[CallRecord, asyncio.Future[None]]]) -> None:
        try:
            await anyio.to_thread.run_sync(self._write, [call for call, _ in group])
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
        now = utcnow()
        entries = [_entry(call, now) for call in calls]
        with self.engine.begin() as connection:
            audit.append_access(connection, entries)

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
