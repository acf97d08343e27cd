"""The public side's pages under ``/m`` (mobile-first, Chinese first): real-name sign-in with a one-time
code, family members, sign-out, and (outside production) the demo inbox of text messages."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from zhongtai.auditing import mydata
from zhongtai.core.errors import M_, NotFound, TooManyAttempts, Unauthenticated, ZhongtaiError
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.web import Form, check_csrf, form_str, refusal_to_show
from zhongtai.licences import service as licences
from zhongtai.public import schemas, service
from zhongtai.public.auth import PREFIX, CitizenPage, Public, PublicPage, client_address, session_token
from zhongtai.public.identity import IdentityCheck
from zhongtai.public.repository import PublicRepository
from zhongtai.public.sms import Sender, sender_for
from zhongtai.sharing.masking import mask_mobile

router = APIRouter(include_in_schema=False)


def identity_of(request: Request) -> IdentityCheck:
    check: IdentityCheck = request.app.state.identity
    return check


def sender_of(request: Request, settings: Settings) -> Sender:
    return getattr(request.app.state, "sms", None) or sender_for(settings)


def _shown(exc: ZhongtaiError) -> bool:
    """Refusals a public form answers with itself (what was typed kept, the problem beside its field)."""
    return refusal_to_show(exc) or isinstance(exc, Unauthenticated | TooManyAttempts)


def _refused(page: PublicPage, template: str, exc: ZhongtaiError, **context: object) -> Response:
    response = page.render(template, status_code=exc.status_code, error=exc, **context)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.get(PREFIX)
def public_home(page: Public) -> Response:
    if page.citizen is None:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    return RedirectResponse(
        f"{PREFIX}/services" if page.citizen.is_enterprise else f"{PREFIX}/code", status_code=303
    )


def next_page(wanted: str) -> str:
    """Where to go after sign-in: a public page asked for (never another site or a staff page)."""
    ok = wanted.startswith(PREFIX + "/") and not wanted.startswith("//") and "\\" not in wanted
    return wanted if ok else f"{PREFIX}/code"


@router.get(PREFIX + "/login")
def login_form(page: Public, next: str = "") -> Response:
    if page.citizen is not None:
        return RedirectResponse(next_page(next), status_code=303)
    return page.render("m_login.html", values={"next": next_page(next)})


@router.post(PREFIX + "/login")
async def login(
    request: Request, page: Public, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """Step 1: ID number, name and mobile checked against the household register, then a code sent."""
    check_csrf(page, form)
    values = {name: form_str(form, name) for name in ("id_number", "name", "mobile", "next")}
    now = utcnow()
    try:
        person = (
            schemas.id_number_of(values["id_number"]),
            schemas.name_of(values["name"]),
            schemas.mobile_of(values["mobile"]),
        )
        keys = service.lockout_keys(settings, person[0], client_address(request))
        service.check_not_locked(session, settings, keys, now)
        end_user = person_subject(settings, person[0])
        if not await identity_of(request).matches(*person, end_user=end_user):
            service.count_failure(session, keys, now)
            return _refused(page, "m_login.html", service.no_match(), values=values)
        pending = service.begin(session, settings, sender_of(request, settings), person, now)
    except ZhongtaiError as exc:
        if _shown(exc):
            return _refused(page, "m_login.html", exc, values=values)
        raise
    after = next_page(values["next"])
    return page.render("m_code_entry.html", pending=pending, mobile=mask_mobile(person[2]), after=after)


@router.get(PREFIX + "/login/enterprise")
def enterprise_login_form(page: Public, next: str = "") -> Response:
    if page.citizen is not None:
        return RedirectResponse(next_page(next), status_code=303)
    return page.render("m_login_enterprise.html", values={"next": next_page(next)})


ENTERPRISE_FIELDS = ("credit_code", "representative", "representative_id", "mobile", "next")


@router.post(PREFIX + "/login/enterprise")
async def enterprise_login(
    request: Request, page: Public, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """An enterprise: its credit code, its legal representative's name and ID number, and the registered
    mobile, checked against the legal-entity base; then a code to that mobile."""
    check_csrf(page, form)
    values = {name: form_str(form, name) for name in ENTERPRISE_FIELDS}
    now = utcnow()
    try:
        credit = schemas.credit_code_of(values["credit_code"])
        representative = schemas.name_of(values["representative"], "representative")
        representative_id = schemas.id_number_of(values["representative_id"], "representative_id")
        mobile = schemas.mobile_of(values["mobile"])
        subject = entity_subject(credit)
        keys = [service.person_key(subject), service.address_key(settings, client_address(request))]
        service.check_not_locked(session, settings, keys, now)
        check = identity_of(request).entity_matches
        if not await check(credit, representative, representative_id, mobile, end_user=subject):
            service.count_failure(session, keys, now)
            return _refused(page, "m_login_enterprise.html", service.no_match(), values=values)
        name = licences.holder_name(session, subject) or credit
        pending = service.begin_enterprise(
            session, settings, sender_of(request, settings), (credit, name, mobile), now
        )
    except ZhongtaiError as exc:
        if _shown(exc):
            return _refused(page, "m_login_enterprise.html", exc, values=values)
        raise
    after = next_page(values["next"] or f"{PREFIX}/services")
    return page.render("m_code_entry.html", pending=pending, mobile=mask_mobile(mobile), after=after)


@router.post(PREFIX + "/login/code")
def login_code(
    request: Request, page: Public, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """Step 2: the one-time code; a wrong one counts toward the person's and the address's lockout."""
    check_csrf(page, form)
    pending, typed, after = (
        form_str(form, "pending"),
        form_str(form, "code"),
        next_page(form_str(form, "next")),
    )
    now = utcnow()
    subject = service.pending_subject(session, pending) or "unknown"
    keys = [service.person_key(subject), service.address_key(settings, client_address(request))]
    try:
        service.check_not_locked(session, settings, keys, now)
        _citizen, token = service.finish(session, settings, pending, schemas.code_of(typed), now)
    except ZhongtaiError as exc:
        if not _shown(exc):
            raise
        if exc.code in ("code_wrong", "code_expired", "code_void"):
            service.count_failure(session, keys, now)
        return _refused(page, "m_code_entry.html", exc, pending=pending, mobile="", after=after)
    response = RedirectResponse(after, status_code=303)
    page.set_session(response, token)
    return response


@router.post(PREFIX + "/logout")
def logout(request: Request, page: CitizenPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    token = session_token(request)
    if token:
        service.sign_out(session, token)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    page.end_session(response)
    return response


@router.get(PREFIX + "/family")
def family_page(page: CitizenPage, session: DbSession) -> Response:
    assert page.citizen is not None
    return page.render("m_family.html", members=service.family(session, page.citizen), values={})


@router.post(PREFIX + "/family")
async def add_family(
    request: Request, page: CitizenPage, form: Form, session: DbSession, settings: AppSettings
) -> Response:
    """A family member is added only when the household register shows them in the citizen's household;
    the same answer whether the person is unknown or lives elsewhere."""
    check_csrf(page, form)
    citizen = page.citizen
    assert citizen is not None
    values = {name: form_str(form, name) for name in ("id_number", "name", "relation")}
    now = utcnow()
    try:
        member = (schemas.id_number_of(values["id_number"]), schemas.name_of(values["name"]))
        relation = schemas.relation_of(values["relation"])
        keys = [
            service.person_key(citizen.subject),
            *service.lockout_keys(settings, member[0], client_address(request)),
        ]
        service.check_not_locked(session, settings, keys, now)
        me = service.myself(session, settings, citizen)
        household = await identity_of(request).household(me.id_number, end_user=citizen.subject)
        member_subject = person_subject(settings, member[0])
        same = household is not None and await identity_of(request).in_household(
            *member, household, end_user=member_subject
        )
        if not same:
            service.count_failure(session, keys, now)
            raise _not_same_household()
        service.add_family(session, settings, citizen, member, relation, now)
    except ZhongtaiError as exc:
        if _shown(exc):
            members = service.family(session, citizen)
            return _refused(page, "m_family.html", exc, members=members, values=values)
        raise
    return RedirectResponse(f"{PREFIX}/family", status_code=303)


def _not_same_household() -> Unauthenticated:
    return Unauthenticated(
        M_(
            "the household register does not show this person in your household (or the name does not "
            "match): only members of your own household can be added"
        ),
        code="not_same_household",
    )


@router.post(PREFIX + "/family/{member_id}/remove")
def remove_family(member_id: int, page: CitizenPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.citizen is not None
    service.remove_family(session, page.citizen, member_id)
    return RedirectResponse(f"{PREFIX}/family", status_code=303)


@router.get(PREFIX + "/inbox")
def demo_inbox(page: Public, session: DbSession, settings: AppSettings) -> Response:
    """Development only: the text messages the development sender 'sent' in the last hour."""
    if settings.env == "production":
        raise NotFound(M_("Not Found"))
    messages = _recent_messages(session)
    return page.render("m_inbox.html", messages=messages)


def _recent_messages(session: Session) -> list[tuple[str, str, object]]:
    found = PublicRepository(session).inbox(utcnow() - timedelta(hours=1))
    return [(mask_mobile(m.mobile), m.text, m.sent_at) for m in found]


# --- 我的数据被谁用了: the accesses that name me, and objections -------------------------------------


@router.get(PREFIX + "/my-data")
def my_data(page: CitizenPage, session: DbSession, before: int | None = None) -> Response:
    assert page.citizen is not None
    return _my_data_page(page, session, before)


def _my_data_page(
    page: PublicPage, session: Session, before: int | None, status_code: int = 200, **extra: object
) -> Response:
    assert page.citizen is not None
    found = mydata.accesses_of(session, page.citizen.subject, before)
    more = found[-1].id if len(found) == mydata.PAGE else None
    objections = mydata.objections_of(session, page.citizen.id)
    return page.render(
        "m_my_data.html", status_code=status_code, accesses=found, more=more, objections=objections, **extra
    )


@router.post(PREFIX + "/my-data/{event_id}/objection")
def object_to(event_id: int, page: CitizenPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    citizen = page.citizen
    assert citizen is not None
    try:
        mydata.object_to(session, (citizen.id, citizen.subject), event_id, form_str(form, "text"), utcnow())
    except ZhongtaiError as exc:
        if not (_shown(exc) or exc.status_code == 404):
            raise
        return _my_data_page(page, session, None, exc.status_code, error=exc)
    return RedirectResponse(f"{PREFIX}/my-data#objections", status_code=303)
