"""Licence pages: a citizen's wallet (卡包) under ``/m`` with each licence shown as a signed code, and a
public verification page anyone (a counter, a bank, a landlord) uses without signing in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from zhongtai.core.errors import M_, NotFound
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.web import Form, check_csrf, form_str
from zhongtai.healthcode.qr import qr_svg
from zhongtai.licences import service
from zhongtai.public.auth import PREFIX, CitizenPage, Public

router = APIRouter(include_in_schema=False)


@router.get(PREFIX + "/licences")
def wallet(page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    today = utcnow().astimezone(CITY_ZONE).date()
    found = service.wallet(session, page.citizen.subject)
    return page.render(
        "m_wallet.html", licences=found, today=today, holds=service.holds, shown=service.shown_name
    )


@router.get(PREFIX + "/licences/{number}")
def show(number: str, page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    """One licence with its signed code (亮证), valid for minutes."""
    assert page.citizen is not None
    licence = service.own_licence(session, page.citizen.subject, number)
    if licence is None:
        raise NotFound(M_("no such licence in your wallet"), code="licence_not_found")
    now = utcnow()
    text = service.show(session, settings, licence, now)
    return page.render(
        "m_licence.html",
        licence=licence,
        text=text,
        svg=qr_svg(text),
        minutes=service.SHOW_MINUTES,
        holds=service.holds(licence, now.astimezone(CITY_ZONE).date()),
        shown=service.shown_name(licence),
    )


@router.get("/licences/verify")
def verify_form(page: Public) -> Response:
    return page.render("lic_verify.html", check=None, text="")


@router.post("/licences/verify")
def verify(page: Public, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    text = form_str(form, "code")[:4000]
    check = service.verify(session, settings, text, utcnow()) if text else None
    return page.render("lic_verify.html", check=check, text=text)
