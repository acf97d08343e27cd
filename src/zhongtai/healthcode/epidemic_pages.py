"""Health code pages of the epidemic's second part: contact tracing (health staff), the epidemic situation
(every staff member; aggregates only), resumption applications and the enterprise's code (enterprises on the
public side; the regulator's queue)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from zhongtai.core import audit
from zhongtai.core.errors import M_, Forbidden, Invalid, NotFound, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, refusal_to_show
from zhongtai.healthcode import divisions, oversight, persons, resumptions, situation, tracing
from zhongtai.healthcode.qr import qr_svg
from zhongtai.public.auth import PREFIX, CitizenPage
from zhongtai.public.schemas import id_number_of

router = APIRouter(include_in_schema=False)


# --- health staff: contact tracing (流调) -----------------------------------------------------------------


@router.get("/healthcode/traces")
def trace_list(page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    return _traces_page(page, session, settings)


def _traces_page(
    page: SignedInPage, session: DbSession, settings: AppSettings, status_code: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    found = tracing.traces(session, settings, page.principal)
    cases = tracing.positives(session, settings, page.principal)
    extra.setdefault("error", None)
    return page.render("hc_traces.html", status_code=status_code, traces=found, cases=cases, **extra)


@router.post("/healthcode/traces")
def start_trace(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    """Trace a case: chosen among the positives on record, or by ID number."""
    check_csrf(page, form)
    assert page.principal is not None
    try:
        typed = form_str(form, "id_number")
        subject = person_subject(settings, id_number_of(typed)) if typed else form_str(form, "subject")
        if not subject:
            raise Invalid(M_("choose a case or give an ID number"), field="id_number")
        second = form_str(form, "second_degree") == "on"
        trace = tracing.start(session, settings, page.principal, subject, utcnow(), second)
    except ZhongtaiError as exc:
        if not (refusal_to_show(exc) or exc.status_code == 404):
            raise
        session.rollback()
        return _traces_page(page, session, settings, exc.status_code, error=exc)
    return RedirectResponse(f"/healthcode/traces/{trace.number}", status_code=303)


@router.get("/healthcode/traces/{number}")
def trace_page(number: str, page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    return _trace_page(page, session, settings, number)


def _trace_page(
    page: SignedInPage,
    session: DbSession,
    settings: AppSettings,
    number: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    assert page.principal is not None
    trace = tracing.visible_trace(session, settings, page.principal, number)
    found = tracing.contacts(session, trace)
    names = tracing.place_names(session, {c.place_id for c in found})
    labels = persons.masked_labels(session, settings, [c.subject for c in found])
    tracing.worklist_shown(session, page.principal, trace, sorted(labels))  # whose identity was shown
    extra.setdefault("error", None)
    return page.render(
        "hc_trace.html",
        status_code=status_code,
        trace=trace,
        contacts=found,
        places=names,
        labels=labels,
        **extra,
    )


@router.post("/healthcode/traces/{number}/contacts/{contact_id}")
def decide_contact(
    number: str, contact_id: RowId, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    confirm = form_str(form, "action") == "confirm"
    try:
        tracing.decide(
            session, settings, page.principal, number, contact_id, confirm, form_str(form, "reason"), utcnow()
        )
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _trace_page(page, session, settings, number, exc.status_code, error=exc)
    return RedirectResponse(f"/healthcode/traces/{number}", status_code=303)


@router.post("/healthcode/traces/{number}/close")
def close_trace(
    number: str, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        tracing.close(session, settings, page.principal, number, form_str(form, "note"), utcnow())
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _trace_page(page, session, settings, number, exc.status_code, error=exc)
    return RedirectResponse(f"/healthcode/traces/{number}", status_code=303)


# --- the epidemic situation (staff; aggregates only, suppressed) --------------------------------------------


@router.get("/healthcode/situation")
def situation_page(
    page: SignedInPage, session: DbSession, settings: AppSettings, day: str = "", district: str = ""
) -> Response:
    """Live, or a past day's; scans by street when a district is chosen. A bad choice shows live figures
    with the problem named."""
    assert page.principal is not None
    names = divisions.districts(settings.city_division)
    now, error = utcnow(), None
    chosen_day, chosen_district = None, district if district in names else None
    try:
        if district and chosen_district is None:
            raise Invalid(
                M_("%(district)s is not a district of the city", district=district[:8]), field="district"
            )
        if day:
            chosen_day = date.fromisoformat(day[:10])
            if not now.date() - timedelta(days=366) <= chosen_day <= now.date():
                raise Invalid(M_("a day within the last year"), field="day")
    except (ValueError, Invalid) as exc:
        error = exc if isinstance(exc, Invalid) else Invalid(M_("a day within the last year"), field="day")
        chosen_day = None
    found = situation.situation(session, settings, now, chosen_day, chosen_district)
    try:
        oversight.area_of(session, settings, page.principal)
        has_area = True
    except Forbidden:
        has_area = False
    return page.render(
        "hc_situation.html",
        status_code=error.status_code if error else 200,
        found=found,
        names=names,
        error=error,
        day=chosen_day,
        has_area=has_area,
    )


# --- district and street staff: their area, aggregates; people only under a grant -----------------------


@router.get("/healthcode/area")
def area_page(page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    assert page.principal is not None
    area = oversight.area_of(session, settings, page.principal)
    found = oversight.overview(session, settings, area)
    try:
        oversight.drill_grant(session, settings, page.principal)
        may_drill = True
    except Forbidden:
        may_drill = False
    return page.render(
        "hc_area.html",
        found=found,
        names=divisions.districts(settings.city_division),
        enterprises=oversight.enterprises_in(session, area),
        may_drill=may_drill,
    )


@router.get("/healthcode/area/{number}")
def area_drill_down(number: str, page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    """One enterprise's employees — only under the department's grant on the health-code resource."""
    assert page.principal is not None
    area = oversight.area_of(session, settings, page.principal)
    application, employees = oversight.drill_down(session, settings, page.principal, area, number, utcnow())
    session.commit()  # the accesses are recorded before the page shows anyone
    return page.render("hc_area_people.html", application=application, employees=employees)


# --- enterprises: resumption applications (复工复产申报) and the enterprise's code (一企一码) ---------------


def _enterprise(page: CitizenPage) -> Any:
    citizen = page.citizen
    if citizen is None or not citizen.is_enterprise:
        raise NotFound(M_("this page is for enterprises signed in by their credit code"))
    return citizen


@router.get(PREFIX + "/resumption")
def resumption_page(page: CitizenPage, session: DbSession) -> Response:
    return _resumption_page(page, session)


def _resumption_page(page: CitizenPage, session: DbSession, status_code: int = 200, **extra: Any) -> Response:
    citizen = _enterprise(page)
    current = resumptions.latest(session, citizen.subject)
    counts = resumptions.colour_counts(session, current) if current else None
    extra.setdefault("values", {})
    return page.render("hc_resumption.html", status_code=status_code, current=current, counts=counts, **extra)


@router.post(PREFIX + "/resumption")
async def apply_resumption(
    request: Request, page: CitizenPage, session: DbSession, settings: AppSettings
) -> Response:
    """The application: site, measures, attachments and the employees — imported from the enterprise's own
    social insurance records through the platform, or a list each of whose lines is checked there."""
    citizen = _enterprise(page)
    try:
        form = await request.form(max_files=1 + resumptions.MAX_ATTACHMENTS + 1, max_fields=20)
    except Exception as exc:  # multipart parser errors: a malformed body
        raise ZhongtaiError(M_("malformed form body: %(exc)s", exc=exc), code="malformed_form") from exc
    check_csrf(page, form)
    values = {name: form_str(form, name) for name in ("site", "street", "measures", "source")}
    try:
        files = [
            (f.filename, await f.read(resumptions.MAX_ATTACHMENT_BYTES + 1))
            for f in form.getlist("attachments")
            if isinstance(f, StarletteUpload) and f.filename
        ]
        attachments = resumptions.check_attachments(files)
        source = values["source"] or resumptions.FROM_UPLOAD
        check = request.app.state.identity
        if source == resumptions.FROM_SOCIAL_INSURANCE:
            listed = resumptions.from_insured(await check.insured(citizen.name, end_user=citizen.subject))
        elif source == resumptions.FROM_UPLOAD:
            listed = await _uploaded_employees(form.get("employees"), check, citizen.subject)
        else:
            raise Invalid(M_("import the employees from social insurance or upload a list"), field="source")
        who = (citizen.subject, citizen.name)
        resumptions.apply(
            session,
            settings,
            who,
            values["site"],
            values["street"],
            values["measures"],
            listed,
            utcnow(),
            source,
            attachments,
        )
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        return _resumption_page(page, session, exc.status_code, error=exc, values=values)
    return RedirectResponse(f"{PREFIX}/resumption", status_code=303)


async def _uploaded_employees(upload: Any, check: Any, end_user: str) -> list[resumptions.Listed]:
    """The uploaded list, each line's name and ID number checked against the population base."""
    if not isinstance(upload, StarletteUpload) or not upload.filename:
        raise Invalid(M_("attach the employee list (CSV or XLSX)"), field="employees")
    listed = resumptions.read_employees(upload.filename, await upload.read(resumptions.MAX_FILE_BYTES + 1))
    for employee in listed:
        if not await check.name_matches(employee.id_number, employee.name, end_user=end_user):
            raise Invalid(
                M_(
                    "line %(line)s: the name and ID number are not in the population register",
                    line=employee.line,
                ),
                field="employees",
            )
    return listed


@router.get(PREFIX + "/enterprise-code")
def enterprise_code(page: CitizenPage, session: DbSession, settings: AppSettings) -> Response:
    citizen = _enterprise(page)
    who = (citizen.subject, citizen.name, citizen.masked_id)
    text, colour, reasons = resumptions.code_text(session, settings, who, utcnow())
    return page.render("hc_enterprise_code.html", text=text, svg=qr_svg(text), colour=colour, reasons=reasons)


@router.get("/healthcode/resumptions")
def resumption_queue(page: SignedInPage, session: DbSession, settings: AppSettings) -> Response:
    assert page.principal is not None
    found = resumptions.queue(session, settings, page.principal)
    return page.render("hc_resumptions.html", applications=found, error=None, today=utcnow().date())


@router.get("/healthcode/resumptions/{number}/files/{sha256}")
def resumption_file(
    number: str, sha256: str, page: SignedInPage, session: DbSession, settings: AppSettings
) -> Response:
    """An attachment, for the regulator deciding the application (recorded)."""
    assert page.principal is not None
    application = resumptions.visible_application(session, settings, page.principal, number)
    path, name, media_type = resumptions.attachment_path(settings, application, sha256)
    audit.record(session, page.principal, "healthcode.resumption.file_read", "resumption", number, {})
    session.commit()
    return FileResponse(path, media_type=media_type, filename=name, content_disposition_type="inline")


@router.post("/healthcode/resumptions/{number}")
def decide_resumption(
    number: str, page: SignedInPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    try:
        resumptions.decide(
            session,
            settings,
            page.principal,
            number,
            form_str(form, "action"),
            form_str(form, "reason"),
            utcnow(),
        )
    except ZhongtaiError as exc:
        if not refusal_to_show(exc):
            raise
        session.rollback()
        found = resumptions.queue(session, settings, page.principal)
        return page.render(
            "hc_resumptions.html",
            status_code=exc.status_code,
            applications=found,
            error=exc,
            today=utcnow().date(),
        )
    return RedirectResponse("/healthcode/resumptions", status_code=303)
