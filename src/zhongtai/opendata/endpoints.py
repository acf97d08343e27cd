"""Open data over HTTP: CKAN's Action API under ``/api/3/action/`` (and ``/api/action/``), GET with query
parameters or POST with a JSON body, answered in CKAN's envelope whatever happens; and the downloads of a
dataset's releases (CSV, JSON, XLSX), generated from the released rows."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Forbidden, NotFound, TooManyAttempts
from zhongtai.core.http import ApiPrincipal, DbSession
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.opendata import applications, ckan, dcat, service
from zhongtai.opendata.schemas import (
    ApplicationDecision,
    ApplicationRead,
    ApplicationRevoke,
    DatasetPublish,
    DatasetRead,
)
from zhongtai.public.auth import session_token
from zhongtai.public.service import signed_in

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/open", tags=["open data"])
Number = Annotated[str, PathParam(pattern=r"^KF[0-9]{13}$")]
ANONYMOUS_PER_MINUTE = 600  # calls a minute from one address to the Action API, per server process


class Flood:
    """Calls per client address in the current minute (a fixed window, kept in this process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window = 0
        self.calls: dict[str, int] = {}

    def allow(self, who: str) -> bool:
        window = int(time.time() // 60)
        if window != self.window:
            self.window, self.calls = window, {}
        self.calls[who] = self.calls.get(who, 0) + 1
        return self.calls[who] <= self.per_minute


FLOOD = Flood(ANONYMOUS_PER_MINUTE)


def _envelope(
    request: Request, action: str, result: Any = None, error: ckan.ActionError | None = None
) -> Response:
    base = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {"help": f"{base}/api/3/action/help_show?name={action[:60]}"}
    if error is None:
        body.update(success=True, result=result)
        return Response(orjson.dumps(body), media_type="application/json")
    body.update(success=False, error=error.body())
    return Response(orjson.dumps(body), status_code=error.status, media_type="application/json")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ckan.ActionError("Validation Error", 409, "the request body is not JSON") from None
            if not isinstance(body, dict):
                raise ckan.ActionError("Validation Error", 409, "the request body must be a JSON object")
            params.update(body)
    return params


@router.api_route("/api/3/action/{action}", methods=["GET", "POST"])
@router.api_route("/api/action/{action}", methods=["GET", "POST"])
async def action(request: Request, action: str) -> Response:
    who = request.client.host if request.client else "-"
    if not FLOOD.allow(who):
        limited = ckan.ActionError(
            "Authorization Error", 429, "too many requests; slow down and retry in a minute"
        )
        response = _envelope(request, action, error=limited)
        response.headers["Retry-After"] = "60"
        return response
    run = ckan.ACTIONS.get(action)
    if run is None:
        return _envelope(
            request,
            action,
            error=ckan.ActionError("Bad Request", 400, f"Action name not known: {action[:60]}"),
        )
    try:
        params = await _params(request)
    except ckan.ActionError as exc:
        return _envelope(request, action, error=exc)
    base = str(request.base_url).rstrip("/")
    factory = request.app.state.sessionmaker

    key = applications.key_from_headers(request.headers)

    def answer() -> Any:
        with transaction(factory) as session:
            if run is ckan.datastore_search:  # the one action a key opens more of
                return ckan.datastore_search(session, params, base, api_key=key)
            return run(session, params, base)

    try:
        result = await run_in_threadpool(answer)
    except ckan.ActionError as exc:
        return _envelope(request, action, error=exc)
    return _envelope(request, action, result)


# --- downloads ------------------------------------------------------------------------------------------


@router.get("/open/datasets/{name}/download.{kind}")
def download(
    request: Request, name: str, kind: str, version: int | None = Query(None, ge=1, le=10**6)
) -> Response:
    """A release as CSV, JSON or XLSX (the current version, or ``?version=N``), counted on the dataset. A
    conditionally open dataset's only with the API key of an approved application (``Authorization``), or
    for its signed-in applicant: counted on the application's quota and recorded in the audit trail."""
    if kind not in ckan.FORMATS:
        raise NotFound(M_("no download format %(name)s", name=kind[:10]), code="format_not_found")
    factory = request.app.state.sessionmaker
    with transaction(factory) as session:
        found = service.entry(session, name)
        release = service.release_of(session, found, version)
        if found.dataset.access != "open":
            _allow_conditional(request, session, found, release, kind)
        service.count(session, found.dataset.id, "download")
        session.expunge(release)
        title = found.dataset.title
    mimetype = ckan.FORMATS[kind][1]
    headers = {"Content-Disposition": f'attachment; filename="{name}-v{release.version}.{kind}"'}
    if kind == "xlsx":
        with factory() as session:
            return Response(_xlsx(session, release, title), media_type=mimetype, headers=headers)
    return StreamingResponse(
        _stream(factory, release, name, kind), media_type=f"{mimetype}; charset=utf-8", headers=headers
    )


def _allow_conditional(
    request: Request, session: Session, found: service.Entry, release: Any, kind: str
) -> None:
    """Conditional data leaves only under an approved application: its key, or its signed-in applicant."""
    what, now = f"download.{kind}", utcnow()
    key = applications.key_from_headers(request.headers)
    try:
        if key is not None:
            applications.use_key(session, key, found.dataset.id, what, now, release.rows)
            return
        token = session_token(request)
        citizen = signed_in(session, request.app.state.settings, token, now) if token else None
        application = (
            applications.approved_for(session, citizen.subject, found.dataset.id, now) if citizen else None
        )
        if application is None:
            raise Forbidden(
                M_("this dataset is open on application only: apply, or send your approved key"),
                code="application_required",
            )
        applications.use(session, None, application, what, now, release.rows)
    except applications.KeyRefused as exc:
        if exc.status == 429:
            raise TooManyAttempts(
                M_("the daily quota of this application is used up"), code="quota"
            ) from None
        raise Forbidden(M_("the API key is not valid for this dataset"), code="key_refused") from None


def _stream(factory: Any, release: Any, name: str, kind: str) -> Iterator[bytes]:
    """The stored file, a part at a time, each read in a short session of its own: no connection is held
    while a slow client takes the previous part (nor while the next part waits for a thread)."""
    part = 0
    while True:
        with factory() as session:
            data = service.file_part(session, release.id, kind, part)
        if data is None:
            return
        yield data
        part += 1


def _xlsx(session: Session, release: Any, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "data")
    sheet.append(list(release.columns))
    for row in service.rows(session, release):
        sheet.append([row.get(c) for c in release.columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- DCAT-AP --------------------------------------------------------------------------------------------


@router.get("/open/catalog.{suffix}")
def catalog_metadata(request: Request, suffix: str) -> Response:
    """The whole catalog in DCAT-AP 3.0: Turtle (``.ttl``), JSON-LD (``.jsonld``) or RDF/XML (``.rdf``)."""
    if suffix not in dcat.SERIALIZATIONS:
        raise NotFound(M_("no metadata format %(name)s", name=suffix[:10]), code="format_not_found")
    with transaction(request.app.state.sessionmaker) as session:
        graph = dcat.catalog_graph(service.entries(session), str(request.base_url).rstrip("/"))
    body, media = dcat.serialize(graph, suffix)
    return Response(body, media_type=f"{media}; charset=utf-8")


@router.get("/open/datasets/{name}.{suffix}")
def dataset_metadata(request: Request, name: str, suffix: str) -> Response:
    if suffix not in dcat.SERIALIZATIONS:
        raise NotFound(M_("no metadata format %(name)s", name=suffix[:10]), code="format_not_found")
    with transaction(request.app.state.sessionmaker) as session:
        graph = dcat.dataset_graph(service.entry(session, name), str(request.base_url).rstrip("/"))
    body, media = dcat.serialize(graph, suffix)
    return Response(body, media_type=f"{media}; charset=utf-8")


# --- the staff's REST API -------------------------------------------------------------------------------


@api.post("/datasets", response_model=DatasetRead)
def publish(
    request: Request, session: DbSession, principal: ApiPrincipal, body: DatasetPublish
) -> DatasetRead:
    """Open a published resource whose open type is open or conditional by its release rules, or release
    a new version (unchanged rows and rules: no new version). Refused, naming the column, while a released
    column still looks personal; nothing is written then."""
    done = service.publish(
        session,
        request.app.state.settings,
        principal,
        body.resource,
        body.rules,
        body.license_id,
        body.tags,
    )
    release = done.release
    return DatasetRead(
        name=done.dataset.name,
        title=done.dataset.title,
        resource=body.resource,
        access=done.dataset.access,
        rules=dict(done.dataset.rules),
        license_id=done.dataset.license_id,
        tags=list(done.dataset.tags),
        version=release.version if release else None,
        rows=release.rows if release else None,
        changed=done.changed,
        url=f"{str(request.base_url).rstrip('/')}/open/datasets/{done.dataset.name}",
    )


def _application(listed: applications.Listed) -> ApplicationRead:
    a, now = listed.application, utcnow()
    key = listed.live_key
    today = now.astimezone(CITY_ZONE).date().isoformat()
    return ApplicationRead(
        number=a.number,
        dataset=listed.dataset.name,
        dataset_title=listed.dataset.title,
        applicant_kind=a.applicant_kind,
        applicant_name=a.applicant_name,
        purpose=a.purpose,
        status=a.status,
        reason=a.reason,
        daily_quota=a.daily_quota,
        calls_today=a.calls if a.day == today else 0,
        submitted_at=a.submitted_at,
        due_at=a.due_at,
        overdue=listed.overdue(now),
        decided_by=a.decided_by,
        decided_at=a.decided_at,
        expires_at=a.expires_at,
        key_prefix=key.prefix if key else None,
    )


@api.get("/applications", response_model=list[ApplicationRead])
def application_queue(
    session: DbSession, principal: ApiPrincipal, status: str | None = Query(None, max_length=16)
) -> list[ApplicationRead]:
    """Applications for the caller's department's conditionally open datasets (the bureau: all), pending
    ones first by deadline."""
    return [_application(listed) for listed in applications.queue(session, principal, status)]


@api.get("/applications/{number}", response_model=ApplicationRead)
def application(session: DbSession, principal: ApiPrincipal, number: Number) -> ApplicationRead:
    return _application(applications.visible(session, principal, number))


@api.post("/applications/{number}/decision", response_model=ApplicationRead)
def decide(
    session: DbSession, principal: ApiPrincipal, number: Number, body: ApplicationDecision
) -> ApplicationRead:
    """The provider department approves (a daily quota, a term) or refuses with reasons."""
    applications.decide(
        session, principal, number, body.approve, body.reason, utcnow(), body.daily_quota, body.term_days
    )
    return _application(applications.visible(session, principal, number))


@api.post("/applications/{number}/revoke", response_model=ApplicationRead)
def revoke(
    session: DbSession, principal: ApiPrincipal, number: Number, body: ApplicationRevoke
) -> ApplicationRead:
    """End an approval and its keys at once (the provider department, or the bureau's operators)."""
    applications.revoke(session, principal, number, body.reason, utcnow())
    return _application(applications.visible(session, principal, number))
