"""Sign-in, sign-out and API token pages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from zhongtai.core import audit
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.i18n import N_
from zhongtai.core.identity import service
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.service import LoginResult, principal_for
from zhongtai.core.web import (
    SESSION_COOKIE,
    Form,
    Page,
    SignedInPage,
    check_csrf,
    form_str,
    sign_session_token,
    unsign_session_token,
)

router = APIRouter(include_in_schema=False)


def safe_next(target: str) -> str:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(page: Page, next: str = "/") -> Response:
    return page.render("login.html", next=safe_next(next), error=None, username="")


@router.post("/login")
def login(page: Page, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    username = form_str(form, "username")[:64]
    outcome = service.authenticate(session, settings, username, str(form.get("password") or ""))
    target = safe_next(form_str(form, "next") or "/")
    if outcome.result is not LoginResult.OK or outcome.user is None:
        key = N_("login.locked") if outcome.result is LoginResult.LOCKED else N_("login.invalid")
        audit.record(session, None, "identity.login.failed", "user", username or "-", outcome="failure")
        # Rendered (not raised) so the failure counter commits with this request.
        return page.render("login.html", status_code=401, next=target, error=key, username=username)
    token, _ = service.start_session(session, settings, outcome.user)
    audit.record(session, principal_for(outcome.user, settings), "identity.login", "user", username)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sign_session_token(settings, token),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(page: SignedInPage, form: Form, session: DbSession, settings: AppSettings) -> Response:
    check_csrf(page, form)
    token = unsign_session_token(settings, page.request.cookies.get(SESSION_COOKIE))
    if token:
        service.end_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/tokens")
def tokens(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None and page.principal.user_id is not None
    rows = IdentityRepository(session).tokens_of(page.principal.user_id)
    made = page.take_secret()  # right after a new token was made: its secret, this once
    return page.render("tokens.html", tokens=rows, new_token=made.get("token") if made else None)


@router.post("/tokens")
def create_token(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    principal = page.principal
    assert principal is not None and principal.user_id is not None
    repo = IdentityRepository(session)
    user = repo.user_by_id(principal.user_id)
    assert user is not None
    name = form_str(form, "name")[:100] or "web"
    secret, _ = service.issue_token(session, principal, user, name)
    return page.redirect_with_secret("/tokens", {"token": secret})


@router.post("/tokens/{token_id}/revoke")
def revoke_token(page: SignedInPage, form: Form, session: DbSession, token_id: RowId) -> Response:
    check_csrf(page, form)
    assert page.principal is not None and page.principal.user_id is not None
    service.revoke_token(session, page.principal, page.principal.user_id, token_id)
    return RedirectResponse("/tokens", status_code=303)
