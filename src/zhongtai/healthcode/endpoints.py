"""Health code REST API: the trust list verifiers refresh (public: it holds certificates only), and a gate's
scans (authorised by the gate's secret link, as the guard's page is)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, NotFound, Unauthenticated
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.healthcode import places, service, situation
from zhongtai.healthcode.gatepath import GatePath

router = APIRouter(prefix="/api/v1/healthcode", tags=["healthcode"])


@router.get(
    "/trust-list",
    response_model=dict[str, Any],
    responses={503: {"description": "No signing key yet (zhongtai healthcode rotate-key makes the first)"}},
)
def trust_list(session: DbSession, settings: AppSettings) -> dict[str, Any]:
    """Every certificate that may have signed a live code (base64 DER, kid, usage, validity), signed by the
    platform's root: refresh it, check its signature against the root you hold, verify codes offline."""
    return service.trust_list(session, settings, utcnow())


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=4000, description="The scanned text (AK1:… or HC1:…)")
    temperature: float | None = Field(None, description="Body temperature taken at the gate, °C")
    direction: str = Field("in", description="in or out")
    plate: str | None = Field(None, max_length=16, description="A vehicle's plate, when one passes")


class ScanOut(BaseModel):
    decision: str = Field(description="pass | restricted | barred")
    colour: str
    masked_name: str
    fever: bool


def gate_key(x_gate_key: Annotated[str | None, Header(description="The gate's secret key")] = None) -> str:
    if not x_gate_key:
        raise Unauthenticated(M_("X-Gate-Key: the gate's key is required"))
    return x_gate_key


@router.post(
    "/gate-scans",
    response_model=ScanOut,
    responses={
        401: {"description": "No X-Gate-Key, or one of no live gate"},
        422: {"description": "The code was refused; error.code names the stage (code_expiry, …)"},
    },
)
async def gate_scan(request: Request, body: ScanIn, key: Annotated[str, Depends(gate_key)]) -> Any:
    """One scan at a gate (its key is the secret of the guard's gate link): the code verified online
    (signature, expiry, the holder's current colour), the entry record and its audit entry committed
    whatever the outcome, a fever counted as a yellow reason on the person's code."""
    given = places.check_scan(body.model_dump())
    path = gate_path(request)
    try:
        _, answer, fever_line = await run_in_threadpool(path.scan, key, given, utcnow())
    except NotFound:
        raise Unauthenticated(M_("this gate link is unknown or was withdrawn"), code="gate_unknown") from None
    if answer["valid"] and given.temperature is not None and given.temperature >= fever_line:
        return await run_in_threadpool(_scan_with_fever, request, key, given)
    if not answer["valid"]:  # the passage is kept, the refusal named
        error = {"code": f"code_{answer['stage']}", "message": answer["reason"], "field": "code"}
        return JSONResponse({"error": error}, status_code=422)
    return ScanOut(
        decision=answer["decision"],
        colour=answer["colour"].label,
        masked_name=answer["masked_name"],
        fever=False,
    )


def gate_path(request: Request) -> GatePath:
    path: GatePath | None = getattr(request.app.state, "gate_path", None)
    if path is None:
        path = GatePath(request.app.state.engine, request.app.state.settings)
        request.app.state.gate_path = path
    return path


def _scan_with_fever(request: Request, key: str, given: places.ScanInput) -> ScanOut:
    """A fever is evidence: the full path, in one transaction (recorded, the colour recomputed)."""
    with transaction(request.app.state.sessionmaker) as session:
        gate, place = places.gate_by_token(session, key)
        result = places.scan(session, request.app.state.settings, gate, place, given, utcnow())
    assert result.colour is not None
    return ScanOut(
        decision=result.decision,
        colour=result.colour.label,
        masked_name=result.masked_name,
        fever=result.fever,
    )


class ScanRow(BaseModel):
    district: str
    name: str
    cells: dict[str, int | None] = Field(
        description="Scans by colour; null: hidden (fewer than 10, or derivable)"
    )
    total: int | None


class SituationOut(BaseModel):
    at: datetime
    positives: int
    positives_today: int
    colours: dict[str, int] = Field(description="People the platform holds evidence for, by code colour")
    scans_24h: list[ScanRow]
    scans_24h_by_colour: dict[str, int | None]
    scans_24h_total: int | None
    traces_open: int
    contacts: dict[str, int]
    risk_areas: int


def situation_out(found: situation.Situation, names: dict[str, str]) -> SituationOut:
    table = found.scans
    return SituationOut(
        at=found.at,
        positives=found.positives,
        positives_today=found.positives_today,
        colours=found.colours,
        scans_24h=[
            ScanRow(
                district=row,
                name=names.get(row, row),
                cells={c: table.cells[(row, c)] for c in table.cols},
                total=table.row_totals[row],
            )
            for row in table.rows
        ],
        scans_24h_by_colour=table.col_totals,
        scans_24h_total=table.total,
        traces_open=found.traces_open,
        contacts=found.contacts,
        risk_areas=found.risk_areas,
    )


@router.get("/situation", response_model=SituationOut)
def epidemic_situation(session: DbSession, settings: AppSettings, principal: ApiPrincipal) -> SituationOut:
    """疫情战况: positives, codes by colour, the last 24 hours' scans by district and colour, traces and
    contacts, risk areas. Aggregates only; the district table is suppressed (no cell of 1–9 people, none
    derivable from the totals)."""
    found = situation.situation(session, settings, utcnow())
    return situation_out(found, situation.districts(settings.city_division))
