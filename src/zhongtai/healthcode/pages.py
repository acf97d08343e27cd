"""Health code pages on the public side: a citizen's own code and their family members' (the QR refreshed
before it expires, so a screenshot stops working), the colour large with its reasons ("为什么是黄码") and
its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service
from zhongtai.healthcode.qr import qr_svg
from zhongtai.public import service as public
from zhongtai.public.auth import PREFIX, CitizenPage

router = APIRouter(include_in_schema=False)


def _shown(
    page: CitizenPage, session: DbSession, settings: AppSettings, member_id: int | None
) -> dict[str, Any]:
    citizen = page.citizen
    assert citizen is not None
    holder = public.person_for(session, settings, citizen, member_id)
    now = utcnow()
    code = service.show_person_code(session, settings, holder, f"citizen:{citizen.id}", now)
    return {
        "holder": holder,
        "code": code,
        "svg": qr_svg(code.text),
        "seconds_left": int((code.expires - now).total_seconds()),
        "member_id": member_id,
    }


@router.get(PREFIX + "/code")
def my_code(page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    shown = _shown(page, session, settings, None)
    history = service.colour_history(session, shown["holder"].subject)
    return page.render("hc_person_code.html", history=history, **shown)


@router.get(PREFIX + "/code/family/{member_id}")
def family_code(member_id: int, page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    shown = _shown(page, session, settings, member_id)
    history = service.colour_history(session, shown["holder"].subject)
    return page.render("hc_person_code.html", history=history, **shown)


@router.get(PREFIX + "/code/fresh")
def fresh_code(
    page: CitizenPage, session: DbSession, settings: AppSettings, member: int | None = None
) -> Response:
    """A new code for the page's timer (JSON): the image, its colour and when it expires."""
    shown = _shown(page, session, settings, member)
    code = shown["code"]
    body = {
        "svg": shown["svg"],
        "colour": code.colour.label,
        "expires": code.expires.isoformat(),
        "seconds_left": shown["seconds_left"],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
