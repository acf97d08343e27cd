"""Departments and information systems REST API."""

from __future__ import annotations

from fastapi import APIRouter

from zhongtai.core.errors import M_, NotFound
from zhongtai.core.http import ApiPrincipal, DbSession
from zhongtai.orgs import service
from zhongtai.orgs.repository import OrgRepository
from zhongtai.orgs.schemas import DepartmentRead, SystemCreate, SystemRead, SystemUpdate

router = APIRouter(prefix="/api/v1", tags=["organizations"])


@router.get("/departments", response_model=list[DepartmentRead])
def list_departments(session: DbSession, _: ApiPrincipal) -> list[DepartmentRead]:
    return service.list_departments(session)


@router.get("/departments/{code}", response_model=DepartmentRead)
def get_department(session: DbSession, _: ApiPrincipal, code: str) -> DepartmentRead:
    return service.get_department(session, code)


@router.get("/systems", response_model=list[SystemRead])
def list_systems(session: DbSession, _: ApiPrincipal, department: str | None = None) -> list[SystemRead]:
    return [service.system_read(s) for s in OrgRepository(session).systems(department)]


@router.post("/systems", response_model=SystemRead, status_code=201)
def register_system(session: DbSession, principal: ApiPrincipal, body: SystemCreate) -> SystemRead:
    return service.system_read(service.register_system(session, principal, body))


@router.get("/systems/{code}", response_model=SystemRead)
def get_system(session: DbSession, _: ApiPrincipal, code: str) -> SystemRead:
    system = OrgRepository(session).system_by_code(code)
    if system is None:
        raise NotFound(M_("no information system %(code)r", code=code), code="system_not_found")
    return service.system_read(system)


@router.patch("/systems/{code}", response_model=SystemRead)
def update_system(session: DbSession, principal: ApiPrincipal, code: str, body: SystemUpdate) -> SystemRead:
    return service.system_read(service.update_system(session, principal, code, body))
