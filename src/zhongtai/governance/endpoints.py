"""Governance REST API: data elements, rules, passes, clean zone, base databases, conflicts, quality,
problems."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from zhongtai.core.http import ApiPrincipal, DbSession, Jobs, RowId
from zhongtai.core.types import IsoDateTime
from zhongtai.governance import service
from zhongtai.governance.models import BaseKind, ProblemStatus
from zhongtai.governance.schemas import (
    BaseRecordDetail,
    BaseSourceRead,
    BaseSourceWrite,
    CleanPage,
    ConflictPage,
    ElementRead,
    ElementWrite,
    GovernanceRejectPage,
    PassQueued,
    PassRead,
    ProblemPage,
    ProblemRead,
    ProblemStep,
    QualityOverview,
    QualityRead,
    RuleSetRead,
    RuleSetWrite,
    StandardizedValue,
    StandardizeRequest,
)
from zhongtai.governance.tasks import enqueue_apply, enqueue_measure, enqueue_withdraw

router = APIRouter(prefix="/api/v1", tags=["governance"])
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/governance/elements", response_model=list[ElementRead])
def list_elements(session: DbSession, principal: ApiPrincipal) -> list[ElementRead]:
    """The current version of every data element."""
    return service.list_elements(session)


@router.post("/governance/elements", response_model=ElementRead, status_code=201)
def save_element(session: DbSession, principal: ApiPrincipal, body: ElementWrite) -> ElementRead:
    """Define a data element or its next version (operators)."""
    return service.save_element(session, principal, body)


@router.get("/governance/elements/{code}", response_model=list[ElementRead])
def element_versions(session: DbSession, principal: ApiPrincipal, code: str) -> list[ElementRead]:
    """Every version of one element, newest first."""
    return service.element_versions(session, code)


@router.post("/governance/elements/{code}/standardize", response_model=list[StandardizedValue])
def standardize(
    session: DbSession, principal: ApiPrincipal, code: str, body: StandardizeRequest
) -> list[StandardizedValue]:
    """What the element makes of sample values: canonical form, or the reason it refuses them."""
    return service.standardize_values(session, code, body.values)


@router.get("/resources/{code}/rules", response_model=RuleSetRead)
def current_rules(session: DbSession, principal: ApiPrincipal, code: str) -> RuleSetRead:
    return service.current_rules(session, principal, code)


@router.put("/resources/{code}/rules", response_model=RuleSetRead)
def save_rules(session: DbSession, principal: ApiPrincipal, code: str, body: RuleSetWrite) -> RuleSetRead:
    """Store the resource's rules as a new version; the next pass uses it."""
    return service.save_rules(session, principal, code, body)


@router.get("/resources/{code}/rules/versions", response_model=list[RuleSetRead])
def rule_versions(session: DbSession, principal: ApiPrincipal, code: str) -> list[RuleSetRead]:
    return service.rule_history(session, principal, code)


@router.post("/resources/{code}/governance/passes", response_model=PassQueued, status_code=202)
def apply_rules(session: DbSession, principal: ApiPrincipal, jobs: Jobs, code: str) -> PassQueued:
    """Govern every raw row of the resource again with its current rules (queued)."""
    resource = service.governed_resource(session, principal, code, write=True)
    session.commit()  # jobs are sent only after the request's own changes are committed
    enqueue_apply(jobs, resource.code, None, "manual", principal.username)
    return PassQueued(resource=resource.code, queued=True, message="queued; the pass appears in the list")


@router.get("/resources/{code}/governance/passes", response_model=list[PassRead])
def list_passes(session: DbSession, principal: ApiPrincipal, code: str, limit: Limit = 20) -> list[PassRead]:
    return service.passes(session, principal, code, limit)


@router.get("/governance/passes/{pass_id}", response_model=PassRead)
def get_pass(session: DbSession, principal: ApiPrincipal, pass_id: RowId) -> PassRead:
    governed, resource = service.visible_pass(session, principal, pass_id)
    return service.pass_read(governed, resource.code)


@router.get("/governance/passes/{pass_id}/rejects", response_model=GovernanceRejectPage)
def pass_rejects(
    session: DbSession, principal: ApiPrincipal, pass_id: RowId, offset: Offset = 0, limit: Limit = 50
) -> GovernanceRejectPage:
    """Rows the rules refused, each with the rule, its version, the item, the value and the reason."""
    return service.pass_rejects(session, principal, pass_id, offset, limit)


@router.get("/resources/{code}/clean", response_model=CleanPage)
def clean_records(
    session: DbSession, principal: ApiPrincipal, code: str, offset: Offset = 0, limit: Limit = 50
) -> CleanPage:
    """The clean zone of a resource, with every value the rules changed and the rule that did it."""
    return service.clean_page(session, principal, code, offset, limit)


@router.get("/governance/base-sources", response_model=list[BaseSourceRead])
def list_base_sources(session: DbSession, principal: ApiPrincipal) -> list[BaseSourceRead]:
    """Which resources feed which base database, with their priorities (一数一源)."""
    return service.base_source_reads(session)


@router.put("/governance/base-sources", response_model=BaseSourceRead)
def save_base_source(
    session: DbSession, principal: ApiPrincipal, jobs: Jobs, body: BaseSourceWrite
) -> BaseSourceRead:
    """Create or change a base source. Switching one off withdraws its claims (queued): the records it
    spoke for are fused again without it."""
    saved = service.save_base_source(session, principal, body)
    session.commit()
    if saved.withdrawing:
        enqueue_withdraw(jobs, saved.id)
    return saved


@router.get("/base/{base}/{key}", response_model=BaseRecordDetail)
def base_record(
    session: DbSession,
    principal: ApiPrincipal,
    base: BaseKind,
    key: Annotated[str, Path(max_length=200)],
    as_of: IsoDateTime | None = None,
) -> BaseRecordDetail:
    """A fused base record: values, where each came from, every source's claim, conflicts, history.
    ``as_of`` shows what the record said at that time."""
    return service.base_detail(session, principal, base, key, as_of)


@router.get("/governance/conflicts", response_model=ConflictPage)
def list_conflicts(
    session: DbSession,
    principal: ApiPrincipal,
    open_only: Annotated[bool, Query(alias="open")] = True,
    base: BaseKind | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> ConflictPage:
    """Disagreements between departments your department takes part in (all of them for the bureau)."""
    return service.conflicts_page(session, principal, open_only, base, offset, limit)


@router.get("/governance/quality", response_model=QualityOverview)
def quality_overview(session: DbSession, principal: ApiPrincipal) -> QualityOverview:
    """Latest score per resource and per department."""
    return service.quality_overview(session, principal)


@router.get("/resources/{code}/quality", response_model=list[QualityRead])
def resource_quality(
    session: DbSession, principal: ApiPrincipal, code: str, limit: Limit = 30
) -> list[QualityRead]:
    """The resource's quality measurements, oldest first."""
    return service.resource_quality(session, principal, code, limit)


@router.post("/resources/{code}/quality", response_model=PassQueued, status_code=202)
def measure_now(session: DbSession, principal: ApiPrincipal, jobs: Jobs, code: str) -> PassQueued:
    resource = service.governed_resource(session, principal, code, write=True)
    session.commit()
    enqueue_measure(jobs, resource.code)
    return PassQueued(resource=resource.code, queued=True, message="measurement queued")


@router.get("/governance/problems", response_model=ProblemPage)
def list_problems(
    session: DbSession,
    principal: ApiPrincipal,
    status: Annotated[list[ProblemStatus] | None, Query()] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> ProblemPage:
    """Quality problems of your department (all departments for the bureau and auditors)."""
    statuses = [s.value for s in status] if status else None
    return service.problems_page(session, principal, statuses, offset, limit)


@router.get("/governance/problems/{problem_id}", response_model=ProblemRead)
def get_problem(session: DbSession, principal: ApiPrincipal, problem_id: RowId) -> ProblemRead:
    problem = service.visible_problem(session, principal, problem_id)
    return service.problem_read(session, problem, principal, events=True)


@router.post("/governance/problems/{problem_id}/steps", response_model=ProblemRead)
def step_problem(
    session: DbSession, principal: ApiPrincipal, jobs: Jobs, problem_id: RowId, body: ProblemStep
) -> ProblemRead:
    """Assign a problem, or mark it fixed: the platform then re-checks and closes or reopens it."""
    problem, resource_code = service.step_problem(session, principal, problem_id, body)
    read = service.problem_read(session, problem, principal, events=True)
    session.commit()
    if body.action == "fix":
        enqueue_measure(jobs, resource_code)
    return read
