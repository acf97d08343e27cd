"""Governance business rules: data elements, rule sets, passes, base sources and records, quality and
problems. No HTTP here; callers own the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource
from zhongtai.core import audit
from zhongtai.core.errors import M_, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.principal import Principal
from zhongtai.core.types import utcnow
from zhongtai.core.work import WorkItem
from zhongtai.governance import auth
from zhongtai.governance.elements import KINDS, Rejected
from zhongtai.governance.fusion import ATTRIBUTES
from zhongtai.governance.lifecycle import department_actions, record_step
from zhongtai.governance.lookups import BaseLookup, standard_key
from zhongtai.governance.models import (
    BaseKind,
    BaseLink,
    BaseSource,
    Conflict,
    DataElement,
    GovernancePass,
    Problem,
    ProblemStatus,
    QualitySnapshot,
    RuleSet,
)
from zhongtai.governance.quality import SERVICE_GAP
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.governance.rules import CheckRule, CrossRule, RangeRule, RuleSpec, StandardizeRule, as_number
from zhongtai.governance.schemas import (
    BaseRecordDetail,
    BaseSourceRead,
    BaseSourceWrite,
    ClaimRead,
    CleanPage,
    CleanRecordRead,
    ConflictPage,
    ConflictRead,
    DepartmentQuality,
    ElementRead,
    ElementWrite,
    GovernanceRejectPage,
    GovernanceRejectRead,
    HistoryRead,
    LinkRead,
    PassRead,
    ProblemEventRead,
    ProblemPage,
    ProblemRead,
    ProblemStep,
    QualityOverview,
    QualityRead,
    RuleSetRead,
    RuleSetWrite,
    StandardizedValue,
)

# --- data elements --------------------------------------------------------------------------------


def element_read(element: DataElement) -> ElementRead:
    return ElementRead.model_validate(element, from_attributes=True)


def list_elements(session: Session) -> list[ElementRead]:
    return [element_read(e) for e in GovernanceRepository(session).current_elements().values()]


def element_versions(session: Session, code: str) -> list[ElementRead]:
    versions = GovernanceRepository(session).element_versions(code)
    if not versions:
        raise NotFound(M_("no data element %(code)s", code=code), code="element_not_found")
    return [element_read(e) for e in versions]


def save_element(session: Session, actor: Principal, data: ElementWrite) -> ElementRead:
    """Define a data element, or its next version: rules pick up the new version on their next pass."""
    if not auth.may_define(actor):
        raise Forbidden(M_("data elements are the bureau's standards: only operators define them"))
    versions = GovernanceRepository(session).element_versions(data.code)
    element = DataElement(
        **data.model_dump(), version=(versions[0].version + 1) if versions else 1, created_by=actor.username
    )
    session.add(element)
    session.flush()
    audit.record(
        session,
        actor,
        "governance.element.saved",
        "data_element",
        f"{data.code}@{element.version}",
        {"kind": [None, data.kind]},
    )
    return element_read(element)


def standardize_values(session: Session, code: str, values: list[str]) -> list[StandardizedValue]:
    """Try a data element on sample values (what a rule would make of them)."""
    element = GovernanceRepository(session).current_elements().get(code)
    if element is None:
        raise NotFound(M_("no data element %(code)s", code=code), code="element_not_found")
    standardize = KINDS[element.kind]
    results: list[StandardizedValue] = []
    for value in values:
        try:
            results.append(StandardizedValue(value=value, canonical=standardize(value), reason=None))
        except Rejected as exc:
            results.append(StandardizedValue(value=value, canonical=None, reason=exc.reason))
    return results


# --- resources, rules and passes --------------------------------------------------------------------


def governed_resource(session: Session, actor: Principal, code: str, *, write: bool = False) -> Resource:
    """The resource if the actor may read its governed data (and change its rules, with ``write``)."""
    resource = GovernanceRepository(session).resource(code)
    if resource is None or not auth.may_read_governed(actor, resource.provider_department_id):
        raise NotFound(
            M_("no resource %(code)r whose governance you may see", code=code), code="resource_not_found"
        )
    if write and not auth.may_govern(actor, resource.provider_department_id):
        raise Forbidden(M_("only the resource's department officers and the bureau's operators govern it"))
    return resource


def rule_set_read(resource: Resource, rule_set: RuleSet | None) -> RuleSetRead:
    if rule_set is None:
        return RuleSetRead(
            resource=resource.code,
            version=0,
            rules=[],
            auto_apply=True,
            comment="",
            created_by="",
            created_at=None,
        )
    return RuleSetRead(
        resource=resource.code,
        version=rule_set.version,
        rules=rule_set.rules,
        auto_apply=rule_set.auto_apply,
        comment=rule_set.comment,
        created_by=rule_set.created_by,
        created_at=rule_set.created_at,
    )


def current_rules(session: Session, actor: Principal, code: str) -> RuleSetRead:
    resource = governed_resource(session, actor, code)
    return rule_set_read(resource, GovernanceRepository(session).rule_set(resource.id))


def rule_history(session: Session, actor: Principal, code: str) -> list[RuleSetRead]:
    resource = governed_resource(session, actor, code)
    return [rule_set_read(resource, r) for r in GovernanceRepository(session).rule_sets(resource.id)]


def save_rules(session: Session, actor: Principal, code: str, data: RuleSetWrite) -> RuleSetRead:
    """Store the rules as the resource's next version; passes from now on use it."""
    resource = governed_resource(session, actor, code, write=True)
    repo = GovernanceRepository(session)
    check_rules(data.rules, repo.item_elements(resource.id), set(repo.current_elements()))
    latest = repo.rule_set(resource.id)
    rule_set = RuleSet(
        resource_id=resource.id,
        version=(latest.version + 1) if latest else 1,
        rules=[rule.model_dump(exclude_none=True) for rule in data.rules],
        auto_apply=data.auto_apply,
        comment=data.comment,
        created_by=actor.username,
    )
    session.add(rule_set)
    session.flush()
    audit.record(
        session,
        actor,
        "governance.rules.saved",
        "resource",
        resource.code,
        {"version": [latest.version if latest else None, rule_set.version]},
    )
    return rule_set_read(resource, rule_set)


def parse_rules(raw: Any) -> list[RuleSpec]:
    """Rules from untyped JSON (CLI files, page forms), with the first problem named."""
    try:
        return RuleSetWrite.model_validate({"rules": raw}).rules
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise Invalid(M_("%(where)s: %(error)s", where=where, error=error["msg"]), field="rules") from None


def check_rules(rules: list[RuleSpec], items: dict[str, str | None], elements: set[str]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise Invalid(M_("rule id %(id)s is used twice", id=rule.id), field="rules")
        seen.add(rule.id)
        if rule.item not in items:
            raise Invalid(
                M_("rule %(id)s: the resource has no item %(item)r", id=rule.id, item=rule.item),
                field="rules",
            )
        if isinstance(rule, StandardizeRule | CheckRule):
            element = rule.element or items[rule.item]
            if element is None:
                raise Invalid(
                    M_(
                        "rule %(id)s: item %(item)s references no data element; name one",
                        id=rule.id,
                        item=rule.item,
                    ),
                    field="rules",
                )
            if element not in elements:
                raise Invalid(
                    M_("rule %(id)s: no data element %(element)s", id=rule.id, element=element), field="rules"
                )
        if isinstance(rule, CrossRule) and rule.id_item not in items:
            raise Invalid(
                M_("rule %(id)s: the resource has no item %(id_item)r", id=rule.id, id_item=rule.id_item),
                field="rules",
            )
        if isinstance(rule, RangeRule):
            _check_range(rule)


def _check_range(rule: RangeRule) -> None:
    if rule.min is None and rule.max is None:
        raise Invalid(M_("rule %(id)s: a range needs min, max or both", id=rule.id), field="rules")
    if rule.min is not None and rule.max is not None:
        low, high = as_number(rule.min), as_number(rule.max)
        wrong = low > high if low is not None and high is not None else str(rule.min) > str(rule.max)
        if wrong:
            raise Invalid(M_("rule %(id)s: min is above max", id=rule.id), field="rules")


def pass_read(governed: GovernancePass, resource_code: str) -> PassRead:
    return PassRead.model_validate({**governed.__dict__, "resource": resource_code})


def passes(session: Session, actor: Principal, code: str, limit: int = 20) -> list[PassRead]:
    resource = governed_resource(session, actor, code)
    return [pass_read(p, resource.code) for p in GovernanceRepository(session).passes(resource.id, limit)]


def visible_pass(session: Session, actor: Principal, pass_id: int) -> tuple[GovernancePass, Resource]:
    repo = GovernanceRepository(session)
    governed = repo.pass_(pass_id)
    if governed is not None:
        resource = repo.resource_by_id(governed.resource_id)
        if auth.may_read_governed(actor, resource.provider_department_id):
            return governed, resource
    raise NotFound(M_("no governance pass %(pass_id)s you may see", pass_id=pass_id), code="pass_not_found")


def pass_rejects(
    session: Session, actor: Principal, pass_id: int, offset: int, limit: int
) -> GovernanceRejectPage:
    governed, _ = visible_pass(session, actor, pass_id)
    rows, total = GovernanceRepository(session).rejects(governed.id, offset, limit)
    items = [GovernanceRejectRead.model_validate(r, from_attributes=True) for r in rows]
    return GovernanceRejectPage(items=items, total=total, offset=offset, limit=limit)


def clean_page(session: Session, actor: Principal, code: str, offset: int, limit: int) -> CleanPage:
    resource = governed_resource(session, actor, code)
    rows, total = GovernanceRepository(session).clean_page(resource.id, offset, limit)
    items = [CleanRecordRead.model_validate(r, from_attributes=True) for r in rows]
    return CleanPage(items=items, total=total, offset=offset, limit=limit)


def clean_rows(session: Session, actor: Principal, code: str) -> Iterator[dict[str, Any]]:
    """Every clean row of a resource whose governed data the actor may read, streamed (for releases)."""
    resource = governed_resource(session, actor, code)
    yield from GovernanceRepository(session).clean_data(resource.id)


# --- base databases ---------------------------------------------------------------------------------


def base_source_reads(session: Session) -> list[BaseSourceRead]:
    repo = GovernanceRepository(session)
    labels = repo.source_labels()
    return [
        BaseSourceRead(
            id=s.id,
            base=s.base,
            resource=labels[s.id][1],
            resource_name=labels[s.id][2],
            department=labels[s.id][0],
            key_item=s.key_item,
            attributes=s.attributes,
            constants=s.constants,
            priority=s.priority,
            priorities=s.priorities,
            enabled=s.enabled,
        )
        for s in repo.all_base_sources()
    ]


def save_base_source(session: Session, actor: Principal, data: BaseSourceWrite) -> BaseSourceRead:
    """Create or change how a resource feeds a base database (one per base, resource and key item)."""
    if not auth.may_define(actor):
        raise Forbidden(M_("which sources feed the base databases is the bureau's decision"))
    repo = GovernanceRepository(session)
    resource = repo.resource(data.resource)
    if resource is None:
        raise Invalid(M_("no resource %(resource)s", resource=data.resource), field="resource")
    items = repo.item_elements(resource.id)
    known = set(ATTRIBUTES[data.base])
    for attribute in [*data.attributes, *data.constants, *data.priorities]:
        if attribute not in known:
            raise Invalid(
                M_(
                    "the %(base)s base has no attribute %(attribute)r (it has: %(items)s)",
                    base=data.base.value,
                    attribute=attribute,
                    items=", ".join(ATTRIBUTES[data.base]),
                ),
                field="attributes",
            )
    for item in [data.key_item, *data.attributes.values()]:
        if item not in items:
            raise Invalid(
                M_("resource %(code)s has no item %(item)r", code=resource.code, item=item),
                field="attributes",
            )
    source = repo.base_source(data.base, resource.id, data.key_item)
    if source is None:
        source = BaseSource(base=data.base, resource_id=resource.id, key_item=data.key_item)
        session.add(source)
    switched_off = source.enabled is not False and not data.enabled and source.id is not None
    for name in ("attributes", "constants", "priority", "priorities", "enabled"):
        setattr(source, name, getattr(data, name))
    session.flush()
    audit.record(
        session,
        actor,
        "governance.base_source.saved",
        "base_source",
        str(source.id),
        {"resource": [None, resource.code], "base": [None, data.base.value]},
    )
    read = next(s for s in base_source_reads(session) if s.id == source.id)
    return read.model_copy(update={"withdrawing": switched_off})


def conflict_read(conflict: Conflict) -> ConflictRead:
    return ConflictRead.model_validate(conflict, from_attributes=True)


def base_detail(
    session: Session, actor: Principal, base: BaseKind, key: str, as_of: datetime | None = None
) -> BaseRecordDetail:
    """A fused record with each value's source, every source's claim, open conflicts and history."""
    if not auth.may_read_base(actor):
        raise Forbidden(M_("base records are read by the bureau here; departments use sharing grants"))
    canonical = standard_key(base, key)
    repo = GovernanceRepository(session)
    record = repo.record(base, canonical) if canonical else None
    if canonical is None or record is None:
        raise NotFound(M_("no %(base)s record for that key", base=base.value), code="record_not_found")
    view = BaseLookup(session).as_of(base, canonical, as_of) if as_of else None
    if as_of and view is None:
        raise NotFound(
            M_("the %(base)s record did not exist at %(value)s", base=base.value, value=as_of.isoformat()),
            code="record_not_found",
        )
    labels = repo.source_labels()
    return BaseRecordDetail(
        base=base,
        key=canonical,
        data=view.data if view else record.data,
        provenance=view.provenance if view else record.provenance,
        version=record.version,
        valid_from=record.valid_from,
        claims=[
            ClaimRead(
                source=c.source_id,
                department=labels.get(c.source_id, ("?", "?", "?"))[0],
                resource=labels.get(c.source_id, ("?", "?", "?"))[1],
                data=c.data,
                batch_id=c.batch_id,
                observed_at=c.observed_at,
            )
            for c in repo.claims_of(base, canonical)
        ],
        conflicts=[conflict_read(c) for c in repo.conflicts_of(base, canonical)],
        links=[_link_read(repo, link) for link in repo.links_to(base, canonical)],
        history=[HistoryRead.model_validate(h, from_attributes=True) for h in repo.history(base, canonical)],
    )


def _link_read(repo: GovernanceRepository, link: BaseLink) -> LinkRead:
    resource = repo.resource_by_id(link.resource_id)
    return LinkRead(
        department=repo.department_code(resource.provider_department_id),
        resource=resource.code,
        source_key=link.source_key,
        written_key=link.written_key,
        probability=link.probability,
        pass_id=link.pass_id,
    )


def conflicts_page(
    session: Session, actor: Principal, open_only: bool, base: BaseKind | None, offset: int, limit: int
) -> ConflictPage:
    """Conflicts the actor's department takes part in (all of them for the bureau)."""
    rows, total = GovernanceRepository(session).conflicts(actor, open_only, offset, limit, base)
    return ConflictPage(items=[conflict_read(c) for c in rows], total=total, offset=offset, limit=limit)


# --- quality and problems -----------------------------------------------------------------------------


def quality_read(snapshot: QualitySnapshot, resource: Resource, department: str) -> QualityRead:
    return QualityRead.model_validate(
        {
            **snapshot.__dict__,
            "resource": resource.code,
            "resource_name": resource.name,
            "department": department,
        }
    )


def quality_overview(session: Session, actor: Principal) -> QualityOverview:
    repo = GovernanceRepository(session)
    latest = repo.latest_snapshots(actor)
    departments = repo.departments_by_id({snapshot.department_id for snapshot, _ in latest})
    per_department: dict[int, list[float]] = defaultdict(list)
    reads = []
    for snapshot, resource in latest:
        per_department[snapshot.department_id].append(snapshot.score)
        reads.append(quality_read(snapshot, resource, departments[snapshot.department_id].code))
    summary = [
        DepartmentQuality(
            department=departments[d].code,
            department_name=departments[d].name,
            resources=len(scores),
            score=round(sum(scores) / len(scores), 1),
        )
        for d, scores in per_department.items()
    ]
    summary.sort(key=lambda q: q.score)
    return QualityOverview(departments=summary, resources=reads)


def resource_quality(session: Session, actor: Principal, code: str, limit: int = 30) -> list[QualityRead]:
    resource = _quality_resource(session, actor, code)
    department = GovernanceRepository(session).department_code(resource.provider_department_id)
    return [
        quality_read(s, resource, department)
        for s in GovernanceRepository(session).snapshots(resource.id, limit)
    ]


def _quality_resource(session: Session, actor: Principal, code: str) -> Resource:
    resource = GovernanceRepository(session).resource(code)
    if resource is None or not auth.may_see_quality(actor, resource.provider_department_id):
        raise NotFound(
            M_("no resource %(code)r whose quality you may see", code=code), code="resource_not_found"
        )
    return resource


def problem_read(
    session: Session,
    problem: Problem,
    actor: Principal,
    events: bool = False,
    repo: GovernanceRepository | None = None,
) -> ProblemRead:
    """``repo``: pass one when reading a list, so each department's code is looked up once."""
    repo = repo or GovernanceRepository(session)
    resource = repo.resource_by_id(problem.resource_id)
    history = None
    if events:
        history = [
            ProblemEventRead.model_validate(e, from_attributes=True) for e in repo.problem_events(problem.id)
        ]
    actions = (
        department_actions(problem.status) if auth.may_work_problem(actor, problem.department_id) else []
    )
    return ProblemRead(
        id=problem.id,
        resource=resource.code,
        resource_name=resource.name,
        department=repo.department_code(problem.department_id),
        dimension=problem.dimension,
        subject=problem.subject,
        description=problem.description,
        affected=problem.affected,
        status=problem.status,
        assignee=problem.assignee,
        opened_at=problem.opened_at,
        updated_at=problem.updated_at,
        actions=actions,
        events=history,
    )


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Open quality problems of the actor's department, when the actor may work on them."""
    if actor.department_id is None or not auth.may_work_problem(actor, actor.department_id):
        return []
    repo = GovernanceRepository(session)
    work = []
    for problem in repo.open_problems_of(actor.department_id, 20):
        resource = repo.resource_by_id(problem.resource_id)
        work.append(
            WorkItem(
                N_("home.work.problem"),
                f"{resource.name}: {problem.description}",
                f"/catalog/{resource.code}/governance",
                N_("home.do.fix"),
                reference=f"#{problem.id}",
            )
        )
    return work


def figures(session: Session) -> dict[str, int]:
    repo = GovernanceRepository(session)
    return {
        "governance.tables": len(repo.governed_resource_ids()),
        "governance.open_problems": repo.open_problem_count(),
    }


def problems_page(
    session: Session, actor: Principal, statuses: list[str] | None, offset: int, limit: int
) -> ProblemPage:
    repo = GovernanceRepository(session)
    rows, total = repo.problems(actor, statuses, offset, limit)
    items = [problem_read(session, p, actor, repo=repo) for p in rows]
    return ProblemPage(items=items, total=total, offset=offset, limit=limit)


def visible_problem(session: Session, actor: Principal, problem_id: int) -> Problem:
    problem = GovernanceRepository(session).problem(actor, problem_id)
    if problem is None:
        raise NotFound(
            M_("no quality problem %(problem_id)s you may see", problem_id=problem_id),
            code="problem_not_found",
        )
    return problem


def step_problem(
    session: Session, actor: Principal, problem_id: int, step: ProblemStep
) -> tuple[Problem, str]:
    """Assign or mark fixed; returns the problem and its resource's code (fixed ones get re-checked)."""
    problem = visible_problem(session, actor, problem_id)
    if not auth.may_work_problem(actor, problem.department_id):
        raise Forbidden(M_("only the department's officers and the bureau's operators work on its problems"))
    if step.action == "assign":
        if not step.assignee:
            raise Invalid(M_("say who handles it: assignee"), field="assignee")
        problem.assignee = step.assignee
    record_step(session, problem, step.action, actor.username, step.comment, utcnow())
    session.flush()
    audit.record(
        session,
        actor,
        f"governance.problem.{step.action}",
        "quality_problem",
        str(problem.id),
        {"status": [None, problem.status.value]},
    )
    return problem, GovernanceRepository(session).resource_by_id(problem.resource_id).code


def report_service_gap(
    session: Session, resource_code: str, *, subject: str, description: str, now: datetime
) -> int | None:
    """A service's case found no record where the resource should hold one: a data-quality problem for
    the source department (one per resource and subject, counting how often it happened). Returns its id."""
    repo = GovernanceRepository(session)
    resource = repo.resource(resource_code)
    if resource is None:
        return None
    problem = next(
        (
            p
            for p in repo.problems_of(resource.id)
            if p.dimension == SERVICE_GAP and p.subject == subject[:200]
        ),
        None,
    )
    if problem is None or problem.status is ProblemStatus.CLOSED:
        problem = Problem(
            resource_id=resource.id,
            department_id=resource.provider_department_id,
            dimension=SERVICE_GAP,
            subject=subject[:200],
            description=description,
            affected=1,
            opened_at=now,
            updated_at=now,
        )
        session.add(problem)
        session.flush()
        record_step(session, problem, "open", "services", description, now)
        return problem.id
    problem.affected, problem.description, problem.updated_at = problem.affected + 1, description, now
    if problem.status is ProblemStatus.FIXED:
        record_step(session, problem, "reopen", "services", "a case found no record again", now)
    session.flush()
    return problem.id
