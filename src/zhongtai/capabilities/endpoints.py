"""Capability platform REST API: capabilities (and their OpenAPI), apps, keys, subscriptions, usage.
The calls themselves go through the gateway at ``/gw/{code}/…`` (``zhongtai.gateway.app``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from zhongtai.capabilities import openapi, service
from zhongtai.capabilities.models import CapabilityStatus
from zhongtai.capabilities.repository import CapabilityRepository
from zhongtai.capabilities.schemas import (
    AppAction,
    AppCreate,
    AppRead,
    CapabilityAction,
    CapabilityCreate,
    CapabilityRead,
    CapabilityUpdate,
    KeyCreate,
    KeyCreated,
    KeyRead,
    SubscriptionCreate,
    SubscriptionDecision,
    SubscriptionRead,
    UsageRow,
)
from zhongtai.core.http import ApiPrincipal, AppSettings, DbSession, RowId

router = APIRouter(prefix="/api/v1", tags=["capabilities"])
Code = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
KeyId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,79}$")]


@router.post("/capabilities", response_model=CapabilityRead, status_code=201)
def register_capability(
    session: DbSession, principal: ApiPrincipal, body: CapabilityCreate
) -> CapabilityRead:
    """Register a capability (draft): a data service on a catalog resource, a proxied backend, or a
    platform service."""
    capability = service.register(session, principal, body)
    return service.capability_view(session, principal, capability)


@router.get("/capabilities", response_model=list[CapabilityRead])
def list_capabilities(
    session: DbSession, principal: ApiPrincipal, status: CapabilityStatus | None = None
) -> list[CapabilityRead]:
    """Published and deprecated capabilities, plus the caller's department's own drafts."""
    rows = CapabilityRepository(session).capabilities(principal, status)
    return [service.capability_view(session, principal, c) for c in rows]


@router.get("/capabilities/{code}", response_model=CapabilityRead)
def get_capability(session: DbSession, principal: ApiPrincipal, code: Code) -> CapabilityRead:
    return service.capability_view(session, principal, service.visible_capability(session, principal, code))


@router.get("/capabilities/{code}/openapi.json")
def capability_openapi(
    session: DbSession, principal: ApiPrincipal, request: Request, code: Code
) -> dict[str, Any]:
    """The capability's OpenAPI description (the developer portal renders it)."""
    capability = service.visible_capability(session, principal, code)
    return openapi.document(session, capability, str(request.base_url).rstrip("/"))


@router.patch("/capabilities/{code}", response_model=CapabilityRead)
def update_capability(
    session: DbSession, principal: ApiPrincipal, code: Code, body: CapabilityUpdate
) -> CapabilityRead:
    capability = service.update_capability(session, principal, code, body)
    return service.capability_view(session, principal, capability)


@router.post("/capabilities/{code}/actions", response_model=CapabilityRead)
def act_on_capability(
    session: DbSession, principal: ApiPrincipal, code: Code, body: CapabilityAction
) -> CapabilityRead:
    """publish / deprecate / retire."""
    capability = service.act_on_capability(session, principal, code, body.action)
    return service.capability_view(session, principal, capability)


@router.post("/apps", response_model=AppRead, status_code=201)
def create_app(session: DbSession, principal: ApiPrincipal, body: AppCreate) -> AppRead:
    """Register an app of the caller's department."""
    return service.app_view(session, service.create_app(session, principal, body))


@router.get("/apps", response_model=list[AppRead])
def list_apps(session: DbSession, principal: ApiPrincipal) -> list[AppRead]:
    return [service.app_view(session, app) for app in CapabilityRepository(session).apps(principal)]


@router.get("/apps/{code}", response_model=AppRead)
def get_app(session: DbSession, principal: ApiPrincipal, code: Code) -> AppRead:
    return service.app_view(session, service.visible_app(session, principal, code))


@router.post("/apps/{code}/actions", response_model=AppRead)
def app_action(session: DbSession, principal: ApiPrincipal, code: Code, body: AppAction) -> AppRead:
    """suspend / resume an app (operators): a suspended app's calls are refused at once."""
    return service.app_view(session, service.set_app_status(session, principal, code, body.action))


@router.post("/apps/{code}/keys", response_model=KeyCreated, status_code=201)
def create_key(
    session: DbSession, settings: AppSettings, principal: ApiPrincipal, code: Code, body: KeyCreate
) -> KeyCreated:
    """A new signing key (several may be active: rotate without downtime). The HMAC secret or a
    generated Ed25519 private key is in this answer only."""
    return service.create_key(session, settings, principal, code, body)


@router.get("/apps/{code}/keys", response_model=list[KeyRead])
def list_keys(session: DbSession, principal: ApiPrincipal, code: Code) -> list[KeyRead]:
    app = service.managed_app(session, principal, code)
    return [service.key_view(key) for key in CapabilityRepository(session).keys(app.id)]


@router.delete("/apps/{code}/keys/{key_id}", response_model=KeyRead)
def revoke_key(session: DbSession, principal: ApiPrincipal, code: Code, key_id: KeyId) -> KeyRead:
    """Revoke a key: the next call signed with it is refused on every gateway instance."""
    return service.key_view(service.revoke_key(session, principal, code, key_id))


@router.post("/apps/{code}/subscriptions", response_model=SubscriptionRead, status_code=201)
def subscribe(
    session: DbSession, principal: ApiPrincipal, code: Code, body: SubscriptionCreate
) -> SubscriptionRead:
    """Subscribe the app to a published capability for a purpose code (approved at once where the
    resource is shared unconditionally, else by the provider)."""
    return service.subscription_view(session, service.subscribe(session, principal, code, body))


@router.get("/apps/{code}/subscriptions", response_model=list[SubscriptionRead])
def app_subscriptions(session: DbSession, principal: ApiPrincipal, code: Code) -> list[SubscriptionRead]:
    app = service.visible_app(session, principal, code)
    rows = CapabilityRepository(session).subscriptions(app_id=app.id)
    return [service.subscription_view(session, s) for s in rows]


@router.get("/capability-subscriptions", response_model=list[SubscriptionRead])
def provider_queue(session: DbSession, principal: ApiPrincipal) -> list[SubscriptionRead]:
    """Subscriptions to the caller's department's capabilities (every one for the bureau)."""
    return [service.subscription_view(session, s) for s in service.provider_queue(session, principal)]


@router.post("/capability-subscriptions/{subscription_id}/actions", response_model=SubscriptionRead)
def decide(
    session: DbSession, principal: ApiPrincipal, subscription_id: RowId, body: SubscriptionDecision
) -> SubscriptionRead:
    """approve / reject (with a reason) by the provider or the bureau; cancel by either side."""
    subscription = service.decide(session, principal, subscription_id, body.action, body.reason)
    return service.subscription_view(session, subscription)


@router.get("/gateway/usage", response_model=list[UsageRow])
def usage(
    session: DbSession, principal: ApiPrincipal, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24
) -> list[UsageRow]:
    """Calls, errors and latency percentiles per app × capability that the caller may see."""
    return service.usage(session, principal, hours)
