"""Proxied capabilities: forwarding, masking, validation, time budget, retries, garbage, resets, and the
circuit breaker that opens, lets a health check through and recovers — while other capabilities serve."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import CAP, Credentials, call, new_app, new_key, subscribe
from tests.gateway.upstreams import Backend, backend, resetting
from zhongtai.core.settings import Settings

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # gateway logic, not storage


def proxy(client: TestClient, world: World, code: str, url: str, **extra: Any) -> None:
    body: dict[str, Any] = {
        "code": code,
        "name": f"代理 {code}",
        "kind": "proxy",
        "operation": "proxy",
        "upstream_url": url,
        "methods": ["GET", "POST"],
        "masked_fields": {"phone": "mobile"},
        "timeout_ms": 1000,
        "breaker_failures": 3,
        "breaker_reset_seconds": 1,
    }
    body.update(extra)
    made = client.post(CAP, json=body, headers=world.auth("developer_a"))
    assert made.status_code == 201, made.text
    refused = client.post(
        f"{CAP}/{code}/actions", json={"action": "publish"}, headers=world.auth("officer_a")
    )
    assert refused.status_code == 403  # the bureau publishes proxies: it reviews where requests go
    published = client.post(f"{CAP}/{code}/actions", json={"action": "publish"}, headers=world.auth("admin"))
    assert published.status_code == 200, published.text


def wired(client: TestClient, world: World, *capabilities: str) -> Credentials:
    app = new_app(client, world)
    for capability in capabilities:
        subscribe(client, world, app, capability)
    return new_key(client, world, app)


@pytest.fixture
def upstream() -> Any:
    with backend() as running:
        yield running


def test_forwarded_masked_and_never_carrying_the_signature(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, upstream: Backend
) -> None:
    proxy(client, world, "gaj.echo", upstream.url + "/echo")
    key = wired(client, world, "gaj.echo")
    answer = call(client, key, "POST", "/gw/gaj.echo/a/b?q=1", {"x": 1})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["path"] == "a/b" and data["query"] == "q=1" and data["body"] == '{"x": 1}'
    assert data["app"] == "wjw-health-code" and data["purpose"] == "epidemic.health-code"
    assert data["signature"] is None  # the caller's credentials stay at the gateway
    assert data["phone"] == "138****5678" and data["items"][0]["phone"] == "139****1111"
    climbing = call(client, key, "GET", "/gw/gaj.echo/a/%2e%2e/%2e%2e/health")
    assert climbing.status_code == 422 and upstream.calls.get("health") is None


def test_request_schema_deep_json_and_size(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, upstream: Backend
) -> None:
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "maxLength": 18}}}
    proxy(client, world, "gaj.echo", upstream.url + "/echo", request_schema=schema)
    key = wired(client, world, "gaj.echo")
    bad = call(client, key, "POST", "/gw/gaj.echo/x", {"id": 42})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "schema_violation"
    deep: Any = "leaf"
    for _ in range(50):
        deep = [deep]
    nested = call(client, key, "POST", "/gw/gaj.echo/x", {"id": "1", "deep": deep})
    assert nested.status_code == 422 and nested.json()["error"]["code"] == "too_deep"
    huge = call(client, key, "POST", "/gw/gaj.echo/x", {"id": "1", "pad": "x" * (2 * 1024 * 1024)})
    assert huge.status_code == 413
    assert upstream.calls.get("echo", 0) == 0  # nothing invalid reached the backend


def test_hang_garbage_500_and_reset_become_504_502(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, upstream: Backend
) -> None:
    # Each attempt waits a full second: on a loaded CI machine a retry took over 300 ms to reach the
    # backend's handler, and the count below is what the backend saw.
    proxy(client, world, "gaj.root", upstream.url, timeout_ms=1000, breaker_failures=50)
    with resetting() as reset_url:
        proxy(client, world, "gaj.reset", reset_url)
        key = wired(client, world, "gaj.root", "gaj.reset")
        hanging = call(client, key, "GET", "/gw/gaj.root/slow")
        assert hanging.status_code == 504 and hanging.json()["error"]["code"] == "upstream_timeout"
        assert upstream.calls["slow"] == 3  # an idempotent call is tried again within the budget
        posted = call(client, key, "POST", "/gw/gaj.root/slow", {})
        assert posted.status_code == 504 and upstream.calls["slow"] == 4  # a POST never is
        garbage = call(client, key, "GET", "/gw/gaj.root/garbage")
        assert garbage.status_code == 502 and garbage.json()["error"]["code"] == "upstream_garbage"
        wrong_path = call(client, key, "GET", "/gw/gaj.root/no-such-path")  # the backend's plain-text 404
        assert wrong_path.status_code == 404 and wrong_path.json()["error"]["code"] == "upstream_refused"
        failing = call(client, key, "GET", "/gw/gaj.root/fail")
        assert failing.status_code == 502 and failing.json()["error"]["code"] == "upstream_error"
        assert upstream.calls["fail"] == 1  # a 500 is the backend's answer, not a transient failure
        reset = call(client, key, "GET", "/gw/gaj.reset/x")
        assert reset.status_code == 502 and reset.json()["error"]["code"] == "upstream_unreachable"


def test_breaker_opens_probes_health_and_recovers_while_others_serve(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, upstream: Backend
) -> None:
    proxy(client, world, "gaj.flaky", upstream.url + "/echo", health_path="/health", breaker_failures=3)
    proxy(client, world, "gaj.steady", upstream.url + "/echo", breaker_failures=3)
    key = wired(client, world, "gaj.flaky", "gaj.steady")
    upstream.healthy = False
    statuses = [call(client, key, "POST", "/gw/gaj.flaky/x", {}).status_code for _ in range(3)]
    assert statuses == [502, 502, 502]
    opened = call(client, key, "POST", "/gw/gaj.flaky/x", {})
    assert opened.status_code == 503 and opened.json()["error"]["code"] == "circuit_open"
    assert 1 <= int(opened.headers["retry-after"]) <= 2
    echo_calls = upstream.calls["echo"]
    assert call(client, key, "POST", "/gw/gaj.flaky/x", {}).status_code == 503
    assert upstream.calls["echo"] == echo_calls  # an open breaker spares the backend
    upstream.healthy = True
    assert call(client, key, "POST", "/gw/gaj.steady/x", {}).status_code == 200  # others keep serving
    time.sleep(1.1)
    recovered = call(client, key, "POST", "/gw/gaj.flaky/x", {})
    assert recovered.status_code == 200, recovered.text
    assert upstream.calls.get("health", 0) >= 1  # the trial began with a health check


def test_try_it_sends_the_method_and_sub_path_a_proxied_capability_documents(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, upstream: Backend
) -> None:
    from tests.core.test_identity import login
    from tests.ingest.test_pages import post_form

    proxy(client, world, "gaj.echo", upstream.url + "/echo", methods=["GET"])
    wired(client, world, "gaj.echo")
    assert login(client, "developer_c") == 303
    page = client.get("/portal/capabilities/gaj.echo").text
    assert 'name="method" value="GET"' in page and '<textarea name="body"' not in page  # GET: no body
    tried = post_form(
        client,
        "/portal/capabilities/gaj.echo/try",
        "/portal/capabilities/gaj.echo",
        {"app": "wjw-health-code", "method": "GET", "path": "certificates/42"},
    )
    assert tried.status_code == 200  # type: ignore[attr-defined]
    assert "GET /gw/gaj.echo/certificates/42" in tried.text and "HTTP 200" in tried.text  # type: ignore[attr-defined]
    assert "certificates/42" in tried.text.split('id="try-result"')[1]  # type: ignore[attr-defined]
    wrong = post_form(
        client,
        "/portal/capabilities/gaj.echo/try",
        "/portal/capabilities/gaj.echo",
        {"app": "wjw-health-code", "method": "DELETE", "path": "x"},
    )
    assert wrong.status_code == 422  # type: ignore[attr-defined]
