"""Licence verification for other systems: a shown licence code checked by signature, time and register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.licences import service

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=4000, description="The shown licence's text (LC1:…)")


class VerifyResult(BaseModel):
    valid: bool
    reason: str
    stage: str | None
    licence: dict[str, Any]


@router.post("/verify", response_model=VerifyResult)
def verify(session: DbSession, settings: AppSettings, body: VerifyRequest) -> VerifyResult:
    """Anyone may verify a shown licence (no sign-in): the signature against the platform's trust list,
    its time, then the register (revoked or outside its validity is refused, with the reason). The
    holder's name comes back masked."""
    check = service.verify(session, settings, body.code, utcnow())
    return VerifyResult(valid=check.valid, reason=check.reason, stage=check.stage, licence=check.licence)
