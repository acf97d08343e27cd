"""A governance pass (治理批次): raw rows -> rules -> clean zone and rejects -> claims -> base records.

A pass covers one ingestion batch (queued automatically after it) or the whole resource (on demand, e.g.
after its rules changed). It is one transaction: it either leaves the clean zone, the rejects, the base
records and the conflicts all updated, or none of them; a failed pass is recorded afterwards with its
error. Re-running a pass over the same rows gives the same result, so a retried job is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core import outbox
from zhongtai.core.bulk import as_json
from zhongtai.core.collector import bulk_work
from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Invalid, NotFound
from zhongtai.core.types import utcnow
from zhongtai.governance.elements import Rejected, calendar_date, person_name
from zhongtai.governance.fusion import KEY_KIND, Fuser, FusionStats, SourceSpec, claim_rows
from zhongtai.governance.matching import Candidate, Unkeyed, match, nearby_numbers
from zhongtai.governance.models import BaseKind, GovernancePass, PassStatus
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import RULES, Outcome, RuleEngine, missing

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


def run_pass(
    factory: sessionmaker[Session],
    resource_code: str,
    *,
    run_id: int | None = None,
    trigger: str = "manual",
    requested_by: str = "system",
    progress: Progress | None = None,
) -> PassOutcome:
    """Govern a batch (``run_id``) or the whole resource; never raises for a failed pass."""
    try:
        with bulk_work(), transaction(factory) as session:
            return _govern(session, resource_code, run_id, trigger, requested_by, progress)
    except (Invalid, NotFound):
        raise
    except Exception as exc:
        log.exception("governance pass failed", extra={"resource": resource_code, "run": run_id})
        return _record_failure(factory, resource_code, run_id, trigger, requested_by, exc)


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
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=utcnow(),
        )
        session.add(failed)
        session.flush()
        return PassOutcome(failed.id, failed.status, 0, 0, 0, failed.error)


def _govern(
    session: Session,
    resource_code: str,
    run_id: int | None,
    trigger: str,
    requested_by: str,
    progress: Progress | None,
) -> PassOutcome:
    repo = GovernanceRepository(session)
    resource = repo.resource(resource_code)
    if resource is None:
        raise NotFound(M_("resource %(resource_code)s not found", resource_code=resource_code))
    engine, versions = _engine(repo, resource.id)
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
    stats = FusionStats()
    unkeyed: list[Unkeyed] = []
    if engine.has_unique:
        _hold_unique(repo, engine, resource.id, job_ids, run_id)
    for job_id in job_ids:
        _govern_job(repo, engine, governed, job_id, run_id, specs, stats, unkeyed, progress)
    if run_id is None or _run_removed_rows(repo, run_id):
        if outbox.fed(session, resource.id) is not None:
            gone = [_key(j, k) for j, k in repo.clean_keys_without_raw(job_ids)]
            _emit(repo, governed, {key: {} for key in gone}, {}, gone)
        repo.drop_clean_without_raw(job_ids)
        if specs:
            stats.add(repo.withdraw_claims_without_raw(list(specs), job_ids))
    _fuse(repo, stats, governed.started_at)
    governed.linked_rows = _link_unkeyed(repo, governed, job_ids, run_id, unkeyed)
    return _finish(governed, stats)


def _engine(repo: GovernanceRepository, resource_id: int) -> tuple[RuleEngine, dict[str, int]]:
    """The resource's current rules, compiled, and the versions of the data elements they use."""
    rule_set = repo.rule_set(resource_id)
    elements = repo.current_elements()
    try:
        engine = RuleEngine(
            RULES.validate_python(rule_set.rules) if rule_set else [],
            rule_set.version if rule_set else 0,
            {code: element.kind for code, element in elements.items()},
            repo.item_elements(resource_id),
        )
    except ValueError as exc:
        raise Invalid(str(exc), field="rules") from None
    return engine, {code: elements[code].version for code in sorted(engine.element_codes)}


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


def _govern_job(
    repo: GovernanceRepository,
    engine: RuleEngine,
    governed: GovernancePass,
    job_id: int,
    run_id: int | None,
    specs: dict[int, SourceSpec],
    stats: FusionStats,
    unkeyed: list[Unkeyed],
    progress: Progress | None,
) -> None:
    person_specs = [spec for spec in specs.values() if spec.base is BaseKind.PERSON]
    after = ""
    while True:
        rows = repo.raw_rows(job_id, run_id, after, PAGE)
        if not rows:
            return
        after = rows[-1].source_key
        outcome = engine.apply(rows)
        _store(repo, governed, job_id, outcome)
        if specs and outcome.refused:
            refused = [refusal.row.source_key for refusal in outcome.refused]
            stats.add(repo.withdraw_claims(list(specs), job_id, refused))
        unkeyed.extend(_unkeyed(job_id, outcome, person_specs))
        for spec in specs.values():
            trusted = engine.canonical.get(spec.key_item) == KEY_KIND[spec.base]
            repo.write_claims(claim_rows(spec, outcome.kept, governed.started_at, stats, trusted))
        governed.raw_rows += len(rows)
        governed.clean_rows += len(outcome.kept)
        governed.rejected_rows += len(outcome.refused)
        governed.changed_values += outcome.changed_values
        if progress is not None:
            progress(governed.raw_rows)


def _unkeyed(job_id: int, outcome: Outcome, specs: list[SourceSpec]) -> Iterator[Unkeyed]:
    """Refused rows whose person key is present but broken: candidates for probabilistic matching."""
    for spec in specs:
        for refusal in outcome.refused:
            value = refusal.row.data.get(spec.key_item)
            if refusal.item != spec.key_item or missing(value):
                continue
            data = refusal.row.data
            yield Unkeyed(
                ref=f"{job_id}\t{refusal.row.source_key}",
                id_text=str(value),
                name=_attempt(person_name, data.get(spec.attributes.get("name", ""))),
                birth_date=_attempt(calendar_date, data.get(spec.attributes.get("birth_date", ""))),
            )


def _attempt(standardize: Callable[[str], str], value: object) -> str | None:
    if missing(value):
        return None
    try:
        return standardize(str(value))
    except Rejected:
        return None


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
    candidates = {
        key: Candidate(key, state.data.get("name"), state.data.get("birth_date"))
        for key, state in states.items()
    }
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


def _store(repo: GovernanceRepository, governed: GovernancePass, job_id: int, outcome: Outcome) -> None:
    if outbox.fed(repo.session, governed.resource_id) is not None:  # someone subscribes: emit the changes
        kept = {kept.row.source_key: kept.data for kept in outcome.kept}
        refused = [refusal.row.source_key for refusal in outcome.refused]
        before = repo.clean_rows_of(job_id, [*kept, *refused])
        removed = [_key(job_id, k) for k in refused]
        _emit(repo, governed, _keyed(job_id, before), _keyed(job_id, kept), removed)
    repo.write_clean(
        [
            (
                job_id,
                kept.row.source_key,
                governed.resource_id,
                governed.id,
                kept.row.batch_id,
                governed.rule_version,
                as_json(kept.data),
                as_json(kept.changes),
            )
            for kept in outcome.kept
        ]
    )
    repo.drop_clean(job_id, [refusal.row.source_key for refusal in outcome.refused])
    repo.write_rejects(
        [
            {
                "pass_id": governed.id,
                "job_id": job_id,
                "source_key": refusal.row.source_key,
                "item": refusal.item,
                "rule_id": refusal.rule_id,
                "rule_version": governed.rule_version,
                "reason": refusal.reason[:500],
                "value": _shown(refusal.row.data.get(refusal.item) if refusal.item else None),
            }
            for refusal in outcome.refused
        ]
    )


def _key(job_id: int, source_key: str) -> str:
    return f"{job_id}\x00{source_key}"


def _keyed(job_id: int, rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_key(job_id, key): data for key, data in rows.items()}


def _emit(
    repo: GovernanceRepository,
    governed: GovernancePass,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    removed: list[str],
) -> None:
    """Changes of the clean zone into the outbox, in this pass's transaction."""
    outbox.emit(repo.session, governed.resource_id, outbox.diff_rows(before, after, removed), governed.run_id)


def _shown(value: object) -> str | None:
    return None if value is None else str(value)[:500]


def _fuse(repo: GovernanceRepository, stats: FusionStats, moment: datetime) -> None:
    if not stats.keys:
        return
    repo.prepare_fusion(stats.claims)
    labels = repo.source_labels()
    specs = {s.id: SourceSpec.of(s, labels[s.id][0]) for s in repo.base_sources()}
    fuser = Fuser(repo, specs, moment)
    for base, keys in stats.keys.items():
        fuser.fuse(base, sorted(keys), stats)
