"""One page of a governance pass written: the rules' outcome into the clean zone, the rejects and the
claims of the resource's base sources. The same code writes a page in a one-process pass (in the pass's
transaction) and in a worker of a partitioned pass (in the page's own transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from zhongtai.core import outbox
from zhongtai.governance.elements import Rejected, calendar_date, person_name
from zhongtai.governance.frames import PageOutcome, clean_rows, kept_count, kept_data, page_claims
from zhongtai.governance.fusion import KEY_KIND, FusionStats, SourceSpec
from zhongtai.governance.matching import Unkeyed
from zhongtai.governance.models import BaseKind
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import RuleEngine, missing


class PassRef(Protocol):
    """What writing a page needs to know of its pass (the pass itself, or a worker's copy of it)."""

    @property
    def id(self) -> int: ...
    @property
    def resource_id(self) -> int: ...
    @property
    def run_id(self) -> int | None: ...
    @property
    def rule_version(self) -> int | None: ...
    @property
    def started_at(self) -> datetime: ...


@dataclass(frozen=True)
class PassCopy:
    """A pass's identity as a worker gets it (plain data: it crosses a process boundary)."""

    id: int
    resource_id: int
    run_id: int | None
    rule_version: int | None
    started_at: datetime
    new_jobs: frozenset[int] = frozenset()  # jobs whose clean zone was empty as the pass began


@dataclass(frozen=True)
class FirstLoad:
    """What a pass found empty when it began, holding its resource (``repository.hold_resource``):
    jobs with no clean row, base sources with no claim. Their rows are inserted where nothing can be
    there yet, not merged: on PostgreSQL a merge (upsert) costs the server about two and a half times a
    COPY. A source's claim on a key an earlier page of the pass touched is still merged. A partitioned
    pass inserts clean rows only (its pages have distinct keys; a key's claims may come from two
    workers at once)."""

    jobs: frozenset[int] = frozenset()
    sources: frozenset[int] = frozenset()


@dataclass
class PageCounts:
    raw_rows: int = 0
    clean_rows: int = 0
    rejected_rows: int = 0
    changed_values: int = 0
    unkeyed: list[Unkeyed] = field(default_factory=list)

    def add(self, other: PageCounts) -> None:
        self.raw_rows += other.raw_rows
        self.clean_rows += other.clean_rows
        self.rejected_rows += other.rejected_rows
        self.changed_values += other.changed_values
        self.unkeyed.extend(other.unkeyed)


@dataclass
class PreparedPage:
    """A page's outcome made ready to write (``prepare_page``): everything computed, nothing written.
    ``claims`` per source: those inserted (keys new to the pass, on a source that had no claim) and
    those merged."""

    job_id: int
    outcome: PageOutcome
    counts: PageCounts
    claims: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = field(default_factory=list)


def prepare_page(
    engine: RuleEngine,
    governed: PassRef,
    job_id: int,
    raw_rows: int,
    outcome: PageOutcome,
    specs: dict[int, SourceSpec],
    stats: FusionStats,
    first: FirstLoad = FirstLoad(),
) -> PreparedPage:
    """The computing half of writing a page (no database): its claims, made in page order (``stats``
    learns the keys they touch), and its figures."""
    prepared = PreparedPage(job_id, outcome, _counts(job_id, raw_rows, outcome, specs))
    for spec in specs.values():
        trusted = engine.canonical.get(spec.key_item) == KEY_KIND[spec.base]
        claims = page_claims(spec, outcome, governed.started_at, stats, trusted)
        if spec.id in first.sources:
            prepared.claims.append((stats.new_claims, stats.repeated_claims))
        else:
            prepared.claims.append(([], claims))
    return prepared


def put_page(
    repo: GovernanceRepository,
    governed: PassRef,
    prepared: PreparedPage,
    sources: list[int],
    first: FirstLoad = FirstLoad(),
) -> list[tuple[str, str]]:
    """The database half: clean zone, rejects, the claims of refused rows withdrawn and the page's
    claims inserted or merged. Returns the (base, key) of the claims withdrawn, for fusion."""
    job_id, outcome = prepared.job_id, prepared.outcome
    store(repo, governed, job_id, outcome, new=job_id in first.jobs)
    withdrawn: list[tuple[str, str]] = []
    if sources and outcome.refused:
        withdrawn = repo.withdraw_claims(sources, job_id, [r.row.source_key for r in outcome.refused])
    for inserted, merged in prepared.claims:
        if inserted:
            repo.insert_claims(inserted)
        repo.write_claims(merged)
    return withdrawn


def _counts(job_id: int, raw_rows: int, outcome: PageOutcome, specs: dict[int, SourceSpec]) -> PageCounts:
    person_specs = [spec for spec in specs.values() if spec.base is BaseKind.PERSON]
    return PageCounts(
        raw_rows,
        kept_count(outcome),
        len(outcome.refused),
        outcome.changed_values,
        list(_unkeyed(job_id, outcome, person_specs)),
    )


def store(
    repo: GovernanceRepository, governed: PassRef, job_id: int, outcome: PageOutcome, *, new: bool = False
) -> None:
    """The clean zone and the rejects (and, when someone subscribes, the changes into the outbox);
    ``new``: the job's clean zone holds none of the page's keys."""
    if outbox.fed(repo.session, governed.resource_id) is not None:
        kept = kept_data(outcome)
        refused = [refusal.row.source_key for refusal in outcome.refused]
        before = repo.clean_rows_of(job_id, [*kept, *refused])
        removed = [key_of(job_id, k) for k in refused]
        emit(repo, governed, _keyed(job_id, before), _keyed(job_id, kept), removed)
    repo.write_clean(
        clean_rows(outcome, job_id, governed.resource_id, governed.id, governed.rule_version), new=new
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


def _unkeyed(job_id: int, outcome: PageOutcome, specs: list[SourceSpec]) -> Iterator[Unkeyed]:
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


def key_of(job_id: int, source_key: str) -> str:
    return f"{job_id}\x00{source_key}"


def _keyed(job_id: int, rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key_of(job_id, key): data for key, data in rows.items()}


def emit(
    repo: GovernanceRepository,
    governed: PassRef,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    removed: list[str],
) -> None:
    """Changes of the clean zone into the outbox, in the transaction that makes them."""
    outbox.emit(repo.session, governed.resource_id, outbox.diff_rows(before, after, removed), governed.run_id)


def _shown(value: object) -> str | None:
    return None if value is None else str(value)[:500]
