"""Server-rendered pages: templates, the signed session cookie, page login and CSRF checks."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, Signer
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from zhongtai.core.crypto import OpaqueTokens
from zhongtai.core.errors import M_, Forbidden, Invalid, ZhongtaiError, validation_text
from zhongtai.core.formatting import FILTERS, Names
from zhongtai.core.http import AppSettings, DbSession
from zhongtai.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, pick_language, translations
from zhongtai.core.identity.service import session_principal
from zhongtai.core.principal import Principal
from zhongtai.core.security import same
from zhongtai.core.settings import Settings

SESSION_COOKIE = "zt_session"
CSRF_COOKIE = "zt_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "csrf_token"
# A secret made by a form travels to the page the form redirects to in this cookie, sealed, and is shown
# there once (post/redirect/get: reloading that page neither shows it again nor repeats the POST).
FLASH_COOKIE = "zt_flash"
FLASH_SECONDS = 300  # the redirect is followed at once; an older one is not shown

_loader = jinja2.ChoiceLoader(
    [
        jinja2.PackageLoader("zhongtai", "web/templates"),
        jinja2.PackageLoader("zhongtai", "catalog/templates"),
        jinja2.PackageLoader("zhongtai", "orgs/templates"),
        jinja2.PackageLoader("zhongtai", "ingest/templates"),
        jinja2.PackageLoader("zhongtai", "governance/templates"),
        jinja2.PackageLoader("zhongtai", "sharing/templates"),
        jinja2.PackageLoader("zhongtai", "auditing/templates"),
        jinja2.PackageLoader("zhongtai", "capabilities/templates"),
        jinja2.PackageLoader("zhongtai", "requirements/templates"),
        jinja2.PackageLoader("zhongtai", "demo/templates"),
        jinja2.PackageLoader("zhongtai", "core/identity/templates"),
        jinja2.PackageLoader("zhongtai", "home/templates"),
        jinja2.PackageLoader("zhongtai", "public/templates"),
        jinja2.PackageLoader("zhongtai", "healthcode/templates"),
        jinja2.PackageLoader("zhongtai", "services/templates"),
        jinja2.PackageLoader("zhongtai", "licences/templates"),
        jinja2.PackageLoader("zhongtai", "screen/templates"),
        jinja2.PackageLoader("zhongtai", "opendata/templates"),
    ]
)


@jinja2.pass_context
def _page_gettext(context: jinja2.runtime.Context, key: str) -> str:
    """The Jinja2 i18n extension's ``gettext``: the page's own language, from its context."""
    return translations(str(context.get("lang", DEFAULT_LANGUAGE))).gettext(key)


@jinja2.pass_context
def _page_ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return translations(str(context.get("lang", DEFAULT_LANGUAGE))).ngettext(singular, plural, n)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_loader, autoescape=True, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"]
    )
    env.install_gettext_callables(_page_gettext, _page_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(FILTERS)
    # ECharts, when `make assets` copied it from npm beside the static files (pages keep their plain lines
    # without it): decided once, as the files are part of the installed package.
    env.globals["vendor_charts"] = (
        resources.files("zhongtai").joinpath("web/static/vendor/echarts.min.js").is_file()
    )
    return env


templates = Jinja2Templates(env=_environment())


def language_links(request: Request) -> dict[str, str]:
    """The page in each language, its other query parameters (filters, paging) kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {lang: "?" + urlencode([*kept, ("lang", lang)]) for lang in LANGUAGES}


# What a signed-in user may do, by name, for pages to show only the links, buttons and forms that can
# succeed; the app registers the checks (``app.state.abilities``), each domain's own ``auth`` functions.
# Some abilities concern one department's data: ``can('raw.read', row.department)``.
AbilityCheck = Callable[[Principal], bool] | Callable[[Principal, str], bool]


def abilities(request: Request, principal: Principal | None) -> Callable[..., bool]:
    checks: dict[str, AbilityCheck] = getattr(request.app.state, "abilities", {})

    def can(name: str, *department_code: str) -> bool:
        check = checks[name]  # a template naming an unknown ability is a bug: fail loudly in tests
        return principal is not None and bool(check(principal, *department_code))

    return can


def page_names(request: Request, session: Session | None) -> Names | None:
    """Codes -> names for the ``named`` filter, from where the app registered (``app.state.names``)."""
    load = getattr(request.app.state, "names", None)
    if load is None or session is None:
        return None
    return Names(lambda: load(session))


def _secrets(settings: Settings) -> OpaqueTokens:
    return OpaqueTokens(settings, b"zhongtai page secrets")


class LoginRequired(Exception):
    """A page needs a signed-in user; the handler redirects to /login."""


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt="zhongtai.session")


def sign_session_token(settings: Settings, token: str) -> str:
    return _signer(settings).sign(token).decode()


def unsign_session_token(settings: Settings, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        return _signer(settings).unsign(cookie).decode()
    except BadSignature:
        return None  # tampered or from another secret: treated as signed out


@dataclass
class PageContext:
    request: Request
    lang: str
    principal: Principal | None
    csrf_token: str
    session: Session | None = None
    new_csrf_cookie: bool = False
    secret_taken: bool = False

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        values = {
            "lang": self.lang,
            "zone": self.request.app.state.settings.zone,
            "names": page_names(self.request, self.session),
            "can": abilities(self.request, self.principal),
            "principal": self.principal,
            "csrf_token": self.csrf_token,
            "csrf_field": CSRF_FIELD,
            "path": self.request.url.path,
            "lang_links": language_links(self.request),
            **context,
        }
        response = templates.TemplateResponse(self.request, name, values, status_code=status_code)
        self.finish(response)
        return response

    def redirect_with_secret(self, path: str, payload: dict[str, Any]) -> RedirectResponse:
        """303 to ``path``, carrying ``payload`` (which holds a secret) for :meth:`take_secret` there: sealed,
        for that path and this user only, for a few minutes."""
        assert self.principal is not None
        settings: Settings = self.request.app.state.settings
        flash = {"user": self.principal.user_id, "path": path, "data": payload}
        sealed = _secrets(settings).seal(json.dumps(flash))
        response = RedirectResponse(path, status_code=303)
        response.set_cookie(
            FLASH_COOKIE,
            sealed,
            max_age=FLASH_SECONDS,
            path=path,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        return response

    def take_secret(self) -> dict[str, Any] | None:
        """What :meth:`redirect_with_secret` sent to this page, if genuine, fresh and this user's; the
        answer drops the cookie and is not cached."""
        sealed = self.request.cookies.get(FLASH_COOKIE)
        if not sealed or self.principal is None:
            return None
        self.secret_taken = True
        opened = _secrets(self.request.app.state.settings).open(sealed, max_age=FLASH_SECONDS)
        flash = json.loads(opened) if opened else None  # sealed by us: JSON
        if not isinstance(flash, dict) or flash.get("user") != self.principal.user_id:
            return None
        if flash.get("path") != self.request.url.path or not isinstance(flash.get("data"), dict):
            return None
        data: dict[str, Any] = flash["data"]
        return data

    def finish(self, response: Response) -> None:
        settings: Settings = self.request.app.state.settings
        if self.secret_taken:  # shown, or refused: either way gone, and never from a cache
            response.headers["Cache-Control"] = "no-store"
            response.delete_cookie(
                FLASH_COOKIE,
                path=self.request.url.path,
                httponly=True,
                samesite="strict",
                secure=settings.secure_cookies,
            )
        if self.new_csrf_cookie:
            response.set_cookie(
                CSRF_COOKIE, self.csrf_token, httponly=True, samesite="strict", secure=settings.secure_cookies
            )
        if self.request.query_params.get("lang") == self.lang:
            response.set_cookie(LANG_COOKIE, self.lang, samesite="lax", max_age=365 * 24 * 3600)


def page_context(request: Request, session: DbSession, settings: AppSettings) -> PageContext:
    lang = pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))
    token = unsign_session_token(settings, request.cookies.get(SESSION_COOKIE))
    found = session_principal(session, settings, token) if token else None
    if found is not None:
        principal, web_session = found
        request.state.principal = principal
        return PageContext(request, lang, principal, web_session.csrf_token, session)
    cookie_csrf = request.cookies.get(CSRF_COOKIE)
    if cookie_csrf:
        return PageContext(request, lang, None, cookie_csrf, session)
    return PageContext(request, lang, None, secrets.token_urlsafe(32), session, new_csrf_cookie=True)


Page = Annotated[PageContext, Depends(page_context)]


async def signed_in_page(page: Page) -> PageContext:
    if page.principal is None:
        raise LoginRequired()
    return page


SignedInPage = Annotated[PageContext, Depends(signed_in_page)]


async def read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=0, max_fields=2000)
    except Exception as exc:  # multipart parser errors: malformed body
        raise ZhongtaiError(M_("malformed form body: %(exc)s", exc=exc), code="malformed_form") from exc


Form = Annotated[FormData, Depends(read_form)]


def check_csrf(page: PageContext, form: FormData) -> None:
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent or page.new_csrf_cookie or not same(sent, page.csrf_token):
        raise Forbidden(
            M_("missing or wrong CSRF token: reload the form and submit it again"), code="csrf_failed"
        )


def form_str(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_json(form: FormData, name: str, empty: str = "{}") -> Any:
    """A form field holding JSON (connection options, mappings, rules); a blank field reads as ``empty``."""
    try:
        return json.loads(form_str(form, name) or empty)
    except json.JSONDecodeError as exc:
        raise Invalid(
            M_(
                "%(name)s: not valid JSON (%(msg)s at line %(lineno)s)",
                name=name,
                msg=exc.msg,
                lineno=exc.lineno,
            ),
            field=name,
        ) from None


def refusal_to_show(exc: ZhongtaiError) -> bool:
    """Whether a form's POST answers this error with the form again (what was typed, the error beside its
    field): a refusal of the content (400, 409, 413, 422). 403/404 and server trouble keep their page."""
    return exc.status_code in (400, 409, 413, 422)


Model = TypeVar("Model", bound=BaseModel)


def validation_message(exc: ValidationError) -> Invalid:
    """A form's first problem as a 422 naming the field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return Invalid(validation_text(first, field), field=field, code="validation_error")


def valid_form(schema: type[Model], values: dict[str, Any]) -> Model:
    """The form's values as ``schema``, or the first problem as a 422 naming the field."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise validation_message(exc) from exc
