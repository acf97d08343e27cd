"""The gateway: ``/gw/{capability-code}/…`` as a thin ASGI application (no routing framework per call).

Order of a call: size limits → signature (RFC 9421) → the app's key and nonce → capability and the app's
subscription → purpose → rate limit and daily quota → the consumer department's grant (data) → the work
(lookup / list / verify / licence check / proxied backend) → masking by the grant → one audit record,
committed before the answer leaves → metrics. Every refusal is a JSON error body
``{"error": {"code", "message", "field"}}`` with its status; a record that does not exist and one the
app may not see answer alike.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from zhongtai.capabilities.models import CapabilityKind, Operation
from zhongtai.core.context import current_request_id, reset_request_id, set_request_id
from zhongtai.core.crypto import OpaqueTokens
from zhongtai.core.errors import (
    M_,
    Forbidden,
    Invalid,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyAttempts,
    Unauthenticated,
    ZhongtaiError,
)
from zhongtai.core.pseudonym import subject_key, subject_of
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.gateway import accel, data
from zhongtai.gateway.protection import Nonces, Quotas, Verdict
from zhongtai.gateway.reads import HotReads
from zhongtai.gateway.recorder import CallRecord, Recorder
from zhongtai.gateway.signatures import RequestParts, Verified, verify
from zhongtai.gateway.state import (
    OWN_DATA,
    AppEntry,
    CapabilityEntry,
    GrantEntry,
    Snapshot,
    StateCache,
)
from zhongtai.gateway.upstream import (
    UpstreamRequest,
    Upstreams,
    forwarded_headers,
    looks_like_json,
    masked_answer,
    safe_subpath,
)
from zhongtai.gateway.validation import check
from zhongtai.governance.lookups import standard_key
from zhongtai.governance.models import BaseKind
from zhongtai.healthcode import service as healthcode

log = logging.getLogger("zhongtai.gateway")
PREFIX = "/gw/"
_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_END_USER = re.compile(r"^[\x21-\x7e]{1,64}$")
_PURPOSE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON_HEADERS = [(b"content-type", b"application/json")]
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder, not one a call
# Request ids: random per process, then counted (unique across instances; no random bytes per call)
_ID_PREFIX, _ids = secrets.token_hex(8), itertools.count(1)


@dataclass
class Call:
    """What is known about a call so far (for its audit record and metrics)."""

    started: float
    capability: str
    app: AppEntry | None = None
    key_id: str = "-"
    purpose: str = "-"
    end_user: str | None = None
    resource_code: str = "-"
    grant: GrantEntry | None = None
    items: tuple[str, ...] = ()
    count: int = 0
    known: str = "unknown"  # the capability's code once it exists: metric labels never take raw input
    subject: str | None = None  # the person whose record was read, pseudonymous (core.pseudonym)

    def forget_decision(self) -> None:
        """Back to what the request alone says, before it is decided again on newer state (a refusal
        then names nothing the stale decision found)."""
        self.app, self.key_id, self.purpose, self.end_user = None, "-", "-", None
        self.resource_code, self.grant, self.items, self.known, self.subject = "-", None, (), "unknown", None


class Runtime:
    """Per-process gateway state, built on the first call (the engine exists only after start-up)."""

    def __init__(self, settings: Settings, engine: Engine, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.engine = engine
        self.state = StateCache(factory, settings)
        self.quotas = Quotas(settings.gateway_redis_url)
        self.nonces = Nonces(settings.gateway_redis_url)
        self.reads = HotReads(engine)
        self.recorder = Recorder(factory, self.reads)
        self.upstreams = Upstreams(max_response_bytes=settings.gateway_max_response_bytes)
        self.positions = OpaqueTokens(settings, b"zhongtai gateway list positions")
        self.subject_key = subject_key(settings)
        secret = settings.gateway_accel_secret
        self.accel_secret = secret.get_secret_value() if secret is not None else None

    async def close(self) -> None:
        await self.recorder.close()
        await self.upstreams.close()
        await self.nonces.close()
        self.reads.close()


def runtime_of(scope: Scope) -> Runtime:
    app = scope["app"]
    runtime: Runtime | None = getattr(app.state, "gateway", None)
    if runtime is None:
        runtime = Runtime(app.state.settings, app.state.engine, app.state.sessionmaker)
        app.state.gateway = runtime
    return runtime


async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
    """``/gw/…`` as the platform hands it over, before its routing and middleware (a few hundred
    microseconds a call the gateway does not need): the gateway keeps its own request id, limits,
    errors, metrics and audit record."""
    incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
    request_id = incoming if _REQUEST_ID.fullmatch(incoming) else f"{_ID_PREFIX}{next(_ids):016x}"
    token = set_request_id(request_id)
    try:
        await gateway(scope, receive, send)
    finally:
        reset_request_id(token)


async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
    """The gateway's ASGI entry (``/gw/{capability-code}/…``)."""
    if scope["type"] != "http":
        return
    runtime = runtime_of(scope)
    path: str = scope["path"]
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else path.lstrip("/")
    code, _, subpath = rest.partition("/")
    call = Call(started=time.perf_counter(), capability=code[:64])
    try:
        if code == accel.FAILED:
            status, body, extra = await _backend_down(runtime, scope)
        else:
            status, body, extra = await _handle(runtime, scope, receive, call, code, subpath)
    except ZhongtaiError as exc:
        status, body, extra = exc.status_code, _error(exc), _retry_after(exc)
        await _audit_refusal(runtime, call, exc)
    except Exception:  # never a traceback to the caller; the request id finds the log line
        log.exception("gateway call failed", extra={"capability": call.capability})
        await _audit_refusal(runtime, call, ZhongtaiError(M_("internal error"), code="internal_error"), 500)
        status, extra = 500, []
        body = {
            "error": {
                "code": "internal_error",
                "message": "internal error",
                "request_id": current_request_id(),
            }
        }
    payload = _encode(body).encode()
    request_id = (current_request_id() or "").encode()
    headers = [*JSON_HEADERS, (b"x-request-id", request_id), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    elapsed = time.perf_counter() - call.started
    if call.app is not None:
        runtime.recorder.measure(call.known, call.app.code, status, elapsed)
    if log.isEnabledFor(logging.INFO):  # the access log line of a gateway call (no query, no body)
        log.info(
            "gateway call",
            extra={
                "capability": call.capability,
                "app": call.app.code if call.app else None,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


def _error(exc: ZhongtaiError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}


def _retry_after(exc: ZhongtaiError) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(exc.retry_after).encode())] if exc.retry_after else []


async def _audit_refusal(runtime: Runtime, call: Call, exc: ZhongtaiError, status: int | None = None) -> None:
    """Calls by a known app are audited whatever their outcome; anonymous refusals are only counted."""
    if call.app is None or exc.code == "audit_unavailable":
        return
    status = status or exc.status_code
    outcome = "denied" if status < 500 else "error"
    with contextlib.suppress(ZhongtaiError):  # refused anyway; the recorder logged the failure
        await runtime.recorder.audit(_record(call, outcome, status, exc.code))


def _record(call: Call, outcome: str, status: int, reason: str | None = None) -> CallRecord:
    assert call.app is not None
    return CallRecord(
        app=call.app.code,
        department_code=call.app.department_code,
        capability=call.capability,
        resource_code=call.resource_code,
        items=list(call.items),
        record_count=call.count,
        purpose=call.purpose,
        grant_id=call.grant.id if call.grant and call.grant.id != OWN_DATA else None,
        outcome=outcome,
        status=status,
        key_id=call.key_id,
        request_id=current_request_id() or "-",
        end_user=call.end_user,
        reason=reason,
        subject=call.subject,
    )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise PayloadTooLarge(
                M_("the body is larger than %(limit)s bytes", limit=limit), code="body_too_large"
            )
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                M_("the body is larger than %(limit)s bytes", limit=limit), code="body_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _parts(scope: Scope, headers: dict[str, str], body: bytes) -> RequestParts:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return RequestParts(
        method=scope["method"],
        scheme=scope.get("scheme", "http"),
        authority=headers.get("host", "").lower(),
        path=raw_path.decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


@dataclass
class Decision:
    """What the cached state decided for a call: its key, capability, grant and, for a lookup, the
    record read together with the state version that confirmed the decision."""

    verified: Verified
    capability: CapabilityEntry
    grant: GrantEntry | None = None
    key: str | None = None  # a lookup's canonical key; None when it cannot exist
    found: str | None = None  # the lookup's record (JSON text), None when there is none


class _Stale(Exception):
    """The state moved since the snapshot a call was decided on: decide again on the new one."""

    def __init__(self, version: int) -> None:
        self.version = version


async def _handle(
    runtime: Runtime, scope: Scope, receive: Receive, call: Call, code: str, subpath: str
) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    settings = runtime.settings
    body = await _read_body(scope, receive, settings.gateway_max_body_bytes)
    headers = _headers(scope)
    decision = _decide_on_current_state(runtime, scope, call, _parts(scope, headers, body), code, subpath)
    capability = decision.capability
    if not await runtime.nonces.claim(
        decision.verified.key.key_id, decision.verified.nonce, decision.verified.expires_at
    ):
        raise _unauthenticated("replayed", "this signature's nonce was already used; sign every request anew")
    await _limit(runtime, call, capability)
    if capability.kind is CapabilityKind.PROXY:
        return await _proxy(runtime, scope, call, capability, subpath, headers, body)
    result = _data(runtime, decision, call, scope, body)
    await runtime.recorder.audit(_record(call, "success", 200))
    return 200, result, []


def _decide_on_current_state(
    runtime: Runtime, scope: Scope, call: Call, parts: RequestParts, code: str, subpath: str
) -> Decision:
    """Decides on the cached snapshot, then confirms it is current by one read of the state version —
    for a lookup the same statement that reads the record. If the state moved (a key, subscription or
    grant changed on any instance) the call is decided again on the new state, so a revocation takes
    effect at the next call; a refusal is confirmed the same way before it is given."""
    state = runtime.state
    snapshot, confirmed = state.snapshot, False
    if snapshot.version < 0:  # nothing loaded yet
        snapshot, confirmed = state.fresh(runtime.reads.version()), True
    while True:
        try:
            return _decide(runtime, snapshot, confirmed, scope, call, parts, code, subpath)
        except _Stale as stale:
            snapshot, confirmed = state.fresh(stale.version), True
        except ZhongtaiError:
            if confirmed:
                raise
            version = runtime.reads.version()
            if version == snapshot.version:
                raise
            snapshot, confirmed = state.fresh(version), True
        call.forget_decision()


def _decide(
    runtime: Runtime,
    snapshot: Snapshot,
    confirmed: bool,
    scope: Scope,
    call: Call,
    parts: RequestParts,
    code: str,
    subpath: str,
) -> Decision:
    """Everything the state decides, without side effects (nonce and limits come after): raises a
    refusal, or ``_Stale`` when the snapshot turns out not to be current."""
    settings = runtime.settings
    verified = verify(
        parts,
        snapshot.keys,
        time.time(),
        settings.gateway_clock_skew_seconds,
        settings.gateway_signature_max_age_seconds,
    )
    decision = Decision(verified, _authorize(snapshot, call, verified, code, parts.headers))
    capability = decision.capability
    if capability.kind is CapabilityKind.DATA:
        decision.grant = _grant(snapshot, call, capability)
        if capability.operation is Operation.LOOKUP:
            return _looked_up(runtime, snapshot, confirmed, scope, call, decision, subpath)
    if not confirmed and (version := runtime.reads.version()) != snapshot.version:
        raise _Stale(version)
    return decision


def _grant(snapshot: Snapshot, call: Call, capability: CapabilityEntry) -> GrantEntry:
    assert call.app is not None
    grant = snapshot.access_for(call.app, capability, utcnow())
    if grant is None:
        raise Forbidden(
            M_("the app's department holds no live API grant for this resource; apply for one under 共享"),
            code="no_grant",
        )
    call.grant, call.items = grant, tuple(grant.project.items)
    return grant


def _looked_up(
    runtime: Runtime,
    snapshot: Snapshot,
    confirmed: bool,
    scope: Scope,
    call: Call,
    decision: Decision,
    subpath: str,
) -> Decision:
    """A lookup's record, read with the state version unless the snapshot was just confirmed."""
    capability = decision.capability
    _expect(scope["method"], "GET")
    if not subpath or "/" in subpath:
        raise NotFound(data.NOT_FOUND, code="record_not_found")
    decision.key = data.canonical_key(capability, unquote(subpath))
    call.subject = _person_subject(runtime, capability, decision.key)
    if decision.key is None or capability.source_id is None or capability.base is None:
        if not confirmed and (version := runtime.reads.version()) != snapshot.version:
            raise _Stale(version)
        return decision
    where = (capability.base.value, decision.key, capability.source_id)
    if confirmed:
        decision.found = runtime.reads.claimed(*where)
        return decision
    version, decision.found = runtime.reads.claimed_with_version(*where)
    if version != snapshot.version:
        raise _Stale(version)
    return decision


def _unauthenticated(code: str, message: str) -> ZhongtaiError:
    return Unauthenticated(message, code=code)


def _authorize(
    snapshot: Snapshot, call: Call, verified: Verified, code: str, headers: Mapping[str, str]
) -> CapabilityEntry:
    app = snapshot.apps.get(verified.key.app_id)
    if app is None:
        raise _unauthenticated("unknown_key", "the key is unknown or was revoked")
    call.app, call.key_id = app, verified.key.key_id
    if not app.active:
        raise Forbidden(M_("the app is suspended"), code="app_suspended")
    purpose = headers.get("x-purpose", "")
    end_user = headers.get("x-end-user")
    if end_user is not None and not _END_USER.fullmatch(end_user):
        raise Invalid(M_("X-End-User: at most 64 visible ASCII characters"), field="x-end-user")
    call.end_user = end_user
    if not _PURPOSE.fullmatch(purpose):
        raise Invalid(
            M_("X-Purpose: the purpose code the app subscribed with is required"), field="x-purpose"
        )
    call.purpose = purpose
    capability = snapshot.capabilities.get(code) if _CODE.fullmatch(code) else None
    if capability is None or not capability.serving:
        raise NotFound(M_("there is no capability %(code)r", code=code[:64]), code="capability_not_found")
    call.resource_code, call.known = capability.resource_code or "-", capability.code
    subscribed_for = snapshot.subscriptions.get((app.id, capability.id))
    if subscribed_for is None:
        raise Forbidden(
            M_("the app is not subscribed to this capability (or not yet approved)"), code="not_subscribed"
        )
    if purpose != subscribed_for:
        raise Forbidden(
            M_(
                "the app subscribed for purpose %(subscribed_for)r; calls for another purpose are refused",
                subscribed_for=subscribed_for,
            ),
            code="purpose_mismatch",
        )
    return capability


def _too_many(message: str, code: str, retry_after: int) -> TooManyAttempts:
    refusal = TooManyAttempts(message, code=code)
    refusal.retry_after = retry_after
    return refusal


async def _limit(runtime: Runtime, call: Call, capability: CapabilityEntry) -> None:
    assert call.app is not None
    verdict = await runtime.quotas.hit(
        call.app.code, capability.code, capability.rate_per_second, capability.daily_quota
    )
    if verdict is Verdict.RATE:
        raise _too_many(f"at most {capability.rate_per_second} calls a second", "rate_limited", 1)
    if verdict is Verdict.QUOTA:
        raise _too_many(
            f"the daily quota of {capability.daily_quota} calls is used up", "quota_exhausted", 3600
        )


def _data(runtime: Runtime, decision: Decision, call: Call, scope: Scope, body: bytes) -> Any:
    assert call.app is not None
    capability, method = decision.capability, scope["method"]
    if capability.operation is Operation.HEALTHCODE_VERIFY:
        _expect(method, "POST")
        return _healthcode(runtime, call, _json_object(body))
    if capability.kind is CapabilityKind.PLATFORM:
        _expect(method, "POST")
        with runtime.engine.connect() as connection:
            return {"valid": data.license_valid(connection, _json_object(body), date.today())}
    grant = decision.grant
    assert grant is not None
    if capability.operation is Operation.LOOKUP:
        record = grant.project(data.record_of(capability, decision.key, decision.found))
        call.count = 1
        return {"record": record}
    if capability.operation is Operation.VERIFY:
        _expect(method, "POST")
        claim = _json_object(body)
        asked = [name for name in claim if name != capability.key_item]
        outside = [name for name in asked if name not in grant.project.rules]
        if outside:
            raise Forbidden(
                M_("the grant does not cover %(items)s", items=", ".join(outside)), code="item_not_granted"
            )
        call.items, call.count = tuple(asked), 1
        call.subject = _person_subject(runtime, capability, claim.get(capability.key_item or ""))
        return {"match": data.verify(runtime.reads, capability, claim)}
    _expect(method, "GET")
    with runtime.engine.connect() as connection:
        return _list(connection, call, capability, scope, grant, runtime.positions)


def _healthcode(runtime: Runtime, call: Call, claim: dict[str, Any]) -> dict[str, Any]:
    """A department's gate app verifies a health code online (the platform's own trust and revocation)."""
    text, temperature = claim.get("code"), claim.get("temperature")
    if not isinstance(text, str) or not text or len(text) > 4000:
        raise Invalid(M_("code (the scanned text, a string) is required"), field="code")
    if temperature is not None and (not isinstance(temperature, int | float) or not 30 <= temperature <= 45):
        raise Invalid(M_("a body temperature is between 30 and 45 °C"), field="temperature")
    with Session(runtime.engine) as session:
        answer, call.subject = healthcode.checked_at_gate(
            session, runtime.settings, text, utcnow(), None if temperature is None else float(temperature)
        )
    call.count = 1
    return answer


def _person_subject(runtime: Runtime, capability: CapabilityEntry, key: object) -> str | None:
    """The audit subject of a person lookup or verification: whose record it asked for (a well-formed ID
    number only; a malformed one names nobody)."""
    if capability.base is not BaseKind.PERSON or not isinstance(key, str):
        return None
    canonical = standard_key(BaseKind.PERSON, key)
    return subject_of(canonical, runtime.subject_key) if canonical else None


def _list(
    connection: Any,
    call: Call,
    capability: CapabilityEntry,
    scope: Scope,
    grant: GrantEntry,
    positions: OpaqueTokens,
) -> Any:
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    cursor = query.pop("after", None)
    if cursor is not None and "page" in query:
        raise Invalid(M_("give page or after, not both"), field="after")
    page = _int(query.pop("page", "1"), "page", 1, 100_000)
    limit = _int(query.pop("page_size", "20"), "page_size", 1, 100)
    after = data.open_position(positions, capability, cursor) if cursor is not None else None
    filters = {}
    for item, value in query.items():
        if grant.project.rules.get(item) is None:
            raise Invalid(M_("%(item)s is not an item the grant covers", item=item), field=item)
        if grant.project.rules[item].value != "none":
            raise Invalid(
                M_("%(item)s is masked under the grant, so it cannot filter", item=item), field=item
            )
        filters[item] = value
    rows, last = data.page_of_records(connection, capability, filters, limit, page=page, after=after)
    records = [grant.project(row) for row in rows]
    call.count = len(records)
    return {
        "records": records,
        "page": None if after is not None else page,
        "page_size": limit,
        "has_more": last is not None,
        "next": data.seal_position(positions, capability, last) if last is not None else None,
    }


def _int(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid(
            M_("%(name)s must be a whole number from %(low)s to %(high)s", name=name, low=low, high=high),
            field=name,
        )
    return int(raw)


def _expect(method: str, allowed: str) -> None:
    if method != allowed:
        raise MethodNotAllowed(M_("this capability answers %(allowed)s only", allowed=allowed))


def _json_object(body: bytes, max_depth: int = 20) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(M_("the body is not valid JSON"), field="body", code="malformed_json") from exc
    if not isinstance(value, dict):
        raise Invalid(M_("the body must be a JSON object"), field="body")
    if _depth(value) > max_depth:
        raise Invalid(
            M_("the JSON is nested deeper than %(max_depth)s levels", max_depth=max_depth),
            field="body",
            code="too_deep",
        )
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > 200:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


async def _proxy(
    runtime: Runtime,
    scope: Scope,
    call: Call,
    capability: CapabilityEntry,
    subpath: str,
    headers: dict[str, str],
    body: bytes,
) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    assert call.app is not None
    method = scope["method"]
    if capability.methods and method not in capability.methods:
        _expect(method, "/".join(capability.methods))
    if body and "json" in headers.get("content-type", "json"):
        check(capability.validator, _json_any(body, runtime.settings.gateway_max_json_depth))
    deadline = time.monotonic() + runtime.settings.gateway_budget_ms / 1000
    request = UpstreamRequest(
        method,
        safe_subpath(subpath),
        scope.get("query_string", b"").decode("latin-1"),
        forwarded_headers(headers, call.app.code, call.purpose, call.end_user),
        body,
    )
    secret = runtime.accel_secret
    if secret and accel.through_proxy(headers, secret) and accel.carried(capability, request.subpath):
        return await _hand_to_proxy(runtime, call, capability, request, secret)
    answer = await runtime.upstreams.call(capability, request, deadline)
    if answer.status >= 400 and not looks_like_json(answer.body):
        # The backend refused (a wrong sub-path: its own 404 page): its status goes back, with our error
        # body in place of its page; only an answer that claims success must be JSON.
        await runtime.recorder.audit(_record(call, "denied", answer.status))
        refusal = M_("%(code)s answered %(status)s", code=capability.code, status=answer.status)
        return (
            answer.status,
            {"error": {"code": "upstream_refused", "message": str(refusal), "field": None}},
            [],
        )
    result = masked_answer(capability, answer)
    await runtime.recorder.audit(_record(call, "success" if answer.status < 400 else "denied", answer.status))
    return answer.status, result, []


async def _hand_to_proxy(
    runtime: Runtime, call: Call, capability: CapabilityEntry, request: UpstreamRequest, secret: str
) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    """Every check done: record the call (committed before nginx sends a byte to the backend), then let
    nginx carry it (``gateway.accel``)."""
    assert call.app is not None
    await runtime.recorder.audit(_record(call, "forwarded", 200))
    note = accel.CallNote(
        app=call.app.code,
        department_code=call.app.department_code,
        capability=call.capability,
        purpose=call.purpose,
        key_id=call.key_id,
        end_user=call.end_user,
        request_id=current_request_id() or "-",
    )
    headers = accel.redirect_headers(
        request.method,
        capability,
        request.subpath,
        request.query,
        request.headers,
        accel.seal_note(note, secret),
    )
    return 200, None, headers


async def _backend_down(runtime: Runtime, scope: Scope) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    """nginx could not reach a carried call's backend: record it for the call's app, answer 503."""
    headers = _headers(scope)
    secret = runtime.accel_secret
    note = accel.open_note(headers.get("x-zt-call", ""), secret) if secret else None
    if note is None or not accel.through_proxy(headers, secret):
        raise NotFound(M_("no capability %(code)s", code=accel.FAILED), code="capability_not_found")
    record = CallRecord(
        app=note.app,
        department_code=note.department_code,
        capability=note.capability,
        resource_code=note.resource_code,
        items=[],
        record_count=0,
        purpose=note.purpose,
        grant_id=None,
        outcome="error",
        status=503,
        key_id=note.key_id,
        request_id=note.request_id,
        end_user=note.end_user,
        reason="upstream_unavailable",
    )
    await runtime.recorder.audit(record)
    message = M_("%(code)s cannot be reached; try again later", code=note.capability)
    return 503, {"error": {"code": "upstream_unavailable", "message": str(message), "field": None}}, []


def _json_any(body: bytes, max_depth: int) -> Any:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(M_("the body is not valid JSON"), field="body", code="malformed_json") from exc
    if _depth(value) > max_depth:
        raise Invalid(
            M_("the JSON is nested deeper than %(max_depth)s levels", max_depth=max_depth),
            field="body",
            code="too_deep",
        )
    return value
