"""The worker processes of a partitioned governance pass (``--workers N``, ``ZHONGTAI_GOVERN_WORKERS``).

A pass's raw rows are split into pages by key range (each page: the ``PAGE`` keys after a boundary).
A worker reads a page on a connection of its own, applies the rules and writes the page — clean rows,
rejects, the claims of the resource's base sources — in a transaction of its own, and hands back what
the pass needs to finish: the page's figures, the base keys its claims touched, its broken keys.

What makes the pages independent of the order they are written in:
- a source's claim on a key is replaced only by a later row (a later pass, or the same pass later in key
  order; ``repository.LATER_CLAIM``), so two pages that speak for one key leave the claim of the later
  row whichever commits first;
- unique rules, whose first holder in key order keeps a value, are decided for each page before it is
  written: its worker applies the rules and says the page's values, the pass's process sees them in key
  order and hands the refusals to the same worker, which writes the page (``pipeline._decider``);
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
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from stdnum import numdb

from zhongtai.core import heap
from zhongtai.core.bulk import as_json
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.governance.frames import FrameRules, PageOutcome, apply_page, kept_values, refuse_kept
from zhongtai.governance.fusion import FusionStats, SourceSpec, bucket_of, fuse_keys, source_items
from zhongtai.governance.models import BaseKind
from zhongtai.governance.paging import FirstLoad, PageCounts, PassCopy, prepare_page, put_page
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import RuleEngine, RuleSpec

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
    engines: ClassVar[OrderedDict[str, FrameRules]] = OrderedDict()
    outcomes: ClassVar[OrderedDict[tuple[str, int, int | None, str], PageOutcome]] = OrderedDict()


def _start(url: str, owner: int) -> None:
    _Worker.database = build_engine(url)
    numdb.get("cn/loc")  # GB/T 2260's table, read once per worker rather than on its first ID number
    threading.Thread(target=_end_with, args=(owner,), name="owner-watch", daemon=True).start()
    heap.settle()  # started: the pages' full collections need not walk the modules' objects


def _end_with(owner: int) -> None:
    """A worker does not outlive the process it works for: killed, that process leaves its workers
    waiting on a queue nobody feeds any more (and holding their database connections)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the number taken by someone else's process: ours is gone too
            os._exit(0)


def _engine(spec: EngineSpec) -> FrameRules:
    # A day's engine: its memos keep refusals that depend on the date (a birth date not yet past).
    key = f"{spec.key}@{date.today().isoformat()}"
    engine = _Worker.engines.get(key)
    if engine is None:
        engine = FrameRules(RuleEngine(spec.rules, spec.version, spec.element_kinds, spec.item_elements))
        _Worker.engines[key] = engine
        if len(_Worker.engines) > 4:
            _Worker.engines.popitem(last=False)
    return engine


def _compute_page(
    spec: EngineSpec, specs: dict[int, SourceSpec], job_id: int, run_id: int | None, after: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Apply the rules to a page and keep the outcome for its write (which comes to this worker too);
    answer the page's kept rows, in key order, with the values its unique rules would hold."""
    rules = _engine(spec)
    outcome = _read_and_apply(rules, specs, job_id, run_id, after, limit)
    _Worker.outcomes[(spec.key, job_id, run_id, after)] = outcome
    while len(_Worker.outcomes) > 16:  # a pass that failed between a compute and its write
        _Worker.outcomes.popitem(last=False)
    return kept_values(outcome, list(rules.engine.seen))


def _read_and_apply(
    rules: FrameRules, specs: dict[int, SourceSpec], job_id: int, run_id: int | None, after: str, limit: int
) -> PageOutcome:
    """The page's rows with every rule but the unique ones applied."""
    assert _Worker.database is not None
    with build_sessionmaker(_Worker.database)() as session:
        page = GovernanceRepository(session).raw_page(job_id, run_id, after, limit)
        session.rollback()
    return apply_page(rules, job_id, page, extra_items=source_items(specs))


def _write_page(
    spec: EngineSpec,
    governed: PassCopy,
    specs: dict[int, SourceSpec],
    job_id: int,
    after: str,
    limit: int,
    duplicates: Duplicates,
) -> WrittenPage:
    """Read one page and apply the rules (or take the outcome ``_compute_page`` kept), refuse the rows
    the unique rules refuse (as given), make its claims, then write it in one transaction. Reading and
    computing happen before the transaction: on SQLite, where one writer writes at a time, workers
    compute while another writes."""
    rules, database = _engine(spec), _Worker.database
    assert database is not None
    started = time.process_time()
    outcome = _Worker.outcomes.pop((spec.key, job_id, governed.run_id, after), None)
    if outcome is None:
        outcome = _read_and_apply(rules, specs, job_id, governed.run_id, after, limit)
    refuse_kept(outcome, duplicates)
    first = FirstLoad(jobs=governed.new_jobs)  # clean rows only (see FirstLoad)
    stats = FusionStats(remembering=False)
    page = prepare_page(rules.engine, governed, job_id, outcome.raw_rows, outcome, specs, stats, first)
    factory = build_sessionmaker(database)
    for attempt in range(1, RETRIES + 1):
        try:
            with transaction(factory) as session:
                repo = GovernanceRepository(session)
                repo.take_write_lock()
                withdrawn = put_page(repo, governed, page, list(specs), first)
            break
        except DBAPIError as exc:  # the page is one transaction: written again from the start
            if attempt == RETRIES or getattr(exc.orig, "sqlstate", None) not in RETRIED:
                raise
    stats.add(withdrawn)
    keys = {base: sorted(touched) for base, touched in stats.keys.items()}
    return WrittenPage(page.counts, PageStats(keys, stats.claims, stats.unlinked), _spent(started))


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
    """Worker processes for the partitioned passes of one process, kept from one pass to the next: one
    single-process pool each, so a page's compute and its write go to the same worker."""

    _pools: ClassVar[dict[tuple[int, str], list[ProcessPoolExecutor]]] = {}

    def __init__(self, count: int, url: str) -> None:
        self.count, self.url = count, url
        pools = self._pools.get((count, url))
        broken = pools is not None and any(getattr(pool, "_broken", False) for pool in pools)
        self.pools = pools if pools is not None and not broken else self._start(count, url)

    @classmethod
    def _start(cls, count: int, url: str) -> list[ProcessPoolExecutor]:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pools = [
            ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=(url, os.getpid()))
            for _ in range(count)
        ]
        cls._pools[(count, url)] = pools
        return pools

    @classmethod
    def close_all(cls) -> None:
        """Stop every pool's workers (a process that is done governing, or a test)."""
        while cls._pools:
            _, pools = cls._pools.popitem()
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)

    def pids(self) -> list[int]:
        return [pid for pool in self.pools for pid in list(pool._processes or {})]

    def write_pages(
        self,
        spec: EngineSpec,
        governed: PassCopy,
        specs: dict[int, SourceSpec],
        job_id: int,
        starts: list[str],
        limit: int,
        decide: Callable[[list[tuple[str, dict[str, Any]]]], Duplicates] | None,
    ) -> Iterator[WrittenPage]:
        """Each page written, in key order. With unique rules (``decide``), a page's rules are applied
        first and its unique values handed to ``decide`` in key order; its write follows, with the
        refusals ``decide`` made, on the worker that kept the outcome."""
        if decide is None:
            yield from self._in_order(
                lambda n, after: (_write_page, spec, governed, specs, job_id, after, limit, {}), starts
            )
            return
        computed = self._in_order(
            lambda n, after: (_compute_page, spec, specs, job_id, governed.run_id, after, limit), starts
        )
        writes: deque[Future[WrittenPage]] = deque()
        try:
            for n, (after, values) in enumerate(zip(starts, computed, strict=True)):
                task = (_write_page, spec, governed, specs, job_id, after, limit, decide(values))
                writes.append(self._submit(n, task))
                while writes and (writes[0].done() or len(writes) > 2 * self.count):
                    yield writes.popleft().result()
            while writes:
                yield writes.popleft().result()
        except BrokenProcessPool:
            self._discard()
            raise

    def fuse(self, keys: dict[BaseKind, set[str]], moment: datetime) -> Iterator[FusedBucket]:
        """Fuse ``keys`` in ``FUSION_BUCKETS`` buckets, each a task of its own."""
        buckets: list[dict[BaseKind, list[str]]] = [{} for _ in range(FUSION_BUCKETS)]
        for base, some in keys.items():
            for key in some:
                buckets[bucket_of(key, FUSION_BUCKETS)].setdefault(base, []).append(key)
        tasks = {str(n): keys for n, keys in enumerate(buckets) if keys}
        return self._in_order(
            lambda n, bucket: (_fuse_bucket, moment, tasks[bucket], int(bucket)), list(tasks)
        )

    def _submit(self, n: int, task: tuple[Any, ...]) -> Future[Any]:
        return self.pools[n % self.count].submit(*task)

    def _discard(self) -> None:
        """A worker died: this pass fails, the next starts new workers. The others finish the page in
        hand first (what was queued is cancelled), so nothing of the pass is written after it is
        recorded as failed."""
        self._pools.pop((self.count, self.url), None)
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def _in_order(self, task: Callable[[int, str], tuple[Any, ...]], starts: list[str]) -> Iterator[Any]:
        """Each page's answer in key order (page n on worker n mod count), at most two pages per worker
        in flight (answers never pile up faster than the pass takes them). A worker that died fails the
        pass (``BrokenProcessPool``)."""
        waiting: deque[Future[Any]] = deque()
        pending = enumerate(starts)
        try:
            for n, after in pending:
                waiting.append(self._submit(n, task(n, after)))
                if len(waiting) >= 2 * self.count:
                    break
            while waiting:
                yield waiting.popleft().result()
                following = next(pending, None)
                if following is not None:
                    waiting.append(self._submit(following[0], task(*following)))
        except BrokenProcessPool:
            self._discard()
            raise
        finally:
            for future in waiting:
                future.cancel()
