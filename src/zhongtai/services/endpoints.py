"""Services REST API: the service catalog and its mappings (departments save, the bureau reviews), cases
for the responsible department's caseworkers and co-handling departments, the ledger (for big screens)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path

from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession, RowId
from zhongtai.core.types import utcnow
from zhongtai.services import handling, ledger, service
from zhongtai.services.models import Case, CaseStatus
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.schemas import (
    CaseMaterialRead,
    CaseRead,
    Decision,
    ItemRead,
    ItemWrite,
    Ledger,
    MaterialRead,
    Position,
    ReviewWrite,
    TaskAnswer,
    TaskCreate,
    TaskRead,
)

router = APIRouter(prefix="/api/v1/services", tags=["services"])
ItemCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")]
CaseNumber = Annotated[str, Path(pattern=r"^BJ[0-9]{13}$")]


@router.get("/items", response_model=list[ItemRead])
def items(session: DbSession, principal: ApiPrincipal) -> list[ItemRead]:
    """Every service item with its materials and how each is replaced by shared data."""
    return [service.item_read(session, item) for item in service.catalog(session)]


@router.get("/items/{code}", response_model=ItemRead)
def item(session: DbSession, principal: ApiPrincipal, code: ItemCode) -> ItemRead:
    return service.item_read(session, service.get_item(session, code))


@router.put("/items/{code}", response_model=ItemRead)
def save(session: DbSession, principal: ApiPrincipal, code: ItemCode, body: ItemWrite) -> ItemRead:
    """Create or replace a service item (its department's officers). Each data mapping is checked at
    save — a retired resource or an unknown item is refused naming the material — and waits for the
    bureau's review before cases fetch by it."""
    if body.code != code:
        body = body.model_copy(update={"code": code})
    return service.item_read(session, service.save_item(session, principal, body))


@router.post("/items/{code}/materials/{position}/review", response_model=MaterialRead)
def review(
    session: DbSession, principal: ApiPrincipal, code: ItemCode, position: Position, body: ReviewWrite
) -> MaterialRead:
    """The bureau approves a data-to-material mapping or returns it with a comment."""
    return service.material_read(session, service.review_material(session, principal, code, position, body))


def case_read(session: DbSession, case: Case) -> CaseRead:
    repo = ServicesRepository(session)
    names = repo.department_names()
    item = repo.item_by_id(case.item_id)
    materials = {m.id: m for m in repo.materials(item.id)}
    return CaseRead(
        number=case.number,
        service=item.code,
        department=names[case.department_id][0],
        applicant=handling.masked_applicant(case),
        status=case.status,
        submitted_at=case.submitted_at,
        due_on=case.due_on,
        decided_at=case.decided_at,
        decision_reason=case.decision_reason,
        materials=[
            CaseMaterialRead(
                material=materials[e.material_id].name,
                source=materials[e.material_id].source,
                outcome=e.outcome,
                provider=service.provider_of(session, materials[e.material_id]),
                records=e.records,
                fallback_reason=e.fallback_reason,
                file_name=e.file_name,
            )
            for e in repo.case_materials(case.id)
        ],
        tasks=[
            TaskRead(
                id=t.id,
                department=names[t.department_id][0],
                question=t.question,
                due_on=t.due_on,
                status=t.status,
                answer=t.answer,
                agrees=t.agrees,
            )
            for t in repo.tasks(case.id)
        ],
    )


@router.get("/cases", response_model=list[CaseRead])
def case_list(
    session: DbSession, principal: ApiPrincipal, status: CaseStatus | None = None
) -> list[CaseRead]:
    """Cases the caller's department handles or co-handles (newest first)."""
    found = ServicesRepository(session).cases_for(principal, status.value if status else None)
    return [case_read(session, c) for c in found]


@router.get("/cases/{number}", response_model=CaseRead)
def case_detail(session: DbSession, principal: ApiPrincipal, number: CaseNumber) -> CaseRead:
    case, _handles = handling.seen_case(session, principal, number)
    return case_read(session, case)


@router.get("/cases/{number}/data")
def case_data(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, number: CaseNumber
) -> dict[str, Any]:
    """The fetched materials, read now under the case's grants (the caseworker only; recorded with the
    applicant as subject; 403 once the case closed or consent was withdrawn)."""
    case = handling.handled_case(session, principal, number)
    read = handling.fetched_data(session, settings, principal, case)
    return {str(k): {"items": v.items, "masking": v.masking, "rows": v.rows} for k, v in read.items()}


@router.post("/cases/{number}/accept", response_model=CaseRead)
def accept(session: DbSession, principal: ApiPrincipal, number: CaseNumber) -> CaseRead:
    return case_read(session, handling.accept(session, principal, number, utcnow()))


@router.post("/cases/{number}/tasks", response_model=TaskRead, status_code=201)
def ask(session: DbSession, principal: ApiPrincipal, number: CaseNumber, body: TaskCreate) -> TaskRead:
    """A co-handling question (协办) to another department, with its own deadline."""
    task = handling.ask(session, principal, number, body, utcnow())
    department = ServicesRepository(session).department_names()[task.department_id][0]
    return TaskRead(
        id=task.id,
        department=department,
        question=task.question,
        due_on=task.due_on,
        status=task.status,
        answer=task.answer,
        agrees=task.agrees,
    )


@router.post("/tasks/{task_id}/answer", response_model=CaseRead)
def answer(session: DbSession, principal: ApiPrincipal, task_id: RowId, body: TaskAnswer) -> CaseRead:
    task = handling.answer(session, principal, task_id, body, utcnow())
    case = session.get(Case, task.case_id)
    assert case is not None
    return case_read(session, case)


@router.post("/cases/{number}/decision", response_model=CaseRead)
def decide(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, number: CaseNumber, body: Decision
) -> CaseRead:
    """approve (every co-handling answer in) / return (reasons) / refuse (reasons)."""
    return case_read(session, handling.decide(session, settings, principal, number, body, utcnow()))


@router.get("/ledger", response_model=Ledger)
def ledger_totals(session: DbSession, principal: ApiPrincipal, since: date | None = None) -> Ledger:
    """Submissions, checks and trips saved: totals, per service, per department, per day."""
    return ledger.totals(session, since)
