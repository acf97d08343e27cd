"""Capability platform rules: registering and publishing capabilities, apps and their keys, app
subscriptions, usage. Services flush; the request or job owns the transaction."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.capabilities import auth
from zhongtai.capabilities.lifecycle import CAPABILITY_TRANSITIONS, SUBSCRIPTION_TRANSITIONS
from zhongtai.capabilities.models import (
    App,
    AppKey,
    AppStatus,
    AppSubscription,
    Capability,
    CapabilityKind,
    CapabilityStatus,
    KeyAlgorithm,
    KeyStatus,
    Operation,
    SubscriptionStatus,
)
from zhongtai.capabilities.repository import CapabilityRepository
from zhongtai.capabilities.schemas import (
    AppCreate,
    AppRead,
    CapabilityCreate,
    CapabilityRead,
    CapabilityUpdate,
    KeyCreate,
    KeyCreated,
    KeyRead,
    SubscriptionCreate,
    SubscriptionRead,
    UsageRow,
)
from zhongtai.catalog.models import Resource, ResourceStatus, SharingType
from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.core.work import WorkItem
from zhongtai.gateway.recorder import BUCKETS_MS
from zhongtai.gateway.state import secret_bytes
from zhongtai.gateway.validation import schema_problem
from zhongtai.governance.models import BaseSource
from zhongtai.orgs.models import Department
from zhongtai.orgs.repository import OrgRepository

MAX_ACTIVE_KEYS = 5
DATA_OPERATIONS = {
    CapabilityKind.DATA: {Operation.LOOKUP, Operation.LIST, Operation.VERIFY},
    CapabilityKind.PLATFORM: {Operation.LICENSE_VERIFY, Operation.HEALTHCODE_VERIFY},
    CapabilityKind.PROXY: {Operation.PROXY},
}


# ---- capabilities -------------------------------------------------------------------------------


def register(session: Session, actor: Principal, data: CapabilityCreate) -> Capability:
    provider = _provider(session, actor, data.provider)
    auth.check(
        auth.may_register_capability(actor, provider.id),
        "only the providing department's officers and developers (or the bureau) register its capabilities",
    )
    if data.kind is CapabilityKind.PLATFORM and not actor.is_operator:
        raise Forbidden(M_("platform capabilities are the bureau's"), code="platform_only")
    if data.operation not in DATA_OPERATIONS[data.kind]:
        allowed = ", ".join(sorted(op.value for op in DATA_OPERATIONS[data.kind]))
        raise Invalid(
            M_("a %(kind)s capability offers %(allowed)s", kind=data.kind.value, allowed=allowed),
            field="operation",
        )
    if CapabilityRepository(session).capability(data.code) is not None:
        raise Conflict(M_("a capability with code %(code)s exists", code=data.code), code="duplicate_code")
    resource = _data_source(session, data, provider) if data.kind is CapabilityKind.DATA else None
    _check_catalog_codes(session, data.catalog_codes)
    if data.kind is CapabilityKind.PROXY:
        _check_proxy(data)
    capability = Capability(
        code=data.code,
        name=data.name,
        description=data.description,
        provider_department_id=provider.id,
        version=data.version,
        kind=data.kind,
        operation=data.operation,
        resource_id=resource.id if resource else None,
        key_item=data.key_item,
        verify_items=data.verify_items,
        upstream_url=str(data.upstream_url) if data.upstream_url else None,
        health_path=data.health_path,
        methods=data.methods,
        request_schema=data.request_schema,
        masked_fields={name: rule.value for name, rule in data.masked_fields.items()},
        timeout_ms=data.timeout_ms,
        sla=data.sla.model_dump(),
        rate_per_second=data.rate_per_second,
        daily_quota=data.daily_quota,
        breaker_failures=data.breaker_failures,
        breaker_reset_seconds=data.breaker_reset_seconds,
        catalog_codes=sorted({*data.catalog_codes, *([resource.code] if resource else [])}),
        created_by=actor.username,
    )
    session.add(capability)
    session.flush()
    audit.record(
        session, actor, "capability.registered", "capability", capability.code, {"kind": data.kind.value}
    )
    return capability


def _check_catalog_codes(session: Session, codes: list[str]) -> None:
    found = set(session.scalars(select(Resource.code).where(Resource.code.in_(codes)))) if codes else set()
    missing = [code for code in codes if code not in found]
    if missing:
        raise Invalid(M_("no catalog entry %(missing)s", missing=missing[0]), field="catalog_codes")


def _provider(session: Session, actor: Principal, code: str | None) -> Department:
    if code is None:
        if actor.department_id is None:
            raise Invalid(M_("name the providing department"), field="provider")
        found = session.get(Department, actor.department_id)
    else:
        found = OrgRepository(session).department_by_code(code)
    if found is None:
        raise Invalid(M_("no department %(code)s", code=code), field="provider")
    return found


def _data_source(session: Session, data: CapabilityCreate, provider: Department) -> Resource:
    """A data capability serves a published, shareable resource of its provider; lookups and
    verifications need the base database feed keyed by the key item."""
    if not data.resource:
        raise Invalid(M_("a data capability names the catalog resource it serves"), field="resource")
    resource = session.scalars(select(Resource).where(Resource.code == data.resource)).first()
    if resource is None or resource.status is not ResourceStatus.PUBLISHED:
        raise Invalid(
            M_("%(resource)s is not a published catalog resource", resource=data.resource), field="resource"
        )
    if resource.provider_department_id != provider.id:
        raise Invalid(M_("a department serves its own resources only"), field="resource")
    if resource.sharing_type is SharingType.NOT_SHARED:
        raise Invalid(
            M_(
                "%(code)s is not shared (%(value)s)",
                code=resource.code,
                value=resource.sharing_basis or "no basis given",
            ),
            field="resource",
        )
    items = {item.name for item in resource.items}
    if data.operation in (Operation.LOOKUP, Operation.VERIFY):
        _check_keyed(session, data, resource, items)
    return resource


def _check_keyed(session: Session, data: CapabilityCreate, resource: Resource, items: set[str]) -> None:
    if not data.key_item or data.key_item not in items:
        raise Invalid(M_("key_item must be an item of the resource"), field="key_item")
    feed = session.scalars(
        select(BaseSource).where(BaseSource.resource_id == resource.id, BaseSource.key_item == data.key_item)
    ).first()
    if feed is None:
        raise Invalid(
            M_(
                "%(code)s feeds no base database by %(key_item)s; lookups need one (see 数据治理)",
                code=resource.code,
                key_item=data.key_item,
            ),
            field="key_item",
        )
    if data.operation is Operation.VERIFY:
        mapped = set(feed.attributes.values())
        unknown = [name for name in data.verify_items if name not in mapped]
        if not data.verify_items or unknown:
            raise Invalid(
                M_("verify_items must be items the base database holds for this resource"),
                field="verify_items",
            )


def _check_proxy(data: CapabilityCreate) -> None:
    if data.upstream_url is None:
        raise Invalid(M_("a proxied capability needs the backend's upstream_url"), field="upstream_url")
    if data.upstream_url.scheme not in ("http", "https"):
        raise Invalid(M_("upstream_url must be http or https"), field="upstream_url")
    bad = [m for m in data.methods if m not in ("GET", "POST", "PUT", "PATCH", "DELETE")]
    if bad:
        raise Invalid(M_("unsupported method %(bad)s", bad=bad[0]), field="methods")
    if data.request_schema is not None:
        problem = schema_problem(data.request_schema)
        if problem:
            raise Invalid(
                M_("request_schema is not a JSON Schema: %(problem)s", problem=problem),
                field="request_schema",
            )


def visible_capability(session: Session, actor: Principal, code: str) -> Capability:
    capability = CapabilityRepository(session).capability(code)
    if capability is None or not auth.may_see_capability(actor, capability):
        raise NotFound(M_("no capability %(code)s", code=code), code="capability_not_found")
    return capability


def update_capability(session: Session, actor: Principal, code: str, data: CapabilityUpdate) -> Capability:
    capability = visible_capability(session, actor, code)
    auth.check(auth.may_manage_capability(actor, capability), "only the provider (or the bureau) changes it")
    if data.upstream_url is not None:
        if capability.kind is not CapabilityKind.PROXY:
            raise Invalid(M_("only a proxied capability has an upstream_url"), field="upstream_url")
        if data.upstream_url.scheme not in ("http", "https"):
            raise Invalid(M_("upstream_url must be http or https"), field="upstream_url")
    changes: dict[str, Any] = {}
    for name, value in data.model_dump(exclude_unset=True, mode="json").items():
        if value is None:
            continue
        old = getattr(capability, name)
        if old != value:
            changes[name] = [old, value]
            setattr(capability, name, value)
    session.flush()
    if changes:
        audit.record(session, actor, "capability.updated", "capability", code, changes)
    return capability


def act_on_capability(session: Session, actor: Principal, code: str, action: str) -> Capability:
    capability = visible_capability(session, actor, code)
    sources, target = CAPABILITY_TRANSITIONS[action]
    if action == "publish":
        auth.check(
            auth.may_publish(actor, capability),
            "proxied capabilities are published by the bureau, which reviews where requests go",
        )
    else:
        auth.check(
            auth.may_manage_capability(actor, capability), "only the provider (or the bureau) does this"
        )
    if capability.status not in sources:
        raise Conflict(
            M_(
                "a %(status)s capability cannot be %(action)sed",
                status=capability.status.value,
                action=action,
            ),
            code="invalid_transition",
        )
    before = capability.status
    capability.status = target
    if target is CapabilityStatus.PUBLISHED:
        capability.published_at = utcnow()
    session.flush()
    audit.record(
        session, actor, f"capability.{action}", "capability", code, {"status": [before.value, target.value]}
    )
    return capability


def capability_view(session: Session, actor: Principal, capability: Capability) -> CapabilityRead:
    resource = session.get(Resource, capability.resource_id) if capability.resource_id else None
    provider = session.get(Department, capability.provider_department_id)
    return CapabilityRead(
        code=capability.code,
        name=capability.name,
        description=capability.description,
        provider=provider.code if provider else "-",
        version=capability.version,
        status=capability.status,
        kind=capability.kind,
        operation=capability.operation,
        resource=resource.code if resource else None,
        key_item=capability.key_item,
        verify_items=list(capability.verify_items),
        upstream_url=capability.upstream_url if auth.may_see_upstream(actor, capability) else None,
        methods=list(capability.methods),
        sla=dict(capability.sla),
        rate_per_second=capability.rate_per_second,
        daily_quota=capability.daily_quota,
        timeout_ms=capability.timeout_ms,
        catalog_codes=list(capability.catalog_codes),
        created_at=capability.created_at,
        published_at=capability.published_at,
    )


# ---- apps and keys ------------------------------------------------------------------------------


def create_app(session: Session, actor: Principal, data: AppCreate) -> App:
    auth.check(auth.may_build_apps(actor), "a department's developers and officers register its apps")
    assert actor.department_id is not None
    if CapabilityRepository(session).app(data.code) is not None:
        raise Conflict(M_("an app with code %(code)s exists", code=data.code), code="duplicate_code")
    app = App(
        code=data.code,
        name=data.name,
        description=data.description,
        department_id=actor.department_id,
        owner=actor.username,
    )
    session.add(app)
    session.flush()
    audit.record(session, actor, "app.registered", "app", app.code)
    return app


def set_app_status(session: Session, actor: Principal, code: str, action: str) -> App:
    """The bureau suspends an app (every call refused at once, on every instance) or resumes it."""
    app = visible_app(session, actor, code)
    auth.check(actor.is_operator, "only the platform's operators suspend or resume apps")
    target = AppStatus.SUSPENDED if action == "suspend" else AppStatus.ACTIVE
    if app.status is not target:
        before = app.status
        app.status = target
        session.flush()
        audit.record(
            session, actor, f"app.{action}", "app", app.code, {"status": [before.value, target.value]}
        )
    return app


def visible_app(session: Session, actor: Principal, code: str) -> App:
    app = CapabilityRepository(session).app(code)
    if app is None or not auth.may_see_app(actor, app):
        raise NotFound(M_("no app %(code)s", code=code), code="app_not_found")
    return app


def managed_app(session: Session, actor: Principal, code: str) -> App:
    app = visible_app(session, actor, code)
    auth.check(auth.may_manage_app(actor, app), "only the app's own department's developers manage it")
    return app


def app_view(session: Session, app: App) -> AppRead:
    department = session.get(Department, app.department_id)
    return AppRead(
        code=app.code,
        name=app.name,
        description=app.description,
        department=department.code if department else "-",
        owner=app.owner,
        status=app.status,
        created_at=app.created_at,
    )


def create_key(
    session: Session, settings: Settings, actor: Principal, code: str, data: KeyCreate
) -> KeyCreated:
    """A new signing key; the HMAC secret or a generated private key is returned this once only."""
    app = managed_app(session, actor, code)
    repo = CapabilityRepository(session)
    if repo.active_keys(app.id) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            M_(
                "an app has at most %(max_active_keys)s active keys: revoke an old one",
                max_active_keys=MAX_ACTIVE_KEYS,
            ),
            code="too_many_keys",
        )
    key = AppKey(app_id=app.id, key_id=f"{app.code}.{secrets.token_hex(4)}", algorithm=data.algorithm)
    secret = private_pem = None
    if data.algorithm is KeyAlgorithm.HMAC_SHA256:
        if data.public_key:
            raise Invalid(M_("an HMAC key has no public key"), field="public_key")
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        key.secret_sealed = SecretBox(settings).seal(secret)
    else:
        key.public_key, private_pem = _ed25519_key(data.public_key)
    session.add(key)
    session.flush()
    audit.record(
        session, actor, "app.key_created", "app", app.code, {"key_id": key.key_id, "alg": key.algorithm.value}
    )
    return KeyCreated(**_key_fields(key), secret=secret, private_key=private_pem)


def hmac_secret(key: AppKey, settings: Settings) -> bytes:
    """The raw HMAC secret: the base64url text shown at creation is what clients sign with, decoded."""
    assert key.secret_sealed is not None
    return secret_bytes(SecretBox(settings).open(key.secret_sealed))


def _ed25519_key(public_pem: str | None) -> tuple[str, str | None]:
    if public_pem:
        try:
            loaded = serialization.load_pem_public_key(public_pem.encode())
        except (ValueError, TypeError) as exc:
            raise Invalid(M_("public_key is not a PEM public key"), field="public_key") from exc
        if not isinstance(loaded, Ed25519PublicKey):
            raise Invalid(M_("public_key must be an Ed25519 key"), field="public_key")
        return public_pem.strip() + "\n", None
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return public.decode(), private_pem.decode()


def _key_fields(key: AppKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "status": key.status,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def key_view(key: AppKey) -> KeyRead:
    return KeyRead(**_key_fields(key))


def revoke_key(session: Session, actor: Principal, code: str, key_id: str) -> AppKey:
    """Takes effect on the next call at every gateway instance (the gateway's state version moves)."""
    app = managed_app(session, actor, code)
    key = CapabilityRepository(session).key(app.id, key_id)
    if key is None:
        raise NotFound(
            M_("no key %(key_id)s in app %(code)s", key_id=key_id, code=code), code="key_not_found"
        )
    if key.status is KeyStatus.REVOKED:
        return key
    key.status, key.revoked_at = KeyStatus.REVOKED, utcnow()
    session.flush()
    audit.record(session, actor, "app.key_revoked", "app", app.code, {"key_id": key_id})
    return key


# ---- subscriptions ------------------------------------------------------------------------------


def subscribe(session: Session, actor: Principal, code: str, data: SubscriptionCreate) -> AppSubscription:
    app = managed_app(session, actor, code)
    repo = CapabilityRepository(session)
    capability = repo.capability(data.capability)
    if capability is None or capability.status is not CapabilityStatus.PUBLISHED:
        raise Invalid(
            M_("%(capability)s is not a published capability", capability=data.capability), field="capability"
        )
    existing = repo.subscription_of(app.id, capability.id)
    if existing is not None and existing.status in (SubscriptionStatus.PENDING, SubscriptionStatus.APPROVED):
        raise Conflict(
            M_(
                "%(code)s already has a %(status)s subscription to it",
                code=app.code,
                status=existing.status.value,
            ),
            code="duplicate",
        )
    subscription = existing or AppSubscription(app_id=app.id, capability_id=capability.id)
    subscription.purpose, subscription.requested_by, subscription.requested_at = (
        data.purpose,
        actor.username,
        utcnow(),
    )
    subscription.status, subscription.decided_by, subscription.decided_at, subscription.reason = (
        SubscriptionStatus.PENDING,
        None,
        None,
        "",
    )
    if existing is None:
        session.add(subscription)
    if _automatic(session, capability):
        subscription.status, subscription.decided_by, subscription.decided_at = (
            SubscriptionStatus.APPROVED,
            "system",
            utcnow(),
        )
        subscription.reason = "无条件共享或平台能力:订阅即批准"
    session.flush()
    audit.record(
        session,
        actor,
        "app.subscribed",
        "app",
        app.code,
        {"capability": capability.code, "purpose": data.purpose, "status": subscription.status.value},
    )
    return subscription


def _automatic(session: Session, capability: Capability) -> bool:
    if capability.kind is CapabilityKind.PLATFORM:
        return True
    if capability.kind is CapabilityKind.DATA and capability.resource_id is not None:
        resource = session.get(Resource, capability.resource_id)
        return resource is not None and resource.sharing_type is SharingType.UNCONDITIONAL
    return False


def decide(
    session: Session, actor: Principal, subscription_id: int, action: str, reason: str
) -> AppSubscription:
    repo = CapabilityRepository(session)
    subscription = repo.subscription(subscription_id)
    if subscription is None:
        raise NotFound(M_("no such subscription"), code="subscription_not_found")
    capability = repo.capability_by_id(subscription.capability_id)
    app = session.get(App, subscription.app_id)
    assert app is not None
    if action == "cancel":
        allowed = auth.may_manage_app(actor, app) or auth.may_decide_subscription(actor, capability)
    else:
        allowed = auth.may_decide_subscription(actor, capability)
    if not allowed and not (auth.may_see_app(actor, app) or auth.may_decide_subscription(actor, capability)):
        raise NotFound(M_("no such subscription"), code="subscription_not_found")
    auth.check(allowed, "the capability's provider (or the bureau) decides; the app's department may cancel")
    sources, target = SUBSCRIPTION_TRANSITIONS[action]
    if subscription.status not in sources:
        raise Conflict(
            M_(
                "a %(status)s subscription cannot be %(action)sd",
                status=subscription.status.value,
                action=action,
            ),
            code="invalid_transition",
        )
    if action == "reject" and not reason.strip():
        raise Invalid(M_("say why it is rejected"), field="reason")
    before = subscription.status
    subscription.status, subscription.decided_by, subscription.decided_at = target, actor.username, utcnow()
    subscription.reason = reason.strip()
    session.flush()
    audit.record(
        session,
        actor,
        f"app.subscription_{action}",
        "app",
        app.code,
        {"capability": capability.code, "status": [before.value, target.value]},
    )
    return subscription


def subscription_view(session: Session, subscription: AppSubscription) -> SubscriptionRead:
    app = session.get(App, subscription.app_id)
    capability = session.get(Capability, subscription.capability_id)
    return SubscriptionRead(
        id=subscription.id,
        app=app.code if app else "-",
        capability=capability.code if capability else "-",
        purpose=subscription.purpose,
        status=subscription.status,
        requested_by=subscription.requested_by,
        requested_at=subscription.requested_at,
        decided_by=subscription.decided_by,
        decided_at=subscription.decided_at,
        reason=subscription.reason,
    )


def provider_queue(session: Session, actor: Principal) -> list[AppSubscription]:
    """Subscriptions to the caller's department's capabilities (all of them for the bureau)."""
    repo = CapabilityRepository(session)
    if actor.is_operator:
        return repo.subscriptions()
    if actor.department_id is None:
        return []
    return repo.subscriptions(provider_department_id=actor.department_id)


# ---- usage --------------------------------------------------------------------------------------


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Subscriptions to the actor's department's capabilities waiting for its decision."""
    work = []
    for subscription in provider_queue(session, actor):
        capability = session.get(Capability, subscription.capability_id)
        if subscription.status is not SubscriptionStatus.PENDING or capability is None:
            continue
        if auth.may_decide_subscription(actor, capability):
            app = session.get(App, subscription.app_id)
            work.append(
                WorkItem(
                    N_("home.work.subscription"),
                    f"{app.name if app else '?'} → {capability.name}",
                    "/portal/provider",
                    N_("home.do.decide"),
                    reference=capability.code,
                )
            )
    return work


def figures(session: Session) -> dict[str, int]:
    published = (
        select(func.count()).select_from(Capability).where(Capability.status == CapabilityStatus.PUBLISHED)
    )
    day_start = datetime.combine(utcnow().astimezone(CITY_ZONE).date(), time(), tzinfo=CITY_ZONE)
    calls = sum(row.calls for row in CapabilityRepository(session).usage(day_start))
    return {"capabilities.published": session.scalar(published) or 0, "capabilities.calls_today": calls}


def usage(session: Session, actor: Principal, hours: int) -> list[UsageRow]:
    """Calls, errors and latency percentiles per app and capability over the last ``hours``."""
    repo = CapabilityRepository(session)
    scope = None
    if not actor.sees_all_departments:
        apps = [app.code for app in repo.apps(actor)]
        mine = [c.code for c in repo.capabilities(actor) if c.provider_department_id == actor.department_id]
        scope = (apps, mine)
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in repo.usage(utcnow() - timedelta(hours=hours), scope):
        entry = totals.setdefault(
            (row.app_code, row.capability_code),
            {"calls": 0, "errors": 0, "buckets": [0] * len(BUCKETS_MS), "statuses": {}},
        )
        entry["calls"] += row.calls
        entry["errors"] += row.errors
        entry["buckets"] = [a + b for a, b in zip(entry["buckets"], row.latency_buckets, strict=False)]
        for status, count in row.statuses.items():
            entry["statuses"][status] = entry["statuses"].get(status, 0) + count
    return [
        UsageRow(
            app=app,
            capability=capability,
            calls=entry["calls"],
            errors=entry["errors"],
            p50_ms=percentile(entry["buckets"], 0.50),
            p95_ms=percentile(entry["buckets"], 0.95),
            p99_ms=percentile(entry["buckets"], 0.99),
            statuses=entry["statuses"],
        )
        for (app, capability), entry in sorted(totals.items())
    ]


def percentile(buckets: list[int], fraction: float) -> float | None:
    """The bucket upper bound (ms) under which ``fraction`` of the calls finished (None: no calls)."""
    total = sum(buckets)
    if total == 0:
        return None
    needed, seen = fraction * total, 0
    for count, bound in zip(buckets, BUCKETS_MS, strict=False):
        seen += count
        if seen >= needed:
            return bound if bound != float("inf") else BUCKETS_MS[-2]
    return BUCKETS_MS[-2]
