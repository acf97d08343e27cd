"""Who may call what: every platform API route refuses a caller without credentials; the gateway refuses
another app's credentials, an app without a subscription, a department without a grant, and a grant that
was revoked — at once; every refusal of a known app is in the audit trail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import APPS, CAP, answering, build, call, new_app, new_key, subscribe
from tests.sharing.helpers import id_number
from zhongtai.core.audit import ACCESS, AuditEvent
from zhongtai.core.settings import Settings
from zhongtai.sharing.models import Grant

# Public on purpose: signing in, the health code trust list (certificates only, for offline verifiers), and
# verifying a licence its holder shows (a signed code answers only what it already says, holder masked),
# and the public release of the risk-crowd figures (noised once a day, small counts hidden).
PUBLIC = {
    "/api/v1/auth/login",
    "/api/v1/healthcode/trust-list",
    "/api/v1/licences/verify",
    "/api/v1/screen/profile/public",
}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0).endswith("id}") else "abc", path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_platform_route_refuses_a_caller_without_credentials(client: TestClient) -> None:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/") or path in PUBLIC:
            continue
        for method in operations:
            answer = client.request(method.upper(), concrete(path), json={})
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json()["error"]["code"] in ("unauthenticated", "invalid_token")
            checked += 1
    assert checked > 60  # the whole API, capabilities included


def test_gateway_refuses_other_apps_unsubscribed_and_ungranted(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    path = f"/gw/person.by-id/{id_number(1)}"
    # MZJ's app: subscribed (GAJ approves) but MZJ holds no grant for the resource
    other = new_app(client, world, code="mzj-marriage", who="developer_b")
    other_key = new_key(client, world, other, who="developer_b")
    unsubscribed = call(client, other_key, "GET", path)
    assert unsubscribed.status_code == 403 and unsubscribed.json()["error"]["code"] == "not_subscribed"
    subscribe(client, world, other, "person.by-id", who="developer_b")
    ungranted = call(client, other_key, "GET", path)
    assert ungranted.status_code == 403 and ungranted.json()["error"]["code"] == "no_grant"
    # another department may not touch WJW's app: not its keys, not its subscriptions
    assert (
        client.post(f"{APPS}/{setup.app}/keys", json={}, headers=world.auth("developer_b")).status_code == 404
    )
    assert client.get(f"{APPS}/{setup.app}/keys", headers=world.auth("developer_b")).status_code == 404
    assert (
        client.delete(
            f"{APPS}/{setup.app}/keys/{setup.credentials.key_id}", headers=world.auth("developer_b")
        ).status_code
        == 404
    )
    # nor approve subscriptions to GAJ's capabilities, nor publish them
    queue = client.get("/api/v1/capability-subscriptions", headers=world.auth("reviewer_a")).json()
    assert queue and all(s["capability"].startswith("person.") for s in queue)
    assert client.get("/api/v1/capability-subscriptions", headers=world.auth("developer_b")).json() == []
    assert (
        client.post(
            f"{CAP}/person.by-id/actions", json={"action": "retire"}, headers=world.auth("developer_b")
        ).status_code
        == 403
    )


def test_revoking_the_grant_stops_the_next_call(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup, path = answering(client, factory, settings, world)
    with factory() as session:
        grant_id = session.scalars(select(Grant.id)).one()
    revoked = client.post(
        f"/api/v1/sharing/grants/{grant_id}/revoke",
        json={"reason": "用途已结束"},
        headers=world.auth("reviewer_a"),
    )
    assert revoked.status_code == 200, revoked.text
    refused = call(client, setup.credentials, "GET", path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_grant"
    suspended_subscription = client.get(
        f"{APPS}/{setup.app}/subscriptions", headers=world.auth("developer_c")
    )
    cancel = next(s for s in suspended_subscription.json() if s["capability"] == "person.list")
    assert (
        client.post(
            f"/api/v1/capability-subscriptions/{cancel['id']}/actions",
            json={"action": "cancel"},
            headers=world.auth("developer_c"),
        ).status_code
        == 200
    )
    assert (
        call(client, setup.credentials, "GET", "/gw/person.list").json()["error"]["code"] == "not_subscribed"
    )
    with factory() as session:
        outcomes = list(
            session.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.chain == ACCESS, AuditEvent.event_type == "gateway.call"
                )
            )
        )
    assert outcomes == ["success", "denied", "denied"]  # one record per call, refusals included


def test_keys_rotate_without_downtime_and_ed25519_works(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    path = f"/gw/person.by-id/{id_number(1)}"
    second = new_key(client, world, setup.app, algorithm="ed25519")
    assert second.private_pem and "PRIVATE KEY" in second.private_pem
    assert call(client, setup.credentials, "GET", path).status_code == 200
    assert call(client, second, "GET", path).status_code == 200  # both keys work during rotation
    client.delete(f"{APPS}/{setup.app}/keys/{setup.credentials.key_id}", headers=world.auth("developer_c"))
    assert call(client, setup.credentials, "GET", path).status_code == 401
    assert call(client, second, "GET", path).status_code == 200
    listed = client.get(f"{APPS}/{setup.app}/keys", headers=world.auth("developer_c")).json()
    assert {k["status"] for k in listed} == {"active", "revoked"}
    assert all("secret" not in k and "private_key" not in k for k in listed)  # shown once, never again


def test_the_bureau_suspends_an_app_and_its_calls_stop_at_once(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup, path = answering(client, factory, settings, world)
    own = client.post(
        f"{APPS}/{setup.app}/actions", json={"action": "suspend"}, headers=world.auth("developer_c")
    )
    assert own.status_code == 403  # not the app's own department's call
    suspended = client.post(
        f"{APPS}/{setup.app}/actions", json={"action": "suspend"}, headers=world.auth("admin")
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    refused = call(client, setup.credentials, "GET", path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "app_suspended"
    client.post(f"{APPS}/{setup.app}/actions", json={"action": "resume"}, headers=world.auth("admin"))
    assert call(client, setup.credentials, "GET", path).status_code == 200


def test_capability_registration_refuses_what_cannot_work(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Each refusal names its field: another department's resource, a key without a base feed, unknown
    catalog entries, a proxy without a backend, a schema that is not one, a duplicate code."""
    setup = build(client, factory, settings, world)
    base = {"name": "测试能力", "kind": "data", "operation": "lookup", "resource": setup.resource}
    cases = [
        ("developer_b", {**base, "code": "x.other", "key_item": "公民身份号码"}, "resource"),
        ("developer_a", {**base, "code": "x.nokey", "key_item": "姓名"}, "key_item"),
        (
            "developer_a",
            {**base, "code": "x.cat", "operation": "list", "catalog_codes": ["NOPE"]},
            "catalog_codes",
        ),
        (
            "developer_a",
            {"code": "x.proxy", "name": "代理", "kind": "proxy", "operation": "proxy"},
            "upstream_url",
        ),
        (
            "developer_a",
            {
                "code": "x.schema",
                "name": "代理",
                "kind": "proxy",
                "operation": "proxy",
                "upstream_url": "http://10.0.0.1/",
                "request_schema": {"type": "objec"},
            },
            "request_schema",
        ),
        ("developer_a", {**base, "code": "x.kind", "operation": "proxy"}, "operation"),
    ]
    for who, body, field in cases:
        refused = client.post(CAP, json=body, headers=world.auth(who))
        assert refused.status_code == 422, (body["code"], refused.text)
        assert refused.json()["error"]["field"] == field, body["code"]
    duplicate = client.post(
        CAP,
        json={**base, "code": "person.by-id", "key_item": "公民身份号码"},
        headers=world.auth("developer_a"),
    )
    assert duplicate.status_code == 409
