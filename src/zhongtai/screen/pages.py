"""The big screen's pages: ``/screen`` for signed-in staff (``?kiosk=1``: no controls, panels rotating),
``/screen/k/<token>`` for a wall display opened by a kiosk link, each with its live stream and district
drill-down; ``/screen/links`` where operators make and revoke kiosk links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Forbidden, Unauthenticated
from zhongtai.core.http import DbSession, RowId
from zhongtai.core.i18n import N_, gettext
from zhongtai.core.identity.service import session_principal
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.web import (
    SESSION_COOKIE,
    Form,
    Page,
    PageContext,
    SignedInPage,
    check_csrf,
    form_str,
    unsign_session_token,
)
from zhongtai.screen import auth, geo, profiling, service
from zhongtai.screen.endpoints import STREAM_HEADERS, District, hub_of
from zhongtai.screen.service import TOTALS

router = APIRouter(include_in_schema=False)
KIOSK_ROTATE_SECONDS = 20
# Labels the screen's script shows, looked up in the page's language (the keys are extracted from here).
LABELS = {
    "measure": {m: f"screen.measure.{m}" for m in service.MEASURES},
    "group": {g: f"screen.group.{g}" for g in profiling.GROUPS},
    "dimension": {d: f"screen.dimension.{d}" for d in (*profiling.DIMENSIONS, "street")},
    "colour": {c: f"screen.colour.{c}" for c in service.COLOURS},
    "alert": {
        k: f"screen.alert.{k}"
        for k in ("audit_chain", "batch_failed", "delivery_dead", "applications_overdue", "breaker_open")
    },
    "contact": {k: f"screen.contact.{k}" for k in ("close_contact", "co_visitor", "secondary_contact")},
    "enterprise": {
        k: f"screen.enterprise.{k}" for k in ("submitted", "approved", "returned", "refused", "suspended")
    },
    "delivery": {k: f"screen.delivery.{k}" for k in ("delivered", "failed", "dead", "skipped")},
    "text": {
        k: f"screen.{k}"
        for k in (
            "live",
            "reconnecting",
            "stale",
            "link_closed",
            "too_many",
            "hidden",
            "no_alerts",
            "per_second",
            "calls",
            "errors",
            "rows",
            "updated",
            "all_city",
            "streets_of",
            "close",
            "total",
            "no_data",
        )
    },
}
N_KEYS = (
    N_("screen.measure.scans"),
    N_("screen.measure.red"),
    N_("screen.measure.yellow"),
    N_("screen.measure.contact"),
    N_("screen.measure.arrival"),
    N_("screen.measure.resumed"),
    N_("screen.group.red"),
    N_("screen.group.yellow"),
    N_("screen.group.arrival"),
    N_("screen.group.contact"),
    N_("screen.dimension.district"),
    N_("screen.dimension.age_band"),
    N_("screen.dimension.sex"),
    N_("screen.dimension.industry"),
    N_("screen.dimension.street"),
    N_("screen.colour.green"),
    N_("screen.colour.yellow"),
    N_("screen.colour.red"),
    N_("screen.alert.audit_chain"),
    N_("screen.alert.batch_failed"),
    N_("screen.alert.delivery_dead"),
    N_("screen.alert.applications_overdue"),
    N_("screen.alert.breaker_open"),
    N_("screen.contact.close_contact"),
    N_("screen.contact.co_visitor"),
    N_("screen.contact.secondary_contact"),
    N_("screen.enterprise.submitted"),
    N_("screen.enterprise.approved"),
    N_("screen.enterprise.returned"),
    N_("screen.enterprise.refused"),
    N_("screen.enterprise.suspended"),
    N_("screen.delivery.delivered"),
    N_("screen.delivery.failed"),
    N_("screen.delivery.dead"),
    N_("screen.delivery.skipped"),
    N_("screen.live"),
    N_("screen.reconnecting"),
    N_("screen.stale"),
    N_("screen.link_closed"),
    N_("screen.too_many"),
    N_("screen.hidden"),
    N_("screen.no_alerts"),
    N_("screen.per_second"),
    N_("screen.calls"),
    N_("screen.errors"),
    N_("screen.rows"),
    N_("screen.updated"),
    N_("screen.all_city"),
    N_("screen.streets_of"),
    N_("screen.close"),
    N_("screen.total"),
    N_("screen.no_data"),
)


def labels(lang: str) -> dict[str, dict[str, str]]:
    found = {group: {k: gettext(lang, key) for k, key in keys.items()} for group, keys in LABELS.items()}
    found["figure"] = {key: gettext(lang, f"home.figure.{key}") for key in TOTALS}
    return found


def _watcher(page: PageContext) -> Principal:
    settings: Settings = page.request.app.state.settings
    if page.principal is None or not auth.may_watch(page.principal, settings):
        raise Forbidden(
            M_("the big screen is for the bureau, auditors, health staff and screen accounts"),
            code="missing_role",
        )
    return page.principal


def _render(page: PageContext, base: str, kiosk: bool) -> Response:
    settings: Settings = page.request.app.state.settings
    known = profiling.city_districts(settings)
    shapes = geo.district_map(settings.city_division, tuple(known.items()))
    response = page.render(
        "screen.html",
        base=base,
        kiosk=kiosk,
        rotate_seconds=KIOSK_ROTATE_SECONDS,
        totals=TOTALS,
        measures=service.MEASURES,
        groups=profiling.GROUPS,
        dimensions=profiling.DIMENSIONS,
        districts=known,
        geojson=shapes,
        labels=labels(page.lang),
        interval=settings.screen_interval_seconds,
        city=settings.healthcode_city if page.lang == "zh" else "",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/screen")
def screen(page: SignedInPage, kiosk: int = 0) -> Response:
    _watcher(page)
    return _render(page, "/screen", kiosk=bool(kiosk))


@router.get("/screen/stream")
async def stream(request: Request) -> Response:
    """The signed-in screen's stream: the session is checked in a short session of its own (not the page
    machinery's, which would hold a connection until the answer is sent), again every minute."""
    settings: Settings = request.app.state.settings
    token = unsign_session_token(settings, request.cookies.get(SESSION_COOKIE))

    def watcher() -> bool:
        with request.app.state.sessionmaker() as session:
            found = session_principal(session, settings, token) if token else None
            return found is not None and auth.may_watch(found[0], settings)

    if not await run_in_threadpool(watcher):
        return JSONResponse(
            {"error": {"code": "signed_out", "message": "sign in to watch the screen", "field": None}},
            status_code=401,
        )

    async def still_valid() -> bool:  # signing out (or a revoked session) ends the stream within a minute
        return bool(await run_in_threadpool(watcher))

    hub = hub_of(request)
    return StreamingResponse(hub.admit(still_valid), media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/screen/districts/{district}")
def streets(page: SignedInPage, session: DbSession, district: District) -> dict[str, Any]:
    _watcher(page)
    return service.district_streets(session, page.request.app.state.settings, district)


# --- kiosk links ---------------------------------------------------------------------------------------


@router.get("/screen/k/{token}")
def kiosk(page: Page, session: DbSession, token: str) -> Response:
    service.kiosk(session, token, utcnow())
    return _render(page, f"/screen/k/{token}", kiosk=True)


@router.get("/screen/k/{token}/stream")
async def kiosk_stream(request: Request, token: str) -> Response:
    factory = request.app.state.sessionmaker

    def check() -> None:
        with transaction(factory) as session:
            service.kiosk(session, token, utcnow())

    try:
        await run_in_threadpool(check)
    except Unauthenticated as exc:  # the page says why and stops retrying
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message, "field": None}}, status_code=401
        )

    async def still_valid() -> bool:
        # Only a refused link closes the screens for good; a database hiccup ends this stream, and the
        # browser reconnects by itself.
        try:
            await run_in_threadpool(check)
        except Unauthenticated:
            return False
        return True

    hub = hub_of(request)
    return StreamingResponse(hub.admit(still_valid), media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/screen/k/{token}/districts/{district}")
def kiosk_streets(request: Request, session: DbSession, token: str, district: District) -> dict[str, Any]:
    service.kiosk(session, token, utcnow())
    return service.district_streets(session, request.app.state.settings, district)


@router.get("/screen/links")
def links(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    shown = page.take_secret()
    return page.render(
        "screen_links.html", links=service.links(session, page.principal), made=shown, now=utcnow()
    )


@router.post("/screen/links")
def make_link(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        days = int(form_str(form, "days") or "30")
    except ValueError:
        days = 0  # refused below with the reason
    made = service.create_link(session, page.principal, form_str(form, "label"), days)
    session.commit()
    base = str(page.request.base_url).rstrip("/")
    return page.redirect_with_secret(
        "/screen/links", {"url": f"{base}/screen/k/{made.token}", "label": made.link.label}
    )


@router.post("/screen/links/{link_id}/revoke")
def revoke(page: SignedInPage, form: Form, session: DbSession, link_id: RowId) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.revoke_link(session, page.principal, link_id)
    session.commit()
    return RedirectResponse("/screen/links", status_code=303)
