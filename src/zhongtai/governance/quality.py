"""Data quality (数据质量) of a resource: five dimensions, a score, and the problems its department sees.

A measurement scans the resource's raw rows once with the current rules (in memory, writing nothing but
the snapshot), so its numbers always describe the data as the rules judge it now:

- completeness: share of present values over the resource's items;
- validity: share of rows the rules keep;
- uniqueness: share of rows whose identifying value (a unique rule's item, or the key of a base database
  the resource feeds) is not a repeat of another row's;
- consistency: share of the resource's base-database claims that agree with the fused record
  (e.g. same ID number, different birth date);
- timeliness: whether the last successful batch is within the catalog entry's update cycle.

Each shortfall becomes a problem for the department (one per dimension and subject). Measuring again is
the re-check: a problem no longer found is closed, one still found after the department marked it fixed
is reopened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource, UpdateCycle
from zhongtai.governance.elements import Rejected
from zhongtai.governance.fusion import KEY_STANDARD
from zhongtai.governance.lifecycle import record_step
from zhongtai.governance.models import Problem, ProblemStatus, QualitySnapshot
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import RULES, RuleEngine, UniqueRule, missing

CYCLES = {
    UpdateCycle.REALTIME: timedelta(hours=1),
    UpdateCycle.DAILY: timedelta(days=1),
    UpdateCycle.WEEKLY: timedelta(days=7),
    UpdateCycle.MONTHLY: timedelta(days=31),
    UpdateCycle.QUARTERLY: timedelta(days=92),
    UpdateCycle.YEARLY: timedelta(days=366),
}
COMPLETE_ENOUGH = 0.95
TOP_REASONS = 10


@dataclass
class Finding:
    dimension: str
    subject: str
    description: str
    affected: int


@dataclass
class Scan:
    rows: int = 0
    present: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (item, rule) -> rows
    examples: dict[tuple[str, str], str] = field(default_factory=dict)  # (item, rule) -> one reason
    identified: int = 0
    repeats: int = 0


def measure(session: Session, resource: Resource, now: datetime) -> QualitySnapshot:
    """Measure the resource now, record the snapshot and bring its problem list up to date."""
    repo = GovernanceRepository(session)
    items = [item.name for item in resource.items]
    scan = _scan(repo, resource)
    consistency, disagreements = _consistency(repo, resource.id)
    age = _age(repo, resource.id, now)
    cycle = CYCLES[resource.update_cycle]
    scores = {
        "completeness": _share(sum(scan.present[i] for i in items), scan.rows * len(items)),
        "validity": _share(scan.kept, scan.rows),
        "uniqueness": None if scan.identified == 0 else 1 - scan.repeats / scan.identified,
        "consistency": consistency,
        "timeliness": _timeliness(age, cycle),
    }
    applicable = [value for value in scores.values() if value is not None]
    snapshot = QualitySnapshot(
        resource_id=resource.id,
        department_id=resource.provider_department_id,
        measured_at=now,
        rows=scan.rows,
        score=round(100 * sum(applicable) / len(applicable), 1),
        details={
            "completeness": {i: _share(scan.present[i], scan.rows) for i in items},
            "refusals": [
                [item, rule, scan.examples[(item, rule)], n]
                for (item, rule), n in scan.refusals.most_common(20)
            ],
            "repeats": scan.repeats,
            "disagreements": disagreements,
            "age_hours": None if age is None else round(age.total_seconds() / 3600, 1),
        },
        **{name: (None if value is None else round(value, 4)) for name, value in scores.items()},
    )
    repo.add_snapshot(snapshot)
    findings = _findings(items, scan, disagreements, age, cycle)
    sync_problems(session, repo, resource, findings, now)
    session.flush()
    return snapshot


def _share(part: int, whole: int) -> float:
    return 1.0 if whole == 0 else part / whole


def _scan(repo: GovernanceRepository, resource: Resource) -> Scan:
    rule_set = repo.rule_set(resource.id)
    kinds = {code: element.kind for code, element in repo.current_elements().items()}
    engine = RuleEngine(
        RULES.validate_python(rule_set.rules) if rule_set else [],
        rule_set.version if rule_set else 0,
        kinds,
        repo.item_elements(resource.id),
    )
    # Items that must be unique: those of unique rules, compared in their canonical form where a base
    # database uses them as its key (so 15- and 18-digit forms of one number count as a repeat).
    identifying = [rule.item for rule in engine.rules if isinstance(rule, UniqueRule)]
    keys = {
        s.key_item: KEY_STANDARD[s.base] for s in repo.base_sources(resource.id) if s.key_item in identifying
    }
    scan = Scan()
    seen: dict[str, set[str]] = {item: set() for item in identifying}
    for job_id in repo.job_ids(resource.id):
        after = ""
        while rows := repo.raw_rows(job_id, None, after, 20_000):
            after = rows[-1].source_key
            outcome = engine.apply(rows)
            scan.rows += len(rows)
            scan.kept += len(outcome.kept)
            for refusal in outcome.refused:
                which = (refusal.item or "", refusal.rule_id)
                scan.refusals[which] += 1
                scan.examples.setdefault(which, refusal.reason)
            for row in rows:
                for name, value in row.data.items():
                    if not missing(value):
                        scan.present[name] += 1
                _identify(row.data, seen, keys, scan)
    return scan


def _identify(data: dict[str, Any], seen: dict[str, set[str]], keys: dict[str, Any], scan: Scan) -> None:
    for item, values in seen.items():
        value = data.get(item)
        if missing(value):
            continue
        text = str(value)
        if item in keys:
            try:
                text = keys[item](text)
            except Rejected:
                continue  # not a key at all: validity's business
        scan.identified += 1
        if text in values:
            scan.repeats += 1
        else:
            values.add(text)


def _consistency(repo: GovernanceRepository, resource_id: int) -> tuple[float | None, dict[str, int]]:
    """Share of the resource's claims that agree with their fused records; disagreements per attribute."""
    sources = [s.id for s in repo.base_sources(resource_id)]
    if not sources:
        return None, {}
    total = agreeing = 0
    disagreements: Counter[str] = Counter()
    for claim, fused in repo.claims_against_records(sources):
        total += 1
        differing = [a for a, v in claim.items() if str(fused.get(a)) != str(v)]
        disagreements.update(differing)
        agreeing += not differing
    return (_share(agreeing, total) if total else None), dict(disagreements)


def _age(repo: GovernanceRepository, resource_id: int, now: datetime) -> timedelta | None:
    last = repo.last_gathered(resource_id)
    return None if last is None else now - last


def _timeliness(age: timedelta | None, cycle: timedelta) -> float:
    if age is None:
        return 0.0
    if age <= cycle:
        return 1.0
    return max(0.0, 1 - (age - cycle) / cycle)


def _findings(
    items: list[str], scan: Scan, disagreements: dict[str, int], age: timedelta | None, cycle: timedelta
) -> list[Finding]:
    findings: list[Finding] = []
    for item in items:
        share = _share(scan.present[item], scan.rows)
        if share < COMPLETE_ENOUGH:
            findings.append(
                Finding(
                    "completeness",
                    item,
                    f"{item}: {share:.1%} of rows have a value",
                    scan.rows - scan.present[item],
                )
            )
    for (item, rule), count in scan.refusals.most_common(TOP_REASONS):
        example = scan.examples[(item, rule)]
        findings.append(
            Finding("validity", f"{rule}:{item}"[:200], f"rule {rule} refuses rows, e.g. {example}", count)
        )
    if scan.repeats:
        findings.append(
            Finding("uniqueness", "key", f"{scan.repeats} rows repeat another row's identifier", scan.repeats)
        )
    for attribute, count in sorted(disagreements.items()):
        findings.append(
            Finding(
                "consistency", attribute, f"{attribute} differs from the base record in {count} rows", count
            )
        )
    if age is None or age > cycle:
        late = (
            "never gathered"
            if age is None
            else f"last gathered {age.days} days {age.seconds // 3600} hours ago"
        )
        findings.append(
            Finding("timeliness", "update", f"{late}; promised every {cycle.days or 1} day(s)", 1)
        )
    return findings


SERVICE_GAP = "service"  # a case found no record at the source (reported by services, closed by people)


def sync_problems(
    session: Session, repo: GovernanceRepository, resource: Resource, findings: list[Finding], now: datetime
) -> None:
    """Open problems for new findings; close or reopen existing ones by what this measurement found."""
    measured = (p for p in repo.problems_of(resource.id) if p.dimension != SERVICE_GAP)
    existing = {(p.dimension, p.subject): p for p in measured}  # a services' report is not re-measured
    found = {(f.dimension, f.subject): f for f in findings}
    for key, finding in found.items():
        problem = existing.get(key)
        if problem is None or problem.status is ProblemStatus.CLOSED:
            problem = Problem(
                resource_id=resource.id,
                department_id=resource.provider_department_id,
                dimension=finding.dimension,
                subject=finding.subject,
                description=finding.description,
                affected=finding.affected,
                opened_at=now,
                updated_at=now,
            )
            session.add(problem)
            session.flush()
            record_step(session, problem, "open", "system", finding.description, now)
            continue
        problem.description, problem.affected, problem.updated_at = finding.description, finding.affected, now
        if problem.status is ProblemStatus.FIXED:
            record_step(session, problem, "reopen", "system", "re-check: still found", now)
    for key, problem in existing.items():
        if key not in found and problem.status is not ProblemStatus.CLOSED:
            record_step(session, problem, "close", "system", "re-check: no longer found", now)
