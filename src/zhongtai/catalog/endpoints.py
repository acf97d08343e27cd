"""Catalog REST API (HTTP only; rules live in service.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from zhongtai.catalog import service, transfer
from zhongtai.catalog.repository import CatalogRepository
from zhongtai.catalog.schemas import (
    ClassificationRead,
    ImportResult,
    ResourceCreate,
    ResourceFilter,
    ResourcePage,
    ResourceRead,
    ResourceUpdate,
    TransitionIn,
    TransitionRead,
    VersionRead,
)
from zhongtai.core.errors import M_, Invalid
from zhongtai.core.http import ApiPrincipal, DbSession, require_api_roles
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["catalog"])
Format = Literal["json", "csv"]
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


@router.get("/classifications", response_model=list[ClassificationRead])
def list_classifications(session: DbSession, _: ApiPrincipal) -> list[ClassificationRead]:
    return [
        ClassificationRead(
            code=c.code, name=c.name, name_en=c.name_en, parent_code=c.parent_code, level=c.level
        )
        for c in CatalogRepository(session).classifications()
    ]


@router.get("/resources", response_model=ResourcePage)
def search_resources(
    session: DbSession, principal: ApiPrincipal, filters: Annotated[ResourceFilter, Query()]
) -> ResourcePage:
    rows, total = CatalogRepository(session).search(principal, filters)
    return ResourcePage(
        items=[service.summary(r) for r in rows], total=total, page=filters.page, page_size=filters.page_size
    )


@router.post("/resources", response_model=ResourceRead, status_code=201)
def create_resource(session: DbSession, principal: ApiPrincipal, body: ResourceCreate) -> ResourceRead:
    return service.read(service.create_resource(session, principal, body))


@router.get("/resources/{code}", response_model=ResourceRead)
def get_resource(session: DbSession, principal: ApiPrincipal, code: str) -> ResourceRead:
    return service.read(service.get_visible(session, principal, code))


@router.patch("/resources/{code}", response_model=ResourceRead)
def update_resource(
    session: DbSession, principal: ApiPrincipal, code: str, body: ResourceUpdate
) -> ResourceRead:
    return service.read(service.update_resource(session, principal, code, body))


@router.post("/resources/{code}/transitions", response_model=ResourceRead)
def transition_resource(
    session: DbSession, principal: ApiPrincipal, code: str, body: TransitionIn
) -> ResourceRead:
    return service.read(service.transition(session, principal, code, body.action, body.comment))


@router.get("/resources/{code}/history", response_model=list[TransitionRead])
def resource_history(session: DbSession, principal: ApiPrincipal, code: str) -> list[TransitionRead]:
    return service.history(session, principal, code)


@router.get("/resources/{code}/versions", response_model=list[VersionRead])
def resource_versions(session: DbSession, principal: ApiPrincipal, code: str) -> list[VersionRead]:
    resource = service.get_visible(session, principal, code)
    return [
        VersionRead(version=v.version, actor=v.actor_username, created_at=v.created_at, snapshot=v.snapshot)
        for v in CatalogRepository(session).versions(resource.id)
    ]


@router.get(
    "/catalog/export",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "description": "The catalog in the chosen format",
        }
    },
)
def export_catalog(session: DbSession, principal: ApiPrincipal, format: Format = "json") -> Response:
    body = transfer.dump(transfer.export_records(session, principal), format)
    return Response(
        body,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="catalog.{format}"'},
    )


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/catalog/import", response_model=ImportResult, status_code=201)
def import_catalog(
    session: DbSession,
    principal: Annotated[Principal, Depends(require_api_roles(Role.OPERATOR))],
    raw: Annotated[bytes, Depends(raw_body)],
    format: Format = "json",
) -> ImportResult:
    """Create every entry in the file, or none (the request's transaction rolls back on any error)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(M_("import file must be UTF-8 text"), code="bad_encoding") from exc
    codes = transfer.import_records(session, principal, transfer.parse(text, format))
    return ImportResult(imported=len(codes), codes=codes)
