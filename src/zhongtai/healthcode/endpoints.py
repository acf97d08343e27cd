"""Health code REST API: the trust list verifiers refresh (public: it holds certificates only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service

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
