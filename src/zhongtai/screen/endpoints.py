"""The big screen's REST API: the same figures as the screen (for other dashboards), a live stream of them,
the district map, street drill-downs, the risk crowd (suppressed; exact for health staff, audited; noised
for public release) and kiosk links."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from zhongtai.core import rollups
from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Forbidden, Unauthenticated
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession, RowId, bearer_token
from zhongtai.core.identity.service import principal_from_token
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.screen import auth, geo, profiling, service
from zhongtai.screen.hub import Hub

router = APIRouter(prefix="/api/v1/screen", tags=["screen"])
District = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="GB/T 2260 district code")]
Dimension = Annotated[str, Query(pattern=r"^(district|age_band|sex|industry|street)$")]
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy buffering


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.screen
    return hub


def watching(principal: Principal, settings: Settings) -> Principal:
    if not auth.may_watch(principal, settings):
        raise Forbidden(
            M_("the big screen is for the bureau, auditors, health staff and screen accounts"),
            code="missing_role",
        )
    return principal


def figures_response(payload: bytes) -> Response:
    return Response(payload, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/figures", responses={200: {"content": {"application/json": {}}}})
async def figures(request: Request, principal: ApiPrincipal, settings: AppSettings) -> Response:
    """Every panel's figures as the screen shows them (recomputed at most once per interval for all)."""
    watching(principal, settings)
    return figures_response(await hub_of(request).refresh())


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}}, 401: {"description": "No valid API token"}},
    openapi_extra={"security": [{"bearer": []}]},
)
async def stream(request: Request, settings: AppSettings) -> StreamingResponse:
    """Server-Sent Events: a ``figures`` event with the whole payload at every interval (the token is
    checked again every minute; a revoked one ends the stream)."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated(M_("missing bearer token: send `Authorization: Bearer <token>`"))
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    def holder() -> Principal | None:
        # A session of its own, closed before the stream starts: a burst of screens never holds connections
        # while it waits for a thread (FastAPI's request session would, until the answer is sent).
        with transaction(factory) as session:
            return principal_from_token(session, settings, token)

    principal = await run_in_threadpool(holder)
    if principal is None:
        raise Unauthenticated(M_("invalid, expired or revoked API token"), code="invalid_token")
    watching(principal, settings)

    async def still_valid() -> bool:
        return await run_in_threadpool(holder) is not None

    hub = hub_of(request)
    return StreamingResponse(hub.admit(still_valid), media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/districts")
def district_map(principal: ApiPrincipal, settings: AppSettings) -> dict[str, Any]:
    """The city's districts as GeoJSON (drawn by the project for its fictional city)."""
    watching(principal, settings)
    known = profiling.city_districts(settings)
    return geo.district_map(settings.city_division, tuple(known.items()))


@router.get("/districts/{district}/streets")
def streets(
    session: DbSession, principal: ApiPrincipal, settings: AppSettings, district: District
) -> dict[str, Any]:
    """Risk groups by street within a district; a cell under 10 (or one that would give it away) is null."""
    watching(principal, settings)
    return service.district_streets(session, settings, district)


@router.get("/profile")
def risk_profile(session: DbSession, principal: ApiPrincipal, settings: AppSettings) -> dict[str, Any]:
    """Risk groups (red, yellow, arrivals, contacts) by district, age band, sex and industry, suppressed."""
    watching(principal, settings)
    return service.profile(rollups.read(session, utcnow(), hours=0), profiling.city_districts(settings))


@router.get("/profile/public")
def public_profile(session: DbSession, settings: AppSettings) -> dict[str, Any]:
    """The public release of the risk-crowd figures: discrete Laplace noise (OpenDP) drawn once a day,
    counts under 10 as null. No sign-in needed; exact counts never leave here."""
    return service.public_release(session, settings)


@router.get("/profile/export", responses={200: {"content": {"text/csv": {}}}})
def export(
    session: DbSession, principal: ApiPrincipal, settings: AppSettings, dimension: Dimension = "district"
) -> Response:
    """The exact counts of one dimension, as CSV: health staff only (their own department, or another's
    staff under a live grant on 安康码赋码信息); each export is an access entry in the audit trail."""
    rows = service.exact_export(session, settings, principal, dimension)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    name = f"risk-profile-{dimension}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


class LinkCreate(BaseModel):
    label: str = Field("kiosk", max_length=100, description="Where the display hangs, e.g. 指挥中心北墙")
    days: int = Field(30, ge=1, le=366, description="How long the link opens the screen")


class LinkRead(BaseModel):
    id: int
    label: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


class LinkCreated(LinkRead):
    path: str = Field(description="The kiosk address on this server (shown once: only its hash is kept)")


def link_read(link: Any) -> LinkRead:
    return LinkRead.model_validate(link, from_attributes=True)


@router.post("/links", response_model=LinkCreated, status_code=201)
def create_link(session: DbSession, principal: ApiPrincipal, body: LinkCreate) -> LinkCreated:
    """A kiosk link: opens the screen on a wall display without signing in, until it expires or is revoked."""
    made = service.create_link(session, principal, body.label, body.days)
    return LinkCreated(**link_read(made.link).model_dump(), path=f"/screen/k/{made.token}")


@router.get("/links", response_model=list[LinkRead])
def list_links(session: DbSession, principal: ApiPrincipal) -> list[LinkRead]:
    return [link_read(link) for link in service.links(session, principal)]


@router.post("/links/{link_id}/revoke", response_model=LinkRead)
def revoke_link(session: DbSession, principal: ApiPrincipal, link_id: RowId) -> LinkRead:
    """Stop a kiosk link: its screens are closed within a minute and it opens nothing again."""
    return link_read(service.revoke_link(session, principal, link_id))
