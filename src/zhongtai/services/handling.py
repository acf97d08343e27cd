"""The department's side of a case: its caseworkers accept it and read the fetched data under the case's
grants, co-handling departments answer the questions put to them, and the decision closes the grants and
writes the ledger. Another department's caseworker is refused (403); nobody else sees the data."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.services import auth, ledger
from zhongtai.services.cases import case_materials, check_transition, key_of, record_event
from zhongtai.services.lifecycle import TRANSITIONS
from zhongtai.services.models import (
    CLOSED,
    ApplicantKind,
    Case,
    CaseStatus,
    CaseTask,
    MaterialOutcome,
    TaskStatus,
)
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.schemas import Decision, TaskAnswer, TaskCreate
from zhongtai.sharing import casegrants
from zhongtai.sharing.lifecycle import add_working_days
from zhongtai.sharing.masking import mask_name


def handled_case(session: Session, actor: Principal, number: str) -> Case:
    """A case for its department's caseworker: 404 when there is none, 403 for anyone else."""
    case = ServicesRepository(session).case(number)
    if case is None or case.status is CaseStatus.DRAFT:
        raise NotFound(M_("no case %(number)s", number=number), code="case_not_found")
    if not auth.may_handle(actor, case):
        raise Forbidden(
            M_("case %(number)s is handled by another department's caseworkers", number=number),
            code="not_your_case",
        )
    return case


def seen_case(session: Session, actor: Principal, number: str) -> tuple[Case, bool]:
    """A case for its caseworker (True) or a co-handling department with a task on it (False)."""
    case = ServicesRepository(session).case(number)
    if case is None or case.status is CaseStatus.DRAFT:
        raise NotFound(M_("no case %(number)s", number=number), code="case_not_found")
    if auth.may_handle(actor, case):
        return case, True
    if any(auth.may_answer(actor, task) for task in ServicesRepository(session).tasks(case.id)):
        return case, False
    raise Forbidden(
        M_("case %(number)s is handled by another department's caseworkers", number=number),
        code="not_your_case",
    )


def accept(session: Session, actor: Principal, number: str, now: datetime) -> Case:
    case = handled_case(session, actor, number)
    check_transition(case, "accept")
    case.status, case.caseworker = CaseStatus.IN_REVIEW, actor.username
    record_event(session, case, "accept", CaseStatus.SUBMITTED, actor.username, now)
    audit.record(session, actor, "services.case.accepted", "case", case.number)
    return case


def fetched_data(
    session: Session, settings: Settings, actor: Principal, case: Case
) -> dict[int, casegrants.CaseRead]:
    """The fetched materials as the caseworker reads them now, under the case's grants (each read an
    access entry with the applicant as subject). Refused once the case closed or consent was withdrawn."""
    materials = {}
    wanted = []
    for entry, material in case_materials(session, case):
        if entry.outcome is MaterialOutcome.FETCHED and entry.grant_id is not None:
            materials[entry.grant_id] = material.id
            wanted.append((entry.grant_id, key_of(settings, case, material)))
    read = casegrants.read_many(
        session,
        actor,
        case_ref=case.number,
        wanted=wanted,
        subject=case.applicant_subject,
        event="services.case.viewed",
    )
    return {materials[grant_id]: found for grant_id, found in read.items()}


def ask(session: Session, actor: Principal, number: str, data: TaskCreate, now: datetime) -> CaseTask:
    """A co-handling question to another department, with its own deadline in working days."""
    case = handled_case(session, actor, number)
    if case.status is not CaseStatus.IN_REVIEW:
        raise Conflict(M_("accept the case before asking co-handling departments"), code="wrong_status")
    repo = ServicesRepository(session)
    department = repo.department(data.department)
    if department is None or department.id == case.department_id:
        raise Invalid(M_("ask another department that exists"), field="department")
    task = CaseTask(
        case_id=case.id,
        department_id=department.id,
        question=data.question,
        due_on=add_working_days(now, data.days).date(),
        asked_by=actor.username,
        asked_at=now,
    )
    session.add(task)
    session.flush()
    record_event(session, case, "ask", case.status, actor.username, now, data.department)
    audit.record(session, actor, "services.case.asked", "case", case.number, {"department": data.department})
    return task


def answer(session: Session, actor: Principal, task_id: int, data: TaskAnswer, now: datetime) -> CaseTask:
    repo = ServicesRepository(session)
    task = repo.task(task_id)
    if task is None or not auth.may_answer(actor, task):
        raise NotFound(
            M_("no co-handling task %(task)s for your department", task=task_id), code="task_not_found"
        )
    case = session.get(Case, task.case_id)
    assert case is not None
    if task.status is not TaskStatus.OPEN or case.status in CLOSED:
        raise Conflict(M_("this co-handling task is answered or its case closed"), code="task_closed")
    task.status, task.answer, task.agrees = TaskStatus.ANSWERED, data.answer, data.agrees
    task.answered_by, task.answered_at = actor.username, now
    session.flush()
    record_event(session, case, "answer", case.status, actor.username, now, data.answer[:200])
    audit.record(
        session,
        actor,
        "services.case.answered",
        "case",
        case.number,
        {"task": task.id, "agrees": data.agrees},
    )
    return task


def decide(
    session: Session, settings: Settings, actor: Principal, number: str, data: Decision, now: datetime
) -> Case:
    """Approve, return for changes or refuse (with reasons). A decision closes the case's grants and
    writes its savings to the ledger; a return keeps them for the resubmission."""
    case = handled_case(session, actor, number)
    action = data.action
    check_transition(case, action)
    reason = data.reason.strip()
    if TRANSITIONS[action].needs_reason and len(reason) < 2:
        raise Invalid(M_("give the applicant the reasons"), field="reason")
    repo = ServicesRepository(session)
    if action == "approve":
        open_tasks = [t for t in repo.tasks(case.id) if t.status is TaskStatus.OPEN]
        if open_tasks:
            raise Conflict(
                M_("%(count)s co-handling answer(s) still awaited", count=len(open_tasks)), code="tasks_open"
            )
    before = case.status
    case.status, case.decision_reason = TRANSITIONS[action].target, reason
    if case.status in CLOSED:
        case.decided_at, case.decided_by = now, actor.username
        casegrants.close(session, actor, case.number, f"case {action}d")
        ledger.record(session, case, repo.item_by_id(case.item_id), case_materials(session, case), now)
    record_event(session, case, action, before, actor.username, now, reason)
    audit.record(session, actor, f"services.case.{action}", "case", case.number, {"reason": reason[:200]})
    return case


def masked_applicant(case: Case) -> str:
    return (
        case.applicant_name
        if case.applicant_kind is ApplicantKind.ENTERPRISE
        else mask_name(case.applicant_name)
    )


def overdue(case: Case, today: date) -> bool:
    return case.due_on is not None and case.status not in CLOSED and today > case.due_on
