"""Health code REST API: the trust list verifiers refresh (public: it holds certificates only), and a gate's
scans (authorised by the gate's secret link, as the guard's page is)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Invalid, NotFound, Unauthenticated
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession
from zhongtai.core.suppression import Table
from zhongtai.core.types import utcnow
from zhongtai.healthcode import divisions, oversight, places, service, situation
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


class TableRow(BaseModel):
    row: str = Field(description="A district's GB/T 2260 code, a street, or 'other'")
    name: str
    cells: dict[str, int | None] = Field(description="null: hidden (fewer than 10, or derivable)")
    total: int | None


class TableOut(BaseModel):
    """A suppressed table: no count of 1–9 shown, none derivable from the totals shown."""

    rows: list[TableRow]
    column_totals: dict[str, int | None]
    total: int | None


def table_out(table: Table, names: dict[str, str]) -> TableOut:
    return TableOut(
        rows=[
            TableRow(
                row=row,
                name=names.get(row, row),
                cells={c: table.cells[(row, c)] for c in table.cols},
                total=table.row_totals[row],
            )
            for row in table.rows
        ],
        column_totals=table.col_totals,
        total=table.total,
    )


class AreaOut(BaseModel):
    district: str | None = Field(description="The district overseen; null: the whole city")
    name: str
    enterprises: TableOut = Field(description="Enterprises by the state of their latest application")
    employees_back: TableOut = Field(description="Employees of resumed enterprises by code colour")


@router.get("/area", response_model=AreaOut)
def area_overview(session: DbSession, settings: AppSettings, principal: ApiPrincipal) -> AreaOut:
    """一企一码、一人一码的精细化管理: the caller's area (a district for district staff, the city for the
    bureau, the health commission and the regulator) — enterprises by resumption state and employees back
    at work by colour, by street or district. Aggregates only, suppressed; 403 for staff without an area."""
    area = oversight.area_of(session, settings, principal)
    found = oversight.overview(session, settings, area)
    names = divisions.districts(settings.city_division)
    return AreaOut(
        district=area.district,
        name=area.name,
        enterprises=table_out(found.enterprises, names),
        employees_back=table_out(found.employees, names),
    )


class SituationOut(BaseModel):
    at: datetime
    since: datetime = Field(description="The period's figures count from here (midnight, city time) …")
    until: datetime = Field(description="… to here")
    district: str | None = Field(description="Scans by street within this district; null: by district")
    tests: int = Field(description="Test results gathered by the platform in the period")
    positives: int
    positives_today: int = Field(description="Positives in the period")
    colours: dict[str, int] = Field(description="People the platform holds evidence for, by code colour")
    scans_24h: list[ScanRow] = Field(description="Live: the last 24 hours; for a day: that day")
    scans_24h_by_colour: dict[str, int | None]
    scans_24h_total: int | None
    traces_open: int
    traces_started: int = Field(description="Traces started in the period")
    contacts: dict[str, int]
    enterprises: TableOut = Field(description="Enterprises by district and state of their application")
    risk_areas: int
    reports_delivered: int = Field(description="Daily reports delivered to the province (向省报送)")


def situation_out(found: situation.Situation, names: dict[str, str]) -> SituationOut:
    table = found.scans
    return SituationOut(
        at=found.at,
        since=found.since,
        until=found.until,
        district=found.district,
        tests=found.tests,
        positives=found.positives,
        positives_today=found.positives_today,
        colours=found.colours,
        scans_24h=[  # the table's rows under the name this field has always had for them
            ScanRow(district=r.row, name=r.name, cells=r.cells, total=r.total)
            for r in table_out(table, names).rows
        ],
        scans_24h_by_colour=table.col_totals,
        scans_24h_total=table.total,
        traces_open=found.traces_open,
        traces_started=found.traces_started,
        contacts=found.contacts,
        enterprises=table_out(found.enterprises, names),
        risk_areas=found.risk_areas,
        reports_delivered=found.reports_delivered,
    )


@router.get("/situation", response_model=SituationOut)
def epidemic_situation(
    session: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    day: date | None = Query(None, description="A past day (city time); omitted: live, the last 24 hours"),
    district: str | None = Query(None, pattern=r"^\d{6}$", description="Scans by street in this district"),
) -> SituationOut:
    """疫情战况: tests gathered, positives, codes by colour, scans by district (or by street within a
    district) and colour, traces and contacts, enterprises by resumption state, risk areas, reports to the
    province — live or for a past day. Aggregates only; every table is suppressed (no cell of 1–9 people,
    none derivable from the totals)."""
    names = divisions.districts(settings.city_division)
    if district is not None and district not in names:
        raise Invalid(M_("%(district)s is not a district of the city", district=district), field="district")
    now = utcnow()
    if day is not None and not now.date() - timedelta(days=366) <= day <= now.date():
        raise Invalid(M_("a day within the last year"), field="day")
    found = situation.situation(session, settings, now, day, district)
    return situation_out(found, names)
