"""Developer portal (开发者门户): published capabilities with docs rendered from their OpenAPI, "try it"
signed with the app's key, apps with their keys, subscriptions and usage; the provider's queue."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from zhongtai.capabilities import auth, openapi, service
from zhongtai.capabilities.models import (
    App,
    CapabilityKind,
    KeyAlgorithm,
    KeyStatus,
    Operation,
    SubscriptionStatus,
)
from zhongtai.capabilities.repository import CapabilityRepository
from zhongtai.capabilities.schemas import (
    AppCreate,
    CapabilityCreate,
    KeyCreate,
    KeyCreated,
    SubscriptionCreate,
)
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Invalid
from zhongtai.core.http import AppSettings, DbSession, RowId
from zhongtai.core.principal import Principal
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, valid_form
from zhongtai.gateway.client import GatewaySigner

router = APIRouter(include_in_schema=False)
TRY_TIMEOUT = 15.0


@router.get("/portal")
def portal(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    rows = CapabilityRepository(session).capabilities(page.principal)
    may_register = page.principal.department_id is not None and auth.may_register_capability(
        page.principal, page.principal.department_id
    )
    return page.render(
        "portal.html",
        capabilities=[service.capability_view(session, page.principal, c) for c in rows],
        may_register=may_register or page.principal.is_operator,
        kinds=[kind.value for kind in CapabilityKind],
        operations=[operation.value for operation in Operation],
    )


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


@router.post("/portal/capabilities")
def register(page: SignedInPage, form: Form, session: DbSession) -> Response:
    """Register a capability (a draft) from the portal's form; its page then offers publishing."""
    check_csrf(page, form)
    assert page.principal is not None
    values: dict[str, Any] = {
        "code": form_str(form, "code"),
        "name": form_str(form, "name"),
        "description": form_str(form, "description"),
        "kind": form_str(form, "kind"),
        "operation": form_str(form, "operation"),
    }
    optional = {
        "provider": form_str(form, "provider"),
        "resource": form_str(form, "resource"),
        "key_item": form_str(form, "key_item"),
        "upstream_url": form_str(form, "upstream_url"),
        "health_path": form_str(form, "health_path"),
    }
    values.update({name: value for name, value in optional.items() if value})
    values["verify_items"] = _listed(form_str(form, "verify_items"))
    values["methods"] = _listed(form_str(form, "methods").upper())
    capability = service.register(session, page.principal, valid_form(CapabilityCreate, values))
    code = capability.code
    session.commit()
    return RedirectResponse(f"/portal/capabilities/{code}", status_code=303)


def _try_apps(session: Session, page_principal: Principal, capability_id: int) -> list[dict[str, Any]]:
    """The reader's apps subscribed to the capability and holding an HMAC key (the portal signs with it)."""
    repo = CapabilityRepository(session)
    found = []
    for app in repo.apps(page_principal):
        if not auth.may_manage_app(page_principal, app):
            continue
        subscription = repo.subscription_of(app.id, capability_id)
        keys = [k for k in repo.keys(app.id) if k.status is KeyStatus.ACTIVE and k.secret_sealed]
        if subscription and subscription.status is SubscriptionStatus.APPROVED and keys:
            found.append({"code": app.code, "purpose": subscription.purpose, "key_id": keys[-1].key_id})
    return found


@router.get("/portal/capabilities/{code}")
def capability(page: SignedInPage, session: DbSession, request: Request, code: str) -> Response:
    assert page.principal is not None
    found = service.visible_capability(session, page.principal, code)
    document = openapi.document(session, found, str(request.base_url).rstrip("/"))
    return page.render(
        "portal_capability.html",
        c=service.capability_view(session, page.principal, found),
        doc=document,
        operations=_operations(document),
        apps=_try_apps(session, page.principal, found.id),
        may_manage=auth.may_manage_capability(page.principal, found),
        may_publish=auth.may_publish(page.principal, found),
        needs_body=any(op["method"] in BODY_METHODS for op in _operations(document)),
        result=None,
    )


BODY_METHODS = ("POST", "PUT", "PATCH")


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The OpenAPI paths flattened for the template: parameters, body fields, answer fields, errors."""
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "parameters": op.get("parameters", []),
                    "body": body.get("properties", {}),
                    "required": body.get("required", []),
                    "answer": json.dumps(ok, ensure_ascii=False, indent=2),
                    "errors": {k: v["description"] for k, v in op["responses"].items() if k != "200"},
                }
            )
    return found


@router.post("/portal/capabilities/{code}/actions")
def capability_action(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    action = form_str(form, "action")
    if action not in ("publish", "deprecate", "retire"):
        raise Invalid(M_("unknown action"), field="action")
    service.act_on_capability(session, page.principal, code, action)
    session.commit()
    return RedirectResponse(f"/portal/capabilities/{code}", status_code=303)


@router.post("/portal/capabilities/{code}/try")
async def try_it(
    page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, request: Request, code: str
) -> Response:
    """Sign a call with the chosen app's newest HMAC key and send it through the gateway."""
    check_csrf(page, form)
    assert page.principal is not None
    found = service.visible_capability(session, page.principal, code)
    choice = next(
        (a for a in _try_apps(session, page.principal, found.id) if a["code"] == form_str(form, "app")), None
    )
    if choice is None:
        raise Invalid(M_("choose one of your apps subscribed to this capability"), field="app")
    key = CapabilityRepository(session).key_by_id(choice["key_id"])
    assert key is not None  # _try_apps found it a moment ago in this transaction
    secret = SecretBox(settings).open(key.secret_sealed or "")
    document = openapi.document(session, found, str(request.base_url).rstrip("/"))
    documented = [op["method"] for op in _operations(document)]
    method = form_str(form, "method").upper() or documented[0]
    if method not in documented:
        raise Invalid(
            M_("this capability answers %(allowed)s only", allowed="/".join(documented)), field="method"
        )
    needs_body = method in BODY_METHODS
    session.commit()  # end the read before the gateway writes its audit record (SQLite: one writer)
    signer = GatewaySigner(
        key.key_id, choice["purpose"], secret=secret, end_user=form_str(form, "end_user") or None
    )
    target = f"/gw/{code}/{form_str(form, 'path').lstrip('/')}".rstrip("/")
    body = form_str(form, "body").encode() if needs_body else None
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url), auth=signer) as gateway:
        answer = await gateway.request(
            method, target, content=body, headers={"content-type": "application/json"}, timeout=TRY_TIMEOUT
        )
    result = {
        "method": method,
        "url": target,
        "status": answer.status_code,
        "body": _pretty(answer.text),
        "app": choice["code"],
        "key_id": key.key_id,
    }
    return page.render(
        "portal_capability.html",
        c=service.capability_view(session, page.principal, found),
        doc=document,
        operations=_operations(document),
        apps=[choice],
        may_manage=False,
        may_publish=False,
        needs_body=needs_body,
        result=result,
    )


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text[:2000]


@router.get("/portal/apps")
def apps(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    rows = CapabilityRepository(session).apps(page.principal)
    return page.render(
        "portal_apps.html",
        apps=[service.app_view(session, app) for app in rows],
        may_build=auth.may_build_apps(page.principal),
    )


@router.post("/portal/apps")
def create_app(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(
        AppCreate,
        {
            "code": form_str(form, "code"),
            "name": form_str(form, "name"),
            "description": form_str(form, "description"),
        },
    )
    app = service.create_app(session, page.principal, data)
    code = app.code
    session.commit()
    return RedirectResponse(f"/portal/apps/{code}", status_code=303)


def _app_page(page: SignedInPage, session: Session, app: App, created: KeyCreated | None = None) -> Response:
    assert page.principal is not None
    repo = CapabilityRepository(session)
    subscriptions = [service.subscription_view(session, s) for s in repo.subscriptions(app_id=app.id)]
    usage = [row for row in service.usage(session, page.principal, 24) if row.app == app.code]
    published = [c.code for c in repo.capabilities(page.principal) if c.status.value == "published"]
    return page.render(
        "portal_app.html",
        a=service.app_view(session, app),
        keys=[service.key_view(k) for k in repo.keys(app.id)]
        if auth.may_manage_app(page.principal, app)
        else [],
        subscriptions=subscriptions,
        usage=usage,
        capabilities=published,
        may_manage=auth.may_manage_app(page.principal, app),
        created=created,
    )


@router.get("/portal/apps/{code}")
def app_page(page: SignedInPage, session: DbSession, code: str) -> Response:
    """The app; right after a new key was made, its secret (or generated private key) this once."""
    assert page.principal is not None
    app = service.visible_app(session, page.principal, code)
    flash = page.take_secret()
    return _app_page(page, session, app, KeyCreated.model_validate(flash) if flash else None)


@router.post("/portal/apps/{code}/keys")
def create_key(
    page: SignedInPage, form: Form, session: DbSession, settings: AppSettings, code: str
) -> Response:
    """A new key; its secret (or generated private key) goes to the app's page, shown there once."""
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(KeyCreate, {"algorithm": form_str(form, "algorithm") or KeyAlgorithm.HMAC_SHA256.value})
    created = service.create_key(session, settings, page.principal, code, data)
    app_code = service.managed_app(session, page.principal, code).code
    session.commit()
    return page.redirect_with_secret(f"/portal/apps/{app_code}", created.model_dump(mode="json"))


@router.post("/portal/apps/{code}/keys/{key_id}/revoke")
def revoke_key(page: SignedInPage, form: Form, session: DbSession, code: str, key_id: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.revoke_key(session, page.principal, code, key_id)
    session.commit()
    return RedirectResponse(f"/portal/apps/{code}", status_code=303)


@router.post("/portal/apps/{code}/subscriptions")
def subscribe(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    data = valid_form(
        SubscriptionCreate, {"capability": form_str(form, "capability"), "purpose": form_str(form, "purpose")}
    )
    service.subscribe(session, page.principal, code, data)
    session.commit()
    return RedirectResponse(f"/portal/apps/{code}", status_code=303)


@router.get("/portal/provider")
def provider(page: SignedInPage, session: DbSession) -> Response:
    """Subscriptions to the reader's department's capabilities, and the calls they receive."""
    assert page.principal is not None
    queue = [service.subscription_view(session, s) for s in service.provider_queue(session, page.principal)]
    return page.render("portal_provider.html", queue=queue, usage=service.usage(session, page.principal, 24))


@router.post("/portal/subscriptions/{subscription_id}")
def decide(page: SignedInPage, form: Form, session: DbSession, subscription_id: RowId) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    action = form_str(form, "action")
    if action not in ("approve", "reject", "cancel"):
        raise Invalid(M_("unknown action"), field="action")
    service.decide(session, page.principal, subscription_id, action, form_str(form, "reason"))
    session.commit()
    return RedirectResponse("/portal/provider", status_code=303)
