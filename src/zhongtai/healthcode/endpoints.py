"""Health code REST API: the trust list verifiers refresh (public: it holds certificates only), and a gate's
scans (authorised by the gate's secret link, as the guard's page is)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from zhongtai.core.errors import M_, NotFound, Unauthenticated
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.healthcode import places, service

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
def gate_scan(
    body: ScanIn, key: Annotated[str, Depends(gate_key)], session: DbSession, settings: AppSettings
) -> Any:
    """One scan at a gate (its key is the secret of the guard's gate link): the code verified online
    (signature, expiry, the holder's current colour), the entry/exit record kept whatever the outcome, a
    fever counted as a yellow reason."""
    try:
        gate, place = places.gate_by_token(session, key)
    except NotFound:
        raise Unauthenticated(M_("this gate link is unknown or was withdrawn"), code="gate_unknown") from None
    given = places.check_scan(body.model_dump())
    result = places.scan(session, settings, gate, place, given, utcnow())
    if result.decision == "refused":  # the passage is kept (committed), the refusal named
        error = {"code": f"code_{result.stage}", "message": result.reason, "field": "code"}
        return JSONResponse({"error": error}, status_code=422)
    assert result.colour is not None
    return ScanOut(
        decision=result.decision,
        colour=result.colour.label,
        masked_name=result.masked_name,
        fever=result.fever,
    )
