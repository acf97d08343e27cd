"""Who is on a public page: a citizen by their own signed cookie and server-side session (apart from staff
sessions), or nobody. CSRF as on staff pages: a signed-in citizen's token is their session's."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature, Signer

from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.i18n import pick_language
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.web import CSRF_COOKIE, LANG_COOKIE, PageContext
from zhongtai.public import service
from zhongtai.public.service import CitizenPrincipal

CITIZEN_COOKIE = "zt_citizen"
PREFIX = "/m"


class CitizenLoginRequired(Exception):
    """A public page needs a signed-in citizen; the handler redirects to the public sign-in."""


class PersonsOnly(Exception):
    """A person's page (health code, family, places …) asked for by a signed-in enterprise: the handler
    sends it to its own pages (services, licences, its data)."""


# Pages for persons only; an enterprise's code and resumption come with the health code's second part.
PERSONS_ONLY = ("/m/code", "/m/family", "/m/checkin", "/m/travel", "/m/corrections", "/m/places", "/m/visit")


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt="zhongtai.citizen-session")


def sign_token(settings: Settings, token: str) -> str:
    return _signer(settings).sign(token).decode()


def unsign_token(settings: Settings, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        return _signer(settings).unsign(cookie).decode()
    except BadSignature:
        return None


@dataclass
class PublicPage(PageContext):
    citizen: CitizenPrincipal | None = None

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("demo_inbox", self.request.app.state.settings.env != "production")
        response = super().render(name, status_code, citizen=self.citizen, **context)
        response.headers["Cache-Control"] = "no-store"  # a person's code and details: never from a cache
        return response

    def set_session(self, response: Response, token: str) -> None:
        settings: Settings = self.request.app.state.settings
        response.set_cookie(
            CITIZEN_COOKIE,
            sign_token(settings, token),
            max_age=settings.public_session_hours * 3600,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
        )

    def end_session(self, response: Response) -> None:
        settings: Settings = self.request.app.state.settings
        response.delete_cookie(CITIZEN_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies)


def public_page(request: Request, session: DbSession, settings: AppSettings) -> PublicPage:
    lang = pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))
    token = unsign_token(settings, request.cookies.get(CITIZEN_COOKIE))
    citizen = service.signed_in(session, settings, token, utcnow()) if token else None
    if citizen is not None:
        return PublicPage(request, lang, None, citizen.csrf_token, session, citizen=citizen)
    cookie_csrf = request.cookies.get(CSRF_COOKIE)
    if cookie_csrf:
        return PublicPage(request, lang, None, cookie_csrf, session)
    return PublicPage(request, lang, None, secrets.token_urlsafe(32), session, new_csrf_cookie=True)


Public = Annotated[PublicPage, Depends(public_page)]


async def citizen_page(page: Public) -> PublicPage:
    if page.citizen is None:
        raise CitizenLoginRequired()
    if page.citizen.is_enterprise and page.request.url.path.startswith(PERSONS_ONLY):
        raise PersonsOnly()
    return page


CitizenPage = Annotated[PublicPage, Depends(citizen_page)]


def session_token(request: Request) -> str | None:
    return unsign_token(request.app.state.settings, request.cookies.get(CITIZEN_COOKIE))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
