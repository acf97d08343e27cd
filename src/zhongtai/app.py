"""The ASGI application: lifespan (engine, migration gate), middleware, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from zhongtai import __version__
from zhongtai.auditing import auth as audit_auth
from zhongtai.auditing import endpoints as audit_api
from zhongtai.auditing import pages as audit_pages
from zhongtai.capabilities import auth as capability_auth
from zhongtai.capabilities import endpoints as capability_api
from zhongtai.capabilities import pages as capability_pages
from zhongtai.catalog import auth as catalog_auth
from zhongtai.catalog import endpoints as catalog_api
from zhongtai.catalog import pages as catalog_pages
from zhongtai.core import heap
from zhongtai.core.context import current_request_id
from zhongtai.core.database import REQUEST_SLOTS, build_engine, build_sessionmaker, ensure_migrated
from zhongtai.core.errors import ERROR_BODY, M_, ZhongtaiError, validation_text
from zhongtai.core.i18n import accepted_language, error_text, pick_language
from zhongtai.core.identity import endpoints as identity_api
from zhongtai.core.identity import pages as identity_pages
from zhongtai.core.jobs import build_queue
from zhongtai.core.settings import Settings, get_settings
from zhongtai.core.web import (
    CSRF_FIELD,
    LANG_COOKIE,
    AbilityCheck,
    LoginRequired,
    abilities,
    language_links,
    templates,
)
from zhongtai.figures import build_feeds
from zhongtai.gateway import app as gateway
from zhongtai.governance import auth as governance_auth
from zhongtai.governance import endpoints as governance_api
from zhongtai.governance import pages as governance_pages
from zhongtai.healthcode import areas as healthcode_areas
from zhongtai.healthcode import corrections as healthcode_corrections
from zhongtai.healthcode import endpoints as healthcode_api
from zhongtai.healthcode import epidemic_pages as healthcode_epidemic_pages
from zhongtai.healthcode import pages as healthcode_pages
from zhongtai.healthcode import persons as healthcode_persons
from zhongtai.healthcode import places as healthcode_places
from zhongtai.healthcode import resumptions as healthcode_resumptions
from zhongtai.home import pages as home_pages
from zhongtai.ingest import auth as ingest_auth
from zhongtai.ingest import endpoints as ingest_api
from zhongtai.ingest import pages as ingest_pages
from zhongtai.licences import endpoints as licences_api
from zhongtai.licences import pages as licences_pages
from zhongtai.opendata import applications as opendata_applications
from zhongtai.opendata import endpoints as opendata_api
from zhongtai.opendata import mpages as opendata_mpages
from zhongtai.opendata import pages as opendata_pages
from zhongtai.ops import endpoints as ops_api
from zhongtai.ops.middleware import (
    AdmissionMiddleware,
    BodyLimitMiddleware,
    JsonDepthMiddleware,
    RequestContextMiddleware,
)
from zhongtai.orgs import auth as orgs_auth
from zhongtai.orgs import endpoints as orgs_api
from zhongtai.orgs import pages as orgs_pages
from zhongtai.orgs import service as orgs_service
from zhongtai.public import pages as public_pages
from zhongtai.public.auth import PREFIX as PUBLIC_PREFIX
from zhongtai.public.auth import CitizenLoginRequired, PersonsOnly
from zhongtai.public.identity import GatewayIdentityCheck
from zhongtai.requirements import auth as requirements_auth
from zhongtai.requirements import endpoints as requirements_api
from zhongtai.requirements import pages as requirements_pages
from zhongtai.screen import auth as screen_auth
from zhongtai.screen import endpoints as screen_api
from zhongtai.screen import pages as screen_pages
from zhongtai.screen.hub import Hub, local_alerts
from zhongtai.services import endpoints as services_api
from zhongtai.services import mpages as services_mpages
from zhongtai.services import pages as services_pages
from zhongtai.sharing import auth as sharing_auth
from zhongtai.sharing import endpoints as sharing_api
from zhongtai.sharing import pages as sharing_pages
from zhongtai.tasks import register_all

log = logging.getLogger("zhongtai.app")

API_PREFIXES = ("/api/", "/gw/", "/healthz", "/metrics", "/openapi.json")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIXES)


def error_response(
    request: Request, status: int, code: str, message: str, field: str | None = None
) -> Response:
    if wants_json(request):
        said = error_text(accepted_language(request.headers.get("accept-language")), message)
        body: dict[str, Any] = {"error": {"code": code, "message": said, "field": field}}
        if status >= 500:
            body["error"]["request_id"] = current_request_id()
        return JSONResponse(body, status_code=status)
    lang = pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "lang": lang,
            "zone": request.app.state.settings.zone,
            "principal": getattr(request.state, "principal", None),
            "can": abilities(request, getattr(request.state, "principal", None)),
            "status": status,
            "code": code,
            "message": error_text(lang, message),
            "path": request.url.path,
            "lang_links": language_links(request),
            "request_id": current_request_id(),
            "csrf_token": "",
            "csrf_field": CSRF_FIELD,
        },
        status_code=status,
    )


# Starlette's and FastAPI's own messages, as templates the errors catalog translates.
FRAMEWORK_PHRASES = {
    "Not Found": M_("Not Found"),
    "Method Not Allowed": M_("Method Not Allowed"),
    "There was an error parsing the body": M_("There was an error parsing the body"),
}


def _field_of(loc: Any) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ZhongtaiError)
    async def domain_error(request: Request, exc: ZhongtaiError) -> Response:
        response = error_response(request, exc.status_code, exc.code, exc.message, exc.field)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field_of(first.get("loc", ()))
        return error_response(request, 422, "validation_error", validation_text(first, field), field)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        log.info("integrity conflict", extra={"detail": str(exc.orig)[:200]})
        return error_response(
            request, 409, "conflict", M_("the change conflicts with existing data; retry it")
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(CitizenLoginRequired)
    async def citizen_login_required(request: Request, exc: CitizenLoginRequired) -> Response:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PUBLIC_PREFIX}/login?{urlencode({'next': wanted})}", status_code=303)

    @app.exception_handler(PersonsOnly)
    async def persons_only(request: Request, exc: PersonsOnly) -> Response:
        return RedirectResponse(f"{PUBLIC_PREFIX}/services", status_code=303)  # an enterprise's home

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )  # FastAPI's own 400 is its body parser's: the body is not JSON it can read
        detail = str(exc.detail)
        response = error_response(request, exc.status_code, code, FRAMEWORK_PHRASES.get(detail, detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on 405
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):  # gone (or refused mid-body with 413): nobody to answer
            return Response(status_code=499)
        log.exception("unhandled error")
        return error_response(
            request, 500, "internal_error", M_("internal error; quote the request id to support")
        )


ERROR_STATUSES = {
    "400": "Malformed request (e.g. a body that is not JSON, or nested too deeply)",
    "401": "Missing, invalid, expired or revoked API token",
    "403": "The token's user may not do this",
    "404": "No such thing, or none the caller may see",
    "409": "Conflicts with the current state or with existing data",
    "413": "Request body over the limit",
    "422": "Well-formed request whose content breaks a rule",
}


def _error_responses(operation: dict[str, Any], method: str) -> None:
    """The error statuses an operation can answer with, each with the platform's error body."""
    statuses = ["404", "422"]
    if operation.get("security"):
        statuses += ["401", "403"]
    if method in ("post", "put", "patch", "delete"):
        statuses += ["409"]
    if "requestBody" in operation:
        statuses += ["400", "413"]
    responses = operation.setdefault("responses", {})
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status in statuses:
        responses.setdefault(status, {"description": ERROR_STATUSES[status], "content": body})


def document_error_bodies(app: FastAPI) -> None:
    """Make the OpenAPI say what the server does: our error body (not FastAPI's ``detail``) for a 422, and
    every error status an operation may answer with."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Error"] = ERROR_BODY
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_BODY
                schemas.pop("ValidationError", None)
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if path.startswith("/api/"):
                        _error_responses(operation, method)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


ADMISSION_WAIT_SECONDS = 15.0
UNADMITTED = ("/static", "/healthz", "/metrics")


def admission_exempt(path: str) -> bool:
    """Static files and probes: no database work to wait for."""
    return path.startswith(UNADMITTED)


class Platform(FastAPI):
    """The platform's application. A path under one of ``direct``'s prefixes (the gateway's ``/gw/``) goes
    straight to its ASGI handler, before FastAPI's own layers (telemetry, error and body-limit middleware,
    routing): the gateway keeps its own limits, errors, request ids and metrics, and those layers' send
    wrappers and telemetry checks were over a tenth of a gateway call in a profile."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.direct: list[tuple[str, ASGIApp]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for prefix, handler in self.direct:
                if scope["path"].startswith(prefix):
                    scope["app"] = self
                    await handler(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


# What pages ask before showing a link, button or form (``can('audit.read')``); the server still checks
# every request, and answers a crafted one with 403.
ABILITIES: dict[str, AbilityCheck] = {
    "audit.read": audit_auth.may_read_audit,
    "catalog.register": catalog_auth.may_register_any,
    "systems.register": orgs_auth.may_register_systems,
    "ingest.manage": ingest_auth.may_manage_any,
    "sharing.apply": sharing_auth.may_apply,
    "base.read": governance_auth.may_read_base,
    "elements.define": governance_auth.may_define,
    "apps.build": capability_auth.may_build_apps,
    "requirements.file": requirements_auth.may_file,
    "places.decide": healthcode_places.may_decide_any,
    "corrections.answer": healthcode_corrections.may_answer_any,
    "persons.look_up": healthcode_persons.may_look_up,
    "areas.declare": lambda principal: healthcode_areas.may_declare(principal, get_settings()),
    "resumptions.decide": lambda principal: healthcode_resumptions.may_decide(principal, get_settings()),
    "raw.read": ingest_auth.may_read_raw_of,
    "screen.watch": lambda principal: screen_auth.may_watch(principal, get_settings()),
    "screen.links": screen_auth.may_manage_links,
    "open.manage": opendata_applications.may_manage_any,
    "screen.only": screen_auth.screen_only,  # with the row's department: raw, clean and governed data
}


def create_app(settings: Settings | None = None) -> Platform:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings.resolved_database_url)
        ensure_migrated(engine)
        app.state.engine = engine
        app.state.sessionmaker = build_sessionmaker(engine)
        app.state.jobs = build_queue(settings, app.state.sessionmaker, register_all)
        app.state.screen = Hub(
            app.state.sessionmaker, settings, build_feeds(settings), local_alerts(app.state)
        )
        heap.settle()
        yield
        heap.release()
        await app.state.screen.close()
        runtime = getattr(app.state, "gateway", None)
        if runtime is not None:
            await runtime.close()
        engine.dispose()

    app = Platform(
        title="Zhongtai city platform API",
        version=__version__,
        description="城市中台 REST API. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `zhongtai users token NAME` or on the API tokens page).",
        lifespan=lifespan,
        docs_url=None,  # served below from the installed swagger-ui-bundle, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.names = orgs_service.names  # pages show department and system names, not codes
    app.state.abilities = ABILITIES
    app.state.identity = GatewayIdentityCheck(settings, app)  # real-name checks through the gateway
    install_error_handlers(app)
    for router in (
        ops_api.router,
        identity_api.router,
        orgs_api.router,
        catalog_api.router,
        ingest_api.router,
        governance_api.router,
        sharing_api.router,
        capability_api.router,
        requirements_api.router,
        audit_api.router,
        healthcode_api.router,
        services_api.router,
        licences_api.router,
        screen_api.router,
        opendata_api.router,
        opendata_api.api,
        identity_pages.router,
        orgs_pages.router,
        catalog_pages.router,
        ingest_pages.router,
        governance_pages.router,
        sharing_pages.router,
        capability_pages.router,
        requirements_pages.router,
        audit_pages.router,
        home_pages.router,
        public_pages.router,
        healthcode_pages.router,
        healthcode_epidemic_pages.router,
        services_pages.router,
        services_mpages.router,
        licences_pages.router,
        screen_pages.router,
        opendata_pages.router,
        opendata_mpages.router,
    ):
        app.include_router(router)
    if settings.env != "production":  # the demo city's health-commission system, never in production
        from zhongtai.demo import backend, province, subscriber

        app.include_router(subscriber.router)
        app.include_router(province.router)
        app.include_router(backend.router)
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(packages=[("zhongtai", "web/static")]), name="static")
    app.add_middleware(JsonDepthMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        large_paths=ingest_api.UPLOAD_PATH,
        large_max_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(
        AdmissionMiddleware, slots=REQUEST_SLOTS, wait_seconds=ADMISSION_WAIT_SECONDS, exempt=admission_exempt
    )
    app.add_middleware(RequestContextMiddleware)
    app.direct.append((gateway.PREFIX, gateway.dispatch))

    document_error_bodies(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Zhongtai API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    return app
