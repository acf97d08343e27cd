"""Health code pages. Public side: a citizen's own code and their family members' (the QR refreshed before
it expires, so a screenshot stops working), the colour large with its reasons ("为什么是黄码") and history;
places applied for, their gates and A4 posters; a poster scanned (扫码登记). A guard's gate page, opened by
the gate's secret link. Staff: the street / district office's queue of place applications."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, refusal_to_show, valid_form
from zhongtai.healthcode import (
    areas,
    checkins,
    colouring,
    corrections,
    persons,
    places,
    service,
)
from zhongtai.healthcode.models import Place
from zhongtai.healthcode.qr import MAX_PHOTO_BYTES, qr_svg, qr_url_svg, read_photo
from zhongtai.healthcode.rules import RuleSet
from zhongtai.healthcode.tasks import enqueue_recompute
from zhongtai.orgs.models import DepartmentKind
from zhongtai.orgs.service import list_departments
from zhongtai.public import service as public
from zhongtai.public.auth import PREFIX, CitizenPage, Public
from zhongtai.public.schemas import id_number_of

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


# --- places (public: owners apply and print posters; citizens scan posters) -------------------------


def _offices(session: DbSession) -> dict[str, str]:
    """The street / district offices a place may belong to (district-level departments)."""
    return {d.code: d.name for d in list_departments(session) if d.kind is DepartmentKind.DISTRICT}


@router.get(PREFIX + "/places")
def my_places(page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    found = places.owned(session, page.citizen.id)
    return page.render(
        "hc_places.html", places=found, offices=_offices(session), kinds=places.KINDS, values={}
    )


@router.post(PREFIX + "/places")
def apply_place(page: CitizenPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    values = {n: form_str(form, n) for n in ("name", "kind", "address", "street", "office")}
    offices = _offices(session)
    try:
        data = places.check_application(places.PlaceApplication(**values), offices)
        place = places.apply(session, page.citizen.id, data, utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        found = places.owned(session, page.citizen.id)
        return page.render(
            "hc_places.html",
            status_code=exc.status_code,
            error=exc,
            places=found,
            offices=offices,
            kinds=places.KINDS,
            values=values,
        )
    return RedirectResponse(f"{PREFIX}/places/{place.id}", status_code=303)


@router.get(PREFIX + "/places/{place_id}")
def my_place(place_id: int, page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    place = places.owned_place(session, page.citizen.id, place_id)
    return _place_page(page, session, place, new_link=None)


def _place_page(page: CitizenPage, session: DbSession, place: Place, new_link: str | None) -> Response:
    return page.render(
        "hc_place.html",
        place=place,
        counts=places.counts(session, place.id, utcnow()),
        gates=places.gates(session, place.id),
        new_link=new_link,
        offices=_offices(session),
    )


@router.post(PREFIX + "/places/{place_id}/gates")
def add_gate(place_id: int, request: Request, page: CitizenPage, form: Form, session: DbSession) -> Response:
    """A gate link for a guard's phone, shown once (only its hash is kept)."""
    check_csrf(page, form)
    assert page.citizen is not None
    place = places.owned_place(session, page.citizen.id, place_id)
    _, token = places.add_gate(session, place, form_str(form, "name") or "1号门")
    return _place_page(page, session, place, new_link=str(request.base_url).rstrip("/") + f"/gate/{token}")


@router.get(PREFIX + "/places/{place_id}/poster")
def poster(place_id: int, request: Request, page: CitizenPage, session: DbSession) -> Response:
    """The A4 poster: the place's signed code as a QR a phone camera opens (the visit page's address with
    the code in it, so it verifies offline too), the place's name, and how to use it."""
    assert page.citizen is not None
    place = places.owned_place(session, page.citizen.id, place_id)
    if place.code_text is None:
        raise Conflict(M_("only an approved place has a poster"), code="place_not_approved")
    url = visit_url(str(request.base_url), place.code_text)
    return page.render("hc_poster.html", place=place, svg=qr_url_svg(url), url=url)


def visit_url(base: str, code_text: str) -> str:
    return base.rstrip("/") + f"{PREFIX}/visit?" + urlencode({"c": code_text})


@router.get(PREFIX + "/visit")
def visit(page: CitizenPage, session: DbSession, settings: AppSettings, c: str = "") -> Response:
    """A citizen scanned a poster: the visit recorded (once a minute), their colour shown large for the
    place's staff to see."""
    assert page.citizen is not None
    now = utcnow()
    place = places.place_of_code(session, settings, c[:2000], now)
    verdict, _, _ = service.current_verdict(session, page.citizen.subject)
    counted = places.visit(session, place, page.citizen.subject, verdict.colour, now)
    return page.render("hc_visit.html", place=place, colour=verdict.colour, counted=counted, at=now)


# --- gates (a guard's phone, opened by the gate's secret link) ----------------------------------------


def camera_available() -> bool:
    """Whether ``make assets`` put jsQR beside the static files (else the gate takes photos and text)."""
    return resources.files("zhongtai").joinpath("web/static/vendor/jsQR.js").is_file()


@router.get("/gate/{token}")
def gate_page(token: str, page: Public, session: DbSession) -> Response:
    gate, place = places.gate_by_token(session, token)
    return page.render(
        "hc_gate.html", gate=gate, place=place, result=None, token=token, camera=camera_available()
    )


@router.post("/gate/{token}")
async def gate_scan(
    token: str, request: Request, page: Public, session: DbSession, settings: AppSettings
) -> Response:
    """A scan at the gate: the code typed or read by the camera, or a photo of it decoded here."""
    gate, place = places.gate_by_token(session, token)
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # multipart parser errors: a malformed body
        raise ZhongtaiError(M_("malformed form body: %(exc)s", exc=exc), code="malformed_form") from exc
    check_csrf(page, form)
    raw = {name: form_str(form, name) for name in ("code", "temperature", "direction", "plate")}
    try:
        photo = form.get("photo")
        if not raw["code"] and isinstance(photo, StarletteUpload) and photo.filename:
            raw["code"] = read_photo(await photo.read(MAX_PHOTO_BYTES + 1))
        given = places.check_scan(raw)
        result = places.scan(session, settings, gate, place, given, utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        return page.render(
            "hc_gate.html",
            status_code=exc.status_code,
            error=exc,
            gate=gate,
            place=place,
            result=None,
            token=token,
            camera=camera_available(),
        )
    camera = camera_available()
    return page.render("hc_gate.html", gate=gate, place=place, result=result, token=token, camera=camera)


# --- staff: the street / district office's queue of place applications ------------------------------


@router.get("/healthcode/places")
def place_queue(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    if not places.may_decide_any(page.principal):
        raise Forbidden(
            M_("only a street or district office's reviewers decide place codes"), code="forbidden"
        )
    return page.render(
        "hc_place_queue.html", places=places.queue(session, page.principal), offices=_offices(session)
    )


@router.post("/healthcode/places/{place_id}/decision")
def decide_place(
    place_id: int, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    approve = form_str(form, "action") == "approve"
    places.decide(session, settings, page.principal, place_id, approve, form_str(form, "comment"), utcnow())
    return RedirectResponse("/healthcode/places", status_code=303)


# --- the daily check-in (健康打卡) --------------------------------------------------------------------


def _holder(
    page: CitizenPage, form: Any, session: DbSession, settings: AppSettings
) -> tuple[Any, int | None]:
    """Whom a citizen's form is for: themselves, or the family member it names (404 for anyone else)."""
    assert page.citizen is not None
    member = form_str(form, "member")
    member_id = int(member) if member.isdigit() else None
    return public.person_for(session, settings, page.citizen, member_id), member_id


def _checkin_page(
    page: CitizenPage, session: DbSession, settings: AppSettings, member_id: int | None, **extra: Any
) -> Response:
    assert page.citizen is not None
    holder = public.person_for(session, settings, page.citizen, member_id)
    done = checkins.checked_in_today(session, settings, holder.subject, utcnow())
    return page.render(
        "hc_checkin.html", holder=holder, member_id=member_id, done=done, symptoms=checkins.SYMPTOMS, **extra
    )


@router.get(PREFIX + "/checkin")
def checkin_form(
    page: CitizenPage, session: DbSession, settings: AppSettings, member: int | None = None
) -> Response:
    return _checkin_page(page, session, settings, member)


@router.post(PREFIX + "/checkin")
def checkin(page: CitizenPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    holder, member_id = _holder(page, form, session, settings)
    symptoms = [str(s) for s in form.getlist("symptoms")]
    try:
        checkins.check_in(session, settings, holder.subject, symptoms, f"citizen:{page.citizen.id}", utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        return _checkin_page(page, session, settings, member_id, status_code=exc.status_code, error=exc)
    target = f"{PREFIX}/code/family/{member_id}" if member_id else f"{PREFIX}/code"
    return RedirectResponse(target, status_code=303)


# --- risk areas (health staff) and travel declarations (行程申报, citizens) ---------------------------


@router.get("/healthcode/areas")
def area_list(page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    assert page.principal is not None
    if not areas.may_declare(page.principal, settings):
        raise Forbidden(M_("only the health commission declares risk areas"), code="forbidden")
    return _areas_page(page, session, values={})


def _areas_page(page: SignedInPage, session: DbSession, status_code: int = 200, **extra: Any) -> Response:
    extra.setdefault("error", None)
    found = areas.all_areas(session)
    names = {a.id: areas.place_name(a) for a in found}
    return page.render("hc_areas.html", status_code=status_code, areas=found, names=names, **extra)


@router.post("/healthcode/areas")
def declare_area(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = {n: form_str(form, n) for n in ("level", "district", "street", "starts_on", "ends_on")}
    try:
        starts = _day(values["starts_on"], "starts_on")
        ends = _day(values["ends_on"], "ends_on") if values["ends_on"] else None
        spec = (values["level"], values["district"], values["street"], starts, ends)
        areas.declare(session, settings, page.principal, spec, utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        return _areas_page(page, session, exc.status_code, error=exc, values=values)
    return RedirectResponse("/healthcode/areas", status_code=303)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(M_("%(field)s: a date like 2026-12-08", field=field), field=field) from None


@router.post("/healthcode/areas/{area_id}/lift")
def lift_area(
    area_id: int, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    areas.lift(session, settings, page.principal, area_id, utcnow())
    return RedirectResponse("/healthcode/areas", status_code=303)


@router.get(PREFIX + "/travel")
def travel_form(
    page: CitizenPage, session: DbSession, settings: AppSettings, member: int | None = None
) -> Response:
    return _travel_page(page, session, settings, member)


def _travel_page(
    page: CitizenPage, session: DbSession, settings: AppSettings, member_id: int | None, **extra: Any
) -> Response:
    assert page.citizen is not None
    holder = public.person_for(session, settings, page.citizen, member_id)
    today = utcnow().astimezone(settings.zone).date()
    found = areas.active(session, today)
    names = {a.id: areas.place_name(a) for a in found}
    extra.setdefault("status_code", 200)
    return page.render(
        "hc_travel.html", holder=holder, member_id=member_id, areas=found, names=names, today=today, **extra
    )


@router.post(PREFIX + "/travel")
def declare_travel(page: CitizenPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    holder, member_id = _holder(page, form, session, settings)
    area = form_str(form, "area")
    try:
        if not area.isdigit():
            raise Invalid(M_("choose the area you were in"), field="area")
        on = _day(form_str(form, "on"), "on")
        areas.declare_travel(
            session, settings, holder.subject, int(area), on, f"citizen:{page.citizen.id}", utcnow()
        )
    except ZhongtaiError as exc:
        if not refusal_to_show(exc) and exc.status_code != 404:
            raise
        return _travel_page(page, session, settings, member_id, status_code=exc.status_code, error=exc)
    target = f"{PREFIX}/code/family/{member_id}" if member_id else f"{PREFIX}/code"
    return RedirectResponse(target, status_code=303)


# --- correction requests (纠错申诉) --------------------------------------------------------------------


@router.get(PREFIX + "/corrections")
def my_corrections(page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    return page.render("hc_corrections_mine.html", corrections=corrections.mine(session, page.citizen.id))


@router.post(PREFIX + "/corrections")
def file_correction(page: CitizenPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    holder, _ = _holder(page, form, session, settings)
    who = (page.citizen.id, holder.subject, holder.name)
    try:
        corrections.file(
            session, settings, who, form_str(form, "record"), form_str(form, "statement"), utcnow()
        )
    except ZhongtaiError as exc:
        if not (refusal_to_show(exc) or exc.status_code == 404):
            raise
        found = corrections.mine(session, page.citizen.id)
        return page.render(
            "hc_corrections_mine.html", status_code=exc.status_code, error=exc, corrections=found
        )
    return RedirectResponse(f"{PREFIX}/corrections", status_code=303)


@router.get("/healthcode/corrections")
def correction_queue(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    corrections.refuse_if_forbidden(page.principal)
    found = corrections.queue(session, page.principal)
    return page.render("hc_corrections.html", corrections=found, error=None)


@router.post("/healthcode/corrections/{correction_id}/answer")
def answer_correction(correction_id: int, page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    upheld = form_str(form, "action") == "uphold"
    corrections.answer(session, page.principal, correction_id, upheld, form_str(form, "answer"), utcnow())
    return RedirectResponse("/healthcode/corrections", status_code=303)


# --- the colour rules (the health commission edits them; each save a new version) --------------------

RULE_FIELDS = {
    "red.positive_test": bool,
    "red.close_contact": bool,
    "yellow.co_visitor": bool,
    "yellow.secondary_contact": bool,
    "tracing.close_minutes": int,
    "tracing.lookback_days": int,
    "tracing.half_day": bool,
    "red.days": int,
    "red.checkins": int,
    "yellow.risk_area": bool,
    "yellow.fever_celsius": float,
    "yellow.symptoms": bool,
    "yellow.days": int,
    "yellow.checkins": int,
}


@router.get("/healthcode/rules")
def rules_page(page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    assert page.principal is not None
    if not areas.may_declare(page.principal, settings):
        raise Forbidden(M_("only the health commission edits the colour rules"), code="forbidden")
    return _rules_page(page, session)


def _rules_page(page: SignedInPage, session: DbSession, status_code: int = 200, **extra: Any) -> Response:
    extra.setdefault("error", None)
    current = colouring.current_rules(session)
    history = colouring.rule_history(session)
    return page.render("hc_rules.html", status_code=status_code, rules=current, history=history, **extra)


@router.post("/healthcode/rules")
def save_rules(
    request: Request, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """A new version of the rules; everyone's colour is recomputed in the background under it."""
    check_csrf(page, form)
    assert page.principal is not None
    if not areas.may_declare(page.principal, settings):
        raise Forbidden(M_("only the health commission edits the colour rules"), code="forbidden")
    body: dict[str, dict[str, Any]] = {"red": {}, "yellow": {}, "tracing": {}}
    for name, kind in RULE_FIELDS.items():
        group, field = name.split(".")
        raw = form_str(form, name)
        body[group][field] = raw == "on" if kind is bool else raw
    try:
        rules = valid_form(RuleSet, body)
        saved = colouring.save_rules(session, page.principal, rules, form_str(form, "comment"))
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        return _rules_page(page, session, exc.status_code, error=exc)
    session.commit()  # the job is sent only after the new version is committed
    enqueue_recompute(request.app.state.jobs, saved.version)
    return RedirectResponse("/healthcode/rules", status_code=303)


# --- health staff: one person's colour and reasons (own department, or under a grant) ----------------


@router.get("/healthcode/persons")
def person_lookup_form(page: SignedInPage) -> Response:
    assert page.principal is not None
    if not persons.may_look_up(page.principal):
        raise Forbidden(M_("only departments' staff look people up"), code="forbidden")
    return page.render("hc_person_lookup.html", view=None, error=None, values={})


@router.post("/healthcode/persons")
def person_lookup(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = {"id_number": form_str(form, "id_number")}
    try:
        number = id_number_of(values["id_number"])
        view = persons.look_up(session, settings, page.principal, number, utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc) and exc.status_code != 403:
            raise
        return page.render(
            "hc_person_lookup.html", status_code=exc.status_code, view=None, error=exc, values=values
        )
    return page.render("hc_person_lookup.html", view=view, error=None, values={})
