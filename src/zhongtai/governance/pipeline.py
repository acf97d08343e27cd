"""A governance pass (治理批次): raw rows -> rules -> clean zone and rejects -> claims -> base records.

A pass covers one ingestion batch (queued automatically after it) or the whole resource (on demand, e.g.
after its rules changed). In one process it is one transaction: it either leaves the clean zone, the
rejects, the base records and the conflicts all updated, or none of them; a failed pass is recorded
afterwards with its error. Re-running a pass over the same rows gives the same result, so a retried job
is harmless.

With several workers (``workers`` > 1) the pass is partitioned: the raw rows are split into pages by key
range, and worker processes apply the rules and write each page — clean rows, rejects, claims — in a
transaction of its own (``partitions``). Once every page is written, the pass's own process fuses the
keys they touched, links broken keys and finishes the pass in one last transaction. A page is all or
nothing; a pass that fails half-way (a worker killed) is recorded as failed, and the pass run again
leaves the same state a one-process pass would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core import outbox
from zhongtai.core.collector import bulk_work
from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Invalid, NotFound
from zhongtai.core.types import utcnow
from zhongtai.governance.frames import FrameRules, RawPage, apply_page, finish_page
from zhongtai.governance.fusion import FusionStats, SourceSpec, fuse_keys, source_items
from zhongtai.governance.liveness import PassHold, reap_interrupted
from zhongtai.governance.matching import Candidate, Unkeyed, match, nearby_numbers
from zhongtai.governance.models import BaseKind, GovernancePass, PassStatus
from zhongtai.governance.paging import FirstLoad, PageCounts, PassCopy, emit, key_of, prepare_page, put_page
from zhongtai.governance.partitions import Duplicates, EngineSpec, Workers, WorkerTime
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import RULES, Kept, Outcome, RawRow, RuleEngine

log = logging.getLogger("zhongtai.governance")
PAGE = 20_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class PassOutcome:
    pass_id: int
    status: PassStatus
    raw_rows: int
    clean_rows: int
    rejected_rows: int
    error: str | None = None
    worker_seconds: tuple[float, ...] = ()  # a partitioned pass: CPU seconds each worker process spent


def run_pass(
    factory: sessionmaker[Session],
    resource_code: str,
    *,
    run_id: int | None = None,
    trigger: str = "manual",
    requested_by: str = "system",
    progress: Progress | None = None,
    workers: int = 1,
) -> PassOutcome:
    """Govern a batch (``run_id``) or the whole resource; never raises for a failed pass. With
    ``workers`` > 1 (and a database other processes can open), a partitioned pass."""
    _reap(factory, resource_code)
    if workers > 1 and _shared(factory):
        return _run_partitioned(factory, resource_code, run_id, trigger, requested_by, progress, workers)
    try:
        with bulk_work(), transaction(factory) as session:
            return _govern(session, resource_code, run_id, trigger, requested_by, progress)
    except (Invalid, NotFound):
        raise
    except Exception as exc:
        log.exception("governance pass failed", extra={"resource": resource_code, "run": run_id})
        return _record_failure(factory, resource_code, run_id, trigger, requested_by, exc)


def _reap(factory: sessionmaker[Session], resource_code: str) -> None:
    """Earlier partitioned passes of the resource whose process died mid-pass: recorded as failed."""
    with factory() as session:
        resource = GovernanceRepository(session).resource(resource_code)
        resource_id = None if resource is None else resource.id
    if resource_id is not None:
        for pass_id in reap_interrupted(factory, resource_id):
            log.warning("governance pass interrupted", extra={"resource": resource_code, "pass": pass_id})


def withdraw_source(factory: sessionmaker[Session], source_id: int) -> int:
    """A base source was switched off: drop its claims and fuse the records it spoke for again (they keep
    what other sources say, or end). Returns how many records were touched."""
    with transaction(factory) as session:
        repo = GovernanceRepository(session)
        stats = FusionStats()
        stats.add(repo.withdraw_source_claims(source_id))
        _fuse(repo, stats, utcnow())
        return sum(len(keys) for keys in stats.keys.values())


def _record_failure(
    factory: sessionmaker[Session],
    resource_code: str,
    run_id: int | None,
    trigger: str,
    requested_by: str,
    exc: Exception,
) -> PassOutcome:
    with transaction(factory) as session:
        resource = GovernanceRepository(session).resource(resource_code)
        if resource is None:
            raise NotFound(M_("resource %(resource_code)s not found", resource_code=resource_code))
        failed = GovernancePass(
            resource_id=resource.id,
            run_id=run_id,
            trigger=trigger,
            requested_by=requested_by,
            status=PassStatus.FAILED,
            error=_error(exc),
            finished_at=utcnow(),
        )
        session.add(failed)
        session.flush()
        return PassOutcome(failed.id, failed.status, 0, 0, 0, failed.error)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


@dataclass
class _Plan:
    """What a pass works on, worked out before its first page."""

    governed: GovernancePass
    engine: RuleEngine
    spec: EngineSpec
    job_ids: list[int]
    specs: dict[int, SourceSpec]

    @property
    def source_items(self) -> list[str]:
        """The items the base sources read (each page has a column of each)."""
        return source_items(self.specs)


def _plan(session: Session, resource_code: str, run_id: int | None, trigger: str, requested_by: str) -> _Plan:
    """The pass recorded (running), its rules compiled, its jobs and base sources found."""
    repo = GovernanceRepository(session)
    resource = repo.resource(resource_code)
    if resource is None:
        raise NotFound(M_("resource %(resource_code)s not found", resource_code=resource_code))
    engine, spec, versions = compile_rules(repo, resource.id)
    governed = GovernancePass(
        resource_id=resource.id,
        run_id=run_id,
        rule_version=engine.version,
        elements=versions,
        trigger=trigger,
        requested_by=requested_by,
        started_at=utcnow(),
    )
    session.add(governed)
    session.flush()
    job_ids = _jobs_of(repo, resource.id, resource_code, run_id)
    department = repo.department_code(resource.provider_department_id)
    specs = {s.id: SourceSpec.of(s, department) for s in repo.base_sources(resource.id)}
    if engine.has_unique:
        _hold_unique(repo, engine, resource.id, job_ids, run_id)
    return _Plan(governed, engine, spec, job_ids, specs)


def _govern(
    session: Session,
    resource_code: str,
    run_id: int | None,
    trigger: str,
    requested_by: str,
    progress: Progress | None,
) -> PassOutcome:
    plan = _plan(session, resource_code, run_id, trigger, requested_by)
    repo, governed = GovernanceRepository(session), plan.governed
    stats = FusionStats()
    counts = PageCounts()
    rules = FrameRules(plan.engine)
    first = _first_load(repo, plan)
    sources = list(plan.specs)
    # One thread alone uses the session while pages flow (reads the next page, writes the last), so the
    # database works on one page while this thread computes the next: most of either side runs outside
    # the GIL (the driver waiting on the server or in SQLite's C, Polars' kernels).
    lane = ThreadPoolExecutor(1, thread_name_prefix="governance-db")
    writing: Future[list[tuple[str, str]]] | None = None
    try:
        for job_id in plan.job_ids:
            for page in _pages(lane, repo, job_id, run_id):
                outcome = apply_page(rules, job_id, page, extra_items=plan.source_items)
                finish_page(rules, outcome)
                prepared = prepare_page(
                    plan.engine, governed, job_id, len(page), outcome, plan.specs, stats, first
                )
                if writing is not None:
                    # a failed write stops the pass here. The keys of the claims a page withdrew reach
                    # fusion a page late; a first load's "new key" test does not need them (a fresh
                    # source's claims are all this pass's, and their keys were noted as they were made)
                    stats.add(writing.result())
                writing = lane.submit(put_page, repo, governed, prepared, sources, first)
                counts.add(prepared.counts)
                if progress is not None:
                    progress(counts.raw_rows)
        if writing is not None:
            stats.add(writing.result())
    finally:  # nothing may touch the session after this but this thread (a failure rolls it back)
        lane.shutdown(wait=True, cancel_futures=True)
    return _conclude(repo, plan, counts, stats)


def _pages(lane: Executor, repo: GovernanceRepository, job_id: int, run_id: int | None) -> Iterator[RawPage]:
    """A job's raw pages, each read by ``lane`` while the caller computes the one before."""
    reading = lane.submit(repo.raw_page, job_id, run_id, "", PAGE)
    while page := reading.result():
        reading = lane.submit(repo.raw_page, job_id, run_id, page[-1][0], PAGE)
        yield page


def _conclude(repo: GovernanceRepository, plan: _Plan, counts: PageCounts, stats: FusionStats) -> PassOutcome:
    """After the last page: rows gone from the source, fusion, broken keys linked, the pass's figures."""
    _withdraw_removed(repo, plan, stats)
    _fuse(repo, stats, plan.governed.started_at)
    return _close(repo, plan, counts, stats)


def _first_load(repo: GovernanceRepository, plan: _Plan, *, claims: bool = True) -> FirstLoad:
    """The jobs and sources a pass loads into empty places (``paging.FirstLoad``; ``claims``: whether to
    look for sources too — a partitioned pass merges every claim). Found holding the
    resource, so no other pass finds them empty meanwhile; none while another pass of the resource is
    alive and recorded running (a partitioned pass's workers write in transactions of their own)."""
    resource_id = plan.governed.resource_id
    repo.hold_resource(resource_id)
    if repo.others_running(resource_id, plan.governed.id):
        return FirstLoad()
    return FirstLoad(
        frozenset(repo.jobs_without_clean(plan.job_ids)),
        frozenset(repo.sources_without_claims(list(plan.specs))) if claims and plan.specs else frozenset(),
    )


def _withdraw_removed(repo: GovernanceRepository, plan: _Plan, stats: FusionStats) -> None:
    """Rows a full batch (or the whole resource) no longer has leave the clean zone, with their claims."""
    governed, job_ids, run_id = plan.governed, plan.job_ids, plan.governed.run_id
    if run_id is None or _run_removed_rows(repo, run_id):
        if outbox.fed(repo.session, governed.resource_id) is not None:
            gone = [key_of(j, k) for j, k in repo.clean_keys_without_raw(job_ids)]
            emit(repo, governed, {key: {} for key in gone}, {}, gone)
        repo.drop_clean_without_raw(job_ids)
        if plan.specs:
            stats.add(repo.withdraw_claims_without_raw(list(plan.specs), job_ids))


def _close(repo: GovernanceRepository, plan: _Plan, counts: PageCounts, stats: FusionStats) -> PassOutcome:
    governed = plan.governed
    governed.linked_rows = _link_unkeyed(repo, governed, plan.job_ids, governed.run_id, counts.unkeyed)
    governed.raw_rows, governed.clean_rows = counts.raw_rows, counts.clean_rows
    governed.rejected_rows, governed.changed_values = counts.rejected_rows, counts.changed_values
    return _finish(governed, stats)


# --- a partitioned pass ------------------------------------------------------------------------------


def _shared(factory: sessionmaker[Session]) -> bool:
    """Whether worker processes can open the pass's database (not an in-memory one)."""
    bind = factory.kw.get("bind")
    return bind is not None and bind.url.database not in (None, "", ":memory:")


def _run_partitioned(
    factory: sessionmaker[Session],
    resource_code: str,
    run_id: int | None,
    trigger: str,
    requested_by: str,
    progress: Progress | None,
    workers: int,
) -> PassOutcome:
    # held from before the pass is recorded as running until its end: while it is, the pass's process
    # is known to be alive (``liveness``)
    with PassHold(factory.kw["bind"]) as hold:
        with transaction(factory) as session:  # the pass recorded as running, so workers may refer to it
            plan = _plan(session, resource_code, run_id, trigger, requested_by)
            hold.take(plan.governed.id)
            repo = GovernanceRepository(session)
            starts = {job: repo.page_starts(job, run_id, PAGE) for job in plan.job_ids}
            new_jobs = _first_load(repo, plan, claims=False).jobs  # workers merge claims
        return _govern_partitioned(factory, plan, starts, progress, workers, new_jobs)


def _govern_partitioned(
    factory: sessionmaker[Session],
    plan: _Plan,
    starts: dict[int, list[str]],
    progress: Progress | None,
    workers: int,
    new_jobs: frozenset[int],
) -> PassOutcome:
    bind, run_id = factory.kw["bind"], plan.governed.run_id
    pool = Workers(workers, bind.url.render_as_string(hide_password=False))
    governed = plan.governed
    copy = PassCopy(
        governed.id, governed.resource_id, run_id, governed.rule_version, governed.started_at, new_jobs
    )
    counts, stats = PageCounts(), FusionStats(remembering=False)
    cpu: dict[int, float] = {}  # worker pid -> CPU seconds spent on this pass
    try:
        with bulk_work():
            for job_id in plan.job_ids:
                decide = _decider(plan.engine, job_id) if plan.engine.has_unique else None
                pages = pool.write_pages(plan.spec, copy, plan.specs, job_id, starts[job_id], PAGE, decide)
                for page in pages:
                    counts.add(page.counts)
                    stats.absorb(page.stats)
                    _spend(cpu, page.spent)
                    if progress is not None:
                        progress(counts.raw_rows)
            with transaction(factory) as session:
                plan.governed = session.get_one(GovernancePass, governed.id)
                repo = GovernanceRepository(session)
                _withdraw_removed(repo, plan, stats)
                repo.refresh_statistics(stats.claims)
            for fused in pool.fuse(stats.keys, governed.started_at):
                stats.records_written += fused.records_written
                stats.conflicts_opened += fused.conflicts_opened
                _spend(cpu, fused.spent)
            with transaction(factory) as session:
                plan.governed = session.get_one(GovernancePass, governed.id)
                closed = _close(GovernanceRepository(session), plan, counts, stats)
            return replace(closed, worker_seconds=tuple(round(cpu[pid], 3) for pid in sorted(cpu)))
    except Exception as exc:
        log.exception("governance pass failed", extra={"pass": governed.id, "run": run_id})
        return _record_partial_failure(factory, governed.id, counts, exc)


def _spend(cpu: dict[int, float], spent: WorkerTime) -> None:
    cpu[spent.pid] = cpu.get(spent.pid, 0.0) + spent.cpu_seconds


def _decider(engine: RuleEngine, job_id: int) -> Callable[[list[tuple[str, dict[str, Any]]]], Duplicates]:
    """The unique rules' refusals for one page at a time, given its kept rows' values, in key order —
    as a one-process pass makes them."""

    def decide(values: list[tuple[str, dict[str, Any]]]) -> Duplicates:
        outcome = Outcome([Kept(RawRow(job_id, key, 0, {}), held, None) for key, held in values])
        engine.finish(outcome)
        return {r.row.source_key: (r.rule_id, r.item or "", r.reason) for r in outcome.refused}

    return decide


def _record_partial_failure(
    factory: sessionmaker[Session], pass_id: int, counts: PageCounts, exc: Exception
) -> PassOutcome:
    """The pass failed after some pages were written (each whole): it says so, with what it wrote."""
    with transaction(factory) as session:
        failed = session.get(GovernancePass, pass_id)
        assert failed is not None
        failed.status, failed.error, failed.finished_at = PassStatus.FAILED, _error(exc), utcnow()
        failed.raw_rows, failed.clean_rows = counts.raw_rows, counts.clean_rows
        failed.rejected_rows, failed.changed_values = counts.rejected_rows, counts.changed_values
        return PassOutcome(
            failed.id, failed.status, failed.raw_rows, failed.clean_rows, failed.rejected_rows, failed.error
        )


# --- shared by both --------------------------------------------------------------------------------


def compile_rules(
    repo: GovernanceRepository, resource_id: int
) -> tuple[RuleEngine, EngineSpec, dict[str, int]]:
    """The resource's current rules, compiled (and as data, for workers), and the versions of the data
    elements they use."""
    rule_set = repo.rule_set(resource_id)
    elements = repo.current_elements()
    spec = EngineSpec.of(
        resource_id,
        RULES.validate_python(rule_set.rules) if rule_set else [],
        rule_set.version if rule_set else 0,
        {code: element.kind for code, element in elements.items()},
        repo.item_elements(resource_id),
    )
    try:
        engine = RuleEngine(spec.rules, spec.version, spec.element_kinds, spec.item_elements)
    except ValueError as exc:
        raise Invalid(str(exc), field="rules") from None
    return engine, spec, {code: elements[code].version for code in sorted(engine.element_codes)}


def _jobs_of(
    repo: GovernanceRepository, resource_id: int, resource_code: str, run_id: int | None
) -> list[int]:
    """The jobs a pass reads: all of the resource's, or the one that wrote the batch."""
    job_ids = repo.job_ids(resource_id)
    if run_id is None:
        return job_ids
    run = repo.run(run_id)
    if run is None or run.job_id not in job_ids:
        raise NotFound(
            M_(
                "batch %(run_id)s of resource %(resource_code)s not found",
                run_id=run_id,
                resource_code=resource_code,
            )
        )
    return [run.job_id]


def _finish(governed: GovernancePass, stats: FusionStats) -> PassOutcome:
    governed.fused_records = stats.records_written
    governed.conflicts_opened = stats.conflicts_opened
    governed.status = PassStatus.SUCCEEDED
    governed.finished_at = utcnow()
    if governed.raw_rows != governed.clean_rows + governed.rejected_rows:  # the invariant, never waived
        raise AssertionError("raw rows != clean rows + rejected rows")
    return PassOutcome(
        governed.id, governed.status, governed.raw_rows, governed.clean_rows, governed.rejected_rows
    )


def _run_removed_rows(repo: GovernanceRepository, run_id: int) -> bool:
    run = repo.run(run_id)
    return run is not None and run.rows_removed > 0


def _hold_unique(
    repo: GovernanceRepository, engine: RuleEngine, resource_id: int, job_ids: list[int], run_id: int | None
) -> None:
    """Values already held by clean rows this pass does not recompute."""
    if run_id is None:
        return  # a whole-resource pass recomputes every clean row
    recomputed = {(job_id, key) for job_id in job_ids for key in repo.batch_keys(job_id, run_id)}
    for item in engine.seen:
        engine.hold(item, repo.clean_values(resource_id, item, recomputed))


def _candidate(key: str, data: dict[str, Any]) -> Candidate:
    return Candidate(key, data.get("name"), data.get("birth_date"))


def _link_unkeyed(
    repo: GovernanceRepository,
    governed: GovernancePass,
    job_ids: list[int],
    run_id: int | None,
    unkeyed: list[Unkeyed],
) -> int:
    """Link broken-key rows to their probable person; earlier links of the rows governed now are replaced."""
    repo.drop_links(job_ids, run_id)
    if not unkeyed:
        return 0
    near = sorted({key for row in unkeyed for key in nearby_numbers(row.id_text)})
    states = repo.record_states(BaseKind.PERSON, near)
    candidates = {key: _candidate(key, state.data) for key, state in states.items()}
    written = {row.ref: row.id_text for row in unkeyed}
    matches = match(unkeyed, candidates)
    repo.add_links(
        [
            {
                "base": BaseKind.PERSON.value,
                "key": found.key,
                "job_id": int(found.ref.split("\t", 1)[0]),
                "source_key": found.ref.split("\t", 1)[1],
                "resource_id": governed.resource_id,
                "pass_id": governed.id,
                "written_key": written[found.ref][:200],
                "probability": round(found.probability, 6),
                "created_at": governed.started_at,
            }
            for found in matches
        ]
    )
    return len(matches)


def _fuse(repo: GovernanceRepository, stats: FusionStats, moment: datetime) -> None:
    if not stats.keys:
        return
    repo.refresh_statistics(stats.claims)
    repo.prepare_fusion()
    fuse_keys(repo, stats, moment)
