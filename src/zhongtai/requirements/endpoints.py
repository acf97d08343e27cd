"""Requirements REST API: file, list, read, act on (triage, delivery, confirmation), statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from zhongtai.core.http import ApiPrincipal, DbSession
from zhongtai.requirements import service
from zhongtai.requirements.models import RequirementStatus
from zhongtai.requirements.schemas import (
    RequirementAction,
    RequirementCreate,
    RequirementRead,
    RequirementStats,
)

router = APIRouter(prefix="/api/v1", tags=["requirements"])
Number = Annotated[str, Path(pattern=r"^XQ[0-9]{4}[0-9]{5}$")]


@router.post("/requirements", response_model=RequirementRead, status_code=201)
def file(session: DbSession, principal: ApiPrincipal, body: RequirementCreate) -> RequirementRead:
    """File a data, technology or business-collaboration requirement for the caller's department."""
    return service.view(session, service.file(session, principal, body))


@router.get("/requirements", response_model=list[RequirementRead])
def listing(
    session: DbSession, principal: ApiPrincipal, status: RequirementStatus | None = None
) -> list[RequirementRead]:
    """Requirements the caller's department filed or was assigned (all of them for the bureau)."""
    return [service.view(session, r) for r in service.listing(session, principal, status)]


@router.get("/requirements/statistics", response_model=list[RequirementStats])
def statistics(session: DbSession, principal: ApiPrincipal) -> list[RequirementStats]:
    """Per department: filed, open, overdue, delivered, rejected, median days to delivery."""
    return [RequirementStats.model_validate(row) for row in service.statistics(session, principal)]


@router.get("/requirements/{number}", response_model=RequirementRead)
def read(session: DbSession, principal: ApiPrincipal, number: Number) -> RequirementRead:
    return service.view(session, service.visible(session, principal, number))


@router.post("/requirements/{number}/actions", response_model=RequirementRead)
def act(
    session: DbSession, principal: ApiPrincipal, number: Number, body: RequirementAction
) -> RequirementRead:
    """assign (bureau, with ``assignee``) / reject (bureau, reason) / start / deliver (with links to the
    catalog entries, applications and capabilities that fulfil it) / reopen (filing department, reason)
    / confirm."""
    return service.view(session, service.act(session, principal, number, body))
