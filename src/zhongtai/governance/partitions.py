"""The worker processes of a partitioned governance pass (``--workers N``, ``ZHONGTAI_GOVERN_WORKERS``).

A pass's raw rows are split into pages by key range (each page: the ``PAGE`` keys after a boundary).
A worker reads a page on a connection of its own, applies the rules and writes the page — clean rows,
rejects, the claims of the resource's base sources — in a transaction of its own, and hands back what
the pass needs to finish: the page's figures, the base keys its claims touched, its broken keys.

What makes the pages independent of the order they are written in:
- a source's claim on a key is replaced only by a later row (a later pass, or the same pass later in key
  order; ``repository.LATER_CLAIM``), so two pages that speak for one key leave the claim of the later
  row whichever commits first;
- unique rules, whose first holder in key order keeps a value, are decided before any page is written:
  workers say each page's values and the pass's process sees them in key order (``pipeline``);
- fusion waits until every page is written, and reads every committed claim of the keys touched; the
  keys are fused in buckets (by a stable hash of the key), a transaction each, in parallel: a bucket
  holds its own advisory lock and the shared one that a one-process pass's fusion takes exclusively.

Workers are forked from a fork server (a clean interpreter with these modules loaded), so nothing of the
pass's own process (its connections, its threads) is ever forked; they stay for the process's next
pass, which pays no start-up and finds their rule memos warm.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from stdnum import numdb

from zhongtai.core.bulk import as_json
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.governance.fusion import FusionStats, SourceSpec, bucket_of, fuse_keys
from zhongtai.governance.models import BaseKind
from zhongtai.governance.paging import PageCounts, PassCopy, write_page
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import Outcome, Refusal, RuleEngine, RuleSpec

Duplicates = dict[str, tuple[str, str, str]]  # source key -> (rule id, item, reason)
# A page's writes may meet another page's over a claim withdrawn by one and made by the other: PostgreSQL
# then ends one of them (deadlock, 40P01) and it is written again.
RETRIED = {"40P01", "40001"}
RETRIES = 3
FUSION_BUCKETS = 16  # fusion tasks of a partitioned pass (and PostgreSQL advisory locks): keys by crc32


@dataclass(frozen=True)
class EngineSpec:
    """What a worker needs to compile the pass's rules (plain data: it crosses a process boundary)."""

    rules: list[RuleSpec]
    version: int
    element_kinds: dict[str, str]
    item_elements: dict[str, str | None]
    key: str  # tells the compiled engines of resources and versions apart

    @classmethod
    def of(
        cls,
        resource_id: int,
        rules: list[RuleSpec],
        version: int,
        element_kinds: dict[str, str],
        item_elements: dict[str, str | None],
    ) -> EngineSpec:
        key = as_json([resource_id, version, element_kinds, item_elements]) or ""
        return cls(rules, version, element_kinds, item_elements, key)


@dataclass(frozen=True)
class PageStats:
    """What fusion needs of a page: the keys its claims touched, and how many claims it made."""

    keys: dict[BaseKind, list[str]]
    claims: int
    unlinked: int


@dataclass(frozen=True)
class WorkerTime:
    """CPU seconds a worker process spent on one task (how the work was shared, for the benchmark)."""

    pid: int
    cpu_seconds: float


@dataclass(frozen=True)
class WrittenPage:
    counts: PageCounts
    stats: PageStats
    spent: WorkerTime


@dataclass(frozen=True)
class FusedBucket:
    records_written: int
    conflicts_opened: int
    spent: WorkerTime


class _Worker:
    """The state of one worker process: its own database engine and the rule engines of the passes it
    worked for lately (their memos stay warm from one page, and one pass of a resource, to the next)."""

    database: Engine | None = None
    engines: ClassVar[OrderedDict[str, RuleEngine]] = OrderedDict()


def _start(url: str) -> None:
    _Worker.database = build_engine(url)
    numdb.get("cn/loc")  # GB/T 2260's table, read once per worker rather than on its first ID number


def _engine(spec: EngineSpec) -> RuleEngine:
    engine = _Worker.engines.get(spec.key)
    if engine is None:
        engine = RuleEngine(spec.rules, spec.version, spec.element_kinds, spec.item_elements)
        _Worker.engines[spec.key] = engine
        if len(_Worker.engines) > 4:
            _Worker.engines.popitem(last=False)
    return engine


def _unique_values(
    spec: EngineSpec, job_id: int, run_id: int | None, after: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """A page's kept rows (in key order) with the values its unique rules would hold."""
    engine, database = _engine(spec), _Worker.database
    assert database is not None
    with build_sessionmaker(database)() as session:
        rows = GovernanceRepository(session).raw_rows(job_id, run_id, after, limit)
        session.rollback()
    items = list(engine.seen)
    return [
        (kept.row.source_key, {item: kept.data.get(item) for item in items})
        for kept in engine.apply_rows(rows).kept
    ]


def _write_page(
    spec: EngineSpec,
    governed: PassCopy,
    specs: dict[int, SourceSpec],
    job_id: int,
    after: str,
    limit: int,
    duplicates: Duplicates,
) -> WrittenPage:
    """Read one page and apply the rules (the unique rules' refusals as given), then write it in one
    transaction. Reading and computing happen before the transaction: on SQLite, where one writer
    writes at a time, workers compute while another writes."""
    engine, database = _engine(spec), _Worker.database
    assert database is not None
    started = time.process_time()
    factory = build_sessionmaker(database)
    with factory() as session:
        rows = GovernanceRepository(session).raw_rows(job_id, governed.run_id, after, limit)
        session.rollback()
    outcome = engine.apply_rows(rows)
    if duplicates:
        _refuse_duplicates(outcome, duplicates)
    for attempt in range(1, RETRIES + 1):
        stats = FusionStats(remembering=False)
        try:
            with transaction(factory) as session:
                repo = GovernanceRepository(session)
                repo.take_write_lock()
                counts = write_page(repo, engine, governed, job_id, len(rows), outcome, specs, stats)
            break
        except DBAPIError as exc:  # the page is one transaction: written again from the start
            if attempt == RETRIES or getattr(exc.orig, "sqlstate", None) not in RETRIED:
                raise
    keys = {base: sorted(touched) for base, touched in stats.keys.items()}
    return WrittenPage(counts, PageStats(keys, stats.claims, stats.unlinked), _spent(started))


def _refuse_duplicates(outcome: Outcome, duplicates: Duplicates) -> None:
    still = []
    for kept in outcome.kept:
        refusal = duplicates.get(kept.row.source_key)
        if refusal is None:
            still.append(kept)
            continue
        rule_id, item, reason = refusal
        outcome.refused.append(Refusal(kept.row, rule_id, item, reason))
        outcome.changed_values -= len(kept.changes or {})
    outcome.kept = still


def _fuse_bucket(moment: datetime, keys: dict[BaseKind, list[str]], bucket: int) -> FusedBucket:
    """Fuse one bucket of the pass's keys in a transaction of its own, under the bucket's lock."""
    database = _Worker.database
    assert database is not None
    started = time.process_time()
    stats = FusionStats(remembering=False)
    for base, some in keys.items():
        stats.keys[base] = set(some)
    with transaction(build_sessionmaker(database)) as session:
        repo = GovernanceRepository(session)
        repo.prepare_fusion(bucket)
        fuse_keys(repo, stats, moment)
    return FusedBucket(stats.records_written, stats.conflicts_opened, _spent(started))


def _spent(started: float) -> WorkerTime:
    return WorkerTime(os.getpid(), time.process_time() - started)


class Workers:
    """Worker processes for the partitioned passes of one process, kept from one pass to the next."""

    _pools: ClassVar[dict[tuple[int, str], ProcessPoolExecutor]] = {}

    def __init__(self, count: int, url: str) -> None:
        self.count, self.url = count, url
        pool = self._pools.get((count, url))
        broken = pool is not None and getattr(pool, "_broken", False)  # a worker died after a pass
        self.pool = pool if pool is not None and not broken else self._start(count, url)

    @classmethod
    def _start(cls, count: int, url: str) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pool = ProcessPoolExecutor(count, mp_context=context, initializer=_start, initargs=(url,))
        cls._pools[(count, url)] = pool
        return pool

    @classmethod
    def close_all(cls) -> None:
        """Stop every pool's workers (a process that is done governing, or a test)."""
        while cls._pools:
            _, pool = cls._pools.popitem()
            pool.shutdown(wait=True, cancel_futures=True)

    def unique_values(
        self, spec: EngineSpec, job_id: int, run_id: int | None, starts: list[str], limit: int
    ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        return self._in_order(lambda after: (_unique_values, spec, job_id, run_id, after, limit), starts)

    def write_pages(
        self,
        spec: EngineSpec,
        governed: PassCopy,
        specs: dict[int, SourceSpec],
        job_id: int,
        starts: list[str],
        limit: int,
        duplicates: Duplicates,
    ) -> Iterator[WrittenPage]:
        # Every page gets the job's few duplicates: which page holds a key is the database's collation's
        # business, not Python's string order.
        return self._in_order(
            lambda after: (_write_page, spec, governed, specs, job_id, after, limit, duplicates), starts
        )

    def fuse(self, keys: dict[BaseKind, set[str]], moment: datetime) -> Iterator[FusedBucket]:
        """Fuse ``keys`` in ``FUSION_BUCKETS`` buckets, each a task of its own."""
        buckets: list[dict[BaseKind, list[str]]] = [{} for _ in range(FUSION_BUCKETS)]
        for base, some in keys.items():
            for key in some:
                buckets[bucket_of(key, FUSION_BUCKETS)].setdefault(base, []).append(key)
        tasks = {str(n): keys for n, keys in enumerate(buckets) if keys}
        return self._in_order(lambda n: (_fuse_bucket, moment, tasks[n], int(n)), list(tasks))

    def _in_order(self, task: Callable[[str], tuple[Any, ...]], starts: list[str]) -> Iterator[Any]:
        """Each page's answer in key order, at most two pages per worker in flight (answers never pile
        up faster than the pass takes them). A worker that died fails the pass (``BrokenProcessPool``)
        and the next pass starts new workers."""
        waiting: deque[Future[Any]] = deque()
        pending = iter(starts)
        try:
            for after in pending:
                waiting.append(self.pool.submit(*task(after)))
                if len(waiting) >= 2 * self.count:
                    break
            while waiting:
                yield waiting.popleft().result()
                following = next(pending, None)
                if following is not None:
                    waiting.append(self.pool.submit(*task(following)))
        except BrokenProcessPool:
            self._pools.pop((self.count, self.url), None)
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            for future in waiting:
                future.cancel()
